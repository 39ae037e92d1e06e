"""A cluster of real containers on the real Docker engine, from `cluster up` to `cluster down`."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable

import docker
import requests

from cloudagent.ambari.client import AmbariClient
from cloudagent.dev.launch import LABEL, ClusterSpec, Launcher, Node
from cloudagent.dev.localcluster import wait_for
from cloudagent.topology import rack_from_hostname

GRACE = 8.0
# One PTR query per argument to the node's own dnsmasq, the answers one per line.
PTR_SCRIPT = """
import sys
import dns.resolver, dns.reversename
resolver = dns.resolver.Resolver(configure=False)
resolver.nameservers = ["127.0.0.1"]
for address in sys.argv[1:]:
    print(resolver.resolve(dns.reversename.from_address(address), "PTR")[0])
"""


def resolves(launcher: Launcher, observer: Node, target: Node) -> bool:
    code, out = launcher.exec(observer.name, ["getent", "hosts", target.fqdn])
    return code == 0 and out.split()[:2] == [target.address, target.fqdn]


def gone(launcher: Launcher, observer: Node, target: Node) -> bool:
    code, _ = launcher.exec(observer.name, ["getent", "hosts", target.fqdn])
    return code == 2  # getent: key not found


def status(launcher: Launcher, node: Node) -> dict[str, str]:
    _, out = launcher.exec(node.name, ["cloudagent", "status", "--json"])
    try:
        result: dict[str, str] = json.loads(out)
    except ValueError:
        return {}
    return result


def topology_is(
    launcher: Launcher, observer: Node, hosts: list[str], want: list[str]
) -> Callable[[], bool]:
    def check() -> bool:
        code, out = launcher.exec(observer.name, ["cloudagent-topology", *hosts])
        return code == 0 and out.split() == want

    return check


def ambari_racks(server: Node) -> dict[str, str]:
    items = requests.get(
        f"http://{server.address}:8080/api/v1/hosts",
        params={"fields": "Hosts/rack_info"},
        auth=("admin", "admin"),
        timeout=10,
    ).json()["items"]
    return {i["Hosts"]["host_name"]: i["Hosts"]["rack_info"] for i in items}


def test_cluster_up_provision_add_stop_kill_down(
    launcher: Launcher, image: str, engine: docker.DockerClient
) -> None:
    prefix = f"e2e{os.getpid()}-n"
    spec = ClusterSpec(
        nodes=4,
        image=image,
        prefix=prefix,
        blueprint="multi-node-hdfs-yarn",
        dns_upstream="none",
        task_seconds=1.0,
        env={"CLOUDAGENT_FAILED_GRACE": f"{GRACE:g}s"},
    )
    started = time.monotonic()
    nodes = launcher.up(spec, timeout=120)
    print(f"cluster up (4 nodes, all resolving): {time.monotonic() - started:.1f}s")
    assert len(nodes) == 4
    # Forward and reverse inside every container, through its own dnsmasq.
    assert launcher.resolution_gaps(nodes) == []
    # PTR straight from each node's dnsmasq (dnspython in the image; the image has no dig).
    for observer in nodes:
        argv = ["/opt/cloudagent/bin/python3", "-c", PTR_SCRIPT, *(t.address for t in nodes)]
        code, out = launcher.exec(observer.name, argv)
        assert code == 0, (observer.name, out)
        assert out.split() == [f"{t.fqdn}." for t in nodes], observer.name

    # Closed by default: a gossip key was generated, reaches the nodes as a mounted 0600 file
    # (not in `docker inspect`'s environment), and a serf without it cannot join.
    key = launcher.key_file(prefix).read_text().strip()
    assert launcher.key_file(prefix).stat().st_mode & 0o777 == 0o600
    for node in nodes:
        attrs = engine.containers.get(node.name).attrs
        assert not any(key in variable for variable in attrs["Config"]["Env"])
        assert key not in " ".join(attrs["Args"])
    intruder = engine.containers.run(
        image,
        entrypoint=["serf"],
        command=["agent", "-node", "intruder", "-join", nodes[0].address, "-tag", "role=server"],
        name=f"{prefix}-intruder",
        network=spec.network,
        labels={LABEL: prefix},
        detach=True,
    )
    try:
        assert intruder.wait(timeout=60)["StatusCode"] != 0
    finally:
        intruder.remove(force=True)
    assert (
        _member(launcher, nodes[1], Node("intruder", "intruder.cluster.internal", "", "", "", 0))
        == {}
    )
    code, _ = launcher.exec(nodes[0].name, ["serf", "members"])
    assert code != 0  # serf's RPC wants the token the agent generated; cloudagent reads it

    # Every container is on the engine's rack, in every container's topology table.
    rack = rack_from_hostname(engine.info()["Name"])
    hosts = [h for n in nodes for h in (n.fqdn, n.address)] + ["stranger.example"]
    want = [rack] * (len(hosts) - 1) + ["/default-rack"]
    for observer in nodes:
        wait_for(
            topology_is(launcher, observer, hosts, want),
            timeout=10,
            interval=0.2,
            what=f"{observer.name}'s topology",
        )

    # The blueprint is provisioned on the emulator; every host under the name our DNS serves.
    server = nodes[0]
    wait_for(
        lambda: status(launcher, nodes[2]).get("phase") == "completed",
        timeout=90,
        interval=0.5,
        what="cluster provisioned",
    )
    print(f"provisioned: {time.monotonic() - started:.1f}s after the first start")
    ambari = AmbariClient(f"http://{server.address}:8080", retries=0)
    assert sorted(h.name for h in ambari.hosts()) == sorted(n.fqdn for n in nodes)
    assert sorted(ambari.cluster_hosts("hadoop")) == sorted(n.fqdn for n in nodes)
    # Ambari got each host's rack from the cluster template.
    assert ambari_racks(server) == {n.fqdn: rack for n in nodes}

    # A fifth node: resolves everywhere and joins the Ambari cluster by scale-up.
    added = launcher.add(spec, timeout=120)
    nodes = launcher.nodes(prefix)
    assert launcher.resolution_gaps(nodes) == []
    wait_for(
        lambda: added.fqdn in ambari.cluster_hosts("hadoop"),
        timeout=60,
        interval=0.5,
        what="fifth node added to the Ambari cluster",
    )
    assert ambari_racks(server)[added.fqdn] == rack  # from the scale-up request

    # docker stop: graceful leave, exit 0, gone from every other node's DNS in a second or two.
    leaver = next(n for n in nodes if n.index == 4)
    rest = [n for n in nodes if n.name != leaver.name]
    stop_at = time.monotonic()
    engine.containers.get(leaver.name).stop(timeout=20)
    stopped = time.monotonic() - stop_at
    assert engine.containers.get(leaver.name).attrs["State"]["ExitCode"] == 0
    wait_for(
        lambda: all(gone(launcher, o, leaver) for o in rest),
        timeout=5,
        interval=0.1,
        what="stopped node gone everywhere",
    )
    print(
        f"docker stop took {stopped:.1f}s; gone everywhere {time.monotonic() - stop_at:.1f}s after"
    )

    # docker kill: peers see it failed; it stays resolvable for the grace period, then goes.
    victim = next(n for n in nodes if n.index == 3)
    observers = [n for n in rest if n.name != victim.name]
    engine.containers.get(victim.name).kill()
    killed_at = time.monotonic()
    assert all(resolves(launcher, o, victim) for o in observers)
    wait_for(
        lambda: '"status": "failed"' in json.dumps(_member(launcher, server, victim)),
        timeout=30,
        interval=0.5,
        what="killed node marked failed",
    )
    failed_after = time.monotonic() - killed_at
    assert all(resolves(launcher, o, victim) for o in observers), "dropped before the grace ended"
    wait_for(
        lambda: all(gone(launcher, o, victim) for o in observers),
        timeout=GRACE + 10,
        interval=0.2,
        what="killed node removed after the grace period",
    )
    removed_after = time.monotonic() - killed_at
    assert removed_after >= failed_after + GRACE - 2.0
    print(f"docker kill: failed after {failed_after:.1f}s, removed after {removed_after:.1f}s")

    # Stopping the server stops the Ambari emulator it runs, and exits 0.
    engine.containers.get(server.name).stop(timeout=20)
    state = engine.containers.get(server.name).attrs["State"]
    assert state["ExitCode"] == 0
    assert "stopped" in engine.containers.get(server.name).logs().decode()

    removed, networks = launcher.down(prefix)
    assert (removed, networks) == (5, 1)
    assert not engine.containers.list(all=True, filters={"label": f"{LABEL}={prefix}"})
    assert not engine.networks.list(filters={"label": f"{LABEL}={prefix}"})


def _member(launcher: Launcher, observer: Node, target: Node) -> dict[str, str]:
    code, out = launcher.exec(observer.name, ["cloudagent", "members", "--json"])
    for row in json.loads(out)["members"] if code == 0 else []:
        if row["fqdn"] == target.fqdn:
            return dict(row)
    return {}
