"""A real ZooKeeper ensemble (Debian's 3.8) on real containers, resolving only through our DNS.

ZooKeeper peers are named by FQDN; when a container comes back with a new address, the others
must find it again through DNS, and so must every JVM. The tests run in order on one cluster:
formation, a znode across servers, the JVM resolver, then an IP change of a follower and of
the leader. Each phase prints the time it took.
"""

from __future__ import annotations

import io
import os
import tarfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import docker
import pytest
from docker.models.containers import Container

from cloudagent.dev.launch import ClusterSpec, Launcher, Node
from cloudagent.dev.localcluster import wait_for

PREFIX = f"e2e{os.getpid()}-zk"
DOMAIN = "zk.internal"
ZKCLI = "/usr/share/zookeeper/bin/zkCli.sh"
RESOLVE_JAVA = Path(__file__).parent / "java" / "Resolve.java"
SRVR = (
    "import socket; s = socket.create_connection(('127.0.0.1', 2181), 2); s.sendall(b'srvr'); "
    "print(s.makefile(errors='replace').read())"
)
ZNODE = "/cloudagent-e2e"


@dataclass
class Cluster:
    launcher: Launcher
    engine: docker.DockerClient
    spec: ClusterSpec
    servers: list[str]  # container names of the ZooKeeper nodes
    client: str
    squatters: list[Container]

    def node(self, name: str) -> Node:
        return next(n for n in self.launcher.nodes(PREFIX) if n.name == name)


def mode(launcher: Launcher, name: str) -> str | None:
    """``Mode:`` from ZooKeeper's srvr four-letter word on 127.0.0.1:2181 in that container."""
    code, out = launcher.exec(name, ["python3", "-c", SRVR])
    if code != 0:
        return None
    return next(
        (line.split(":", 1)[1].strip() for line in out.splitlines() if line.startswith("Mode:")),
        None,
    )


def modes(cluster: Cluster) -> dict[str, str | None]:
    return {name: mode(cluster.launcher, name) for name in cluster.servers}


def formed(cluster: Cluster) -> bool:
    found = sorted(str(m) for m in modes(cluster).values())
    return found == ["follower", "follower", "leader"]


def zkcli(cluster: Cluster, server: str, *command: str) -> str:
    code, out = cluster.launcher.exec(
        cluster.client, [ZKCLI, "-server", f"{server}.{DOMAIN}:2181", *command]
    )
    assert code == 0, out[-2000:]
    return out


@pytest.fixture(scope="module")
def cluster(zk_image: str, image: str, engine: docker.DockerClient) -> Iterator[Cluster]:
    launcher = Launcher(engine, say=lambda line: print(line, flush=True))
    # `cluster up --nodes 3 --image <zookeeper image>`: the launcher sees the image's label and
    # gives each node its id; nothing ZooKeeper-specific is passed here. Ambari is off to keep
    # the 2-core CI machine for the JVMs; the test network has no upstream resolver.
    spec = ClusterSpec(
        nodes=3, image=zk_image, prefix=PREFIX, domain=DOMAIN, ambari="off", dns_upstream="none"
    )
    made = Cluster(launcher, engine, spec, [], "", [])
    try:
        started = time.monotonic()
        nodes = launcher.up(spec, timeout=120)
        made.servers = [n.name for n in nodes]
        wait_for(lambda: formed(made), timeout=120, interval=1.0, what="ensemble formed")
        print(f"TIMING ensemble formed {time.monotonic() - started:.1f}s after cluster up began")
        # A client node: the same image with no ZooKeeper server (no id, no service command).
        client_spec = ClusterSpec(
            nodes=1,
            image=zk_image,
            prefix=PREFIX,
            domain=DOMAIN,
            ambari="off",
            dns_upstream="none",
            env={
                "CLOUDAGENT_ZK_ID": "",
                "CLOUDAGENT_ZK_ENSEMBLE": "",
                "CLOUDAGENT_SERVICE_COMMAND": "",
            },
        )
        made.client = launcher.add(client_spec, timeout=120).name
        yield made
    finally:
        for squatter in made.squatters:
            squatter.remove(force=True)
        launcher.down(PREFIX)


def test_ensemble_forms_and_serves_a_znode_across_servers(cluster: Cluster) -> None:
    found = modes(cluster)
    assert sorted(str(m) for m in found.values()) == ["follower", "follower", "leader"], found
    code, cfg = cluster.launcher.exec(
        cluster.servers[0], ["cat", "/var/lib/cloudagent/zookeeper/zoo.cfg"]
    )
    assert code == 0
    for index in (1, 2, 3):
        assert f"server.{index}={PREFIX}{index}.{DOMAIN}:2888:3888\n" in cfg  # names, no address
    assert _ps(cluster, cluster.client).count("QuorumPeerMain") == 0  # the client runs no server
    assert "Created " + ZNODE in zkcli(cluster, cluster.servers[0], "create", ZNODE, "over-our-dns")
    assert "over-our-dns" in zkcli(cluster, cluster.servers[2], "get", ZNODE).splitlines()


def _ps(cluster: Cluster, name: str) -> str:
    return cluster.launcher.exec(name, ["ps", "-eo", "args"])[1]


def _copy_resolver(cluster: Cluster, name: str) -> None:
    data = RESOLVE_JAVA.read_bytes()
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        info = tarfile.TarInfo("Resolve.java")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    cluster.engine.containers.get(name).put_archive("/tmp", buffer.getvalue())


def java_resolves(cluster: Cluster, name: str) -> tuple[int, str]:
    """Run Resolve.java in a fresh JVM in ``name`` against every member."""
    nodes = [n for n in cluster.launcher.nodes(PREFIX) if n.status == "running"]
    me = next(n for n in nodes if n.name == name)
    argv = [
        "java",
        "/tmp/Resolve.java",
        "127.0.0.1",
        me.fqdn,
        *(f"{n.fqdn}={n.address}" for n in nodes),
    ]
    return cluster.launcher.exec(name, argv)


def test_the_jvm_resolves_forward_reverse_and_jndi_ptr_through_our_dns(cluster: Cluster) -> None:
    for name in [cluster.client, *cluster.servers]:
        _copy_resolver(cluster, name)
        started = time.monotonic()
        code, out = java_resolves(cluster, name)
        print(f"{name}: Resolve.java in {time.monotonic() - started:.1f}s")
        assert code == 0, out
        assert out.count("ok jndi PTR ") == 4 and "ok self: " in out, out


def _stop(cluster: Cluster, name: str) -> str:
    """``docker stop`` (the agent leaves Serf, then stops ZooKeeper); returns the old address."""
    old = cluster.node(name).address
    container = cluster.engine.containers.get(name)
    container.stop(timeout=20)
    container.reload()
    assert container.attrs["State"]["ExitCode"] == 0, container.logs()[-3000:]
    return old


def _start_with_new_address(cluster: Cluster, name: str, old: str) -> tuple[str, float]:
    """Let another container take an address first, then start ``name``: a new address."""
    squatter = cluster.engine.containers.run(
        cluster.spec.image,
        entrypoint=["sleep", "600"],
        network=cluster.spec.network,
        detach=True,
        name=f"{PREFIX}-squat{len(cluster.squatters) + 1}",
    )
    cluster.squatters.append(squatter)
    started = time.monotonic()
    cluster.engine.containers.get(name).start()
    new = cluster.node(name).address
    assert new and new != old, f"{name} came back with its old address {old}"
    return new, started


def _resolvable_everywhere(cluster: Cluster, started: float, name: str) -> float:
    def done() -> bool:
        nodes = [n for n in cluster.launcher.nodes(PREFIX) if n.status == "running"]
        return len(nodes) == 4 and not cluster.launcher.resolution_gaps(nodes)

    wait_for(done, timeout=60, interval=0.5, what=f"{name}'s new address resolvable everywhere")
    return time.monotonic() - started


def test_a_follower_with_a_new_address_rejoins(cluster: Cluster) -> None:
    follower = next(n for n, m in modes(cluster).items() if m == "follower")
    old = _stop(cluster, follower)
    new, started = _start_with_new_address(cluster, follower, old)
    dns_after = _resolvable_everywhere(cluster, started, follower)
    wait_for(lambda: formed(cluster), timeout=120, interval=1.0, what="ensemble re-formed")
    zk_after = time.monotonic() - started
    assert mode(cluster.launcher, follower) == "follower"
    print(
        f"TIMING follower {follower} {old} -> {new}: resolvable everywhere {dns_after:.1f}s, "
        f"ensemble re-formed {zk_after:.1f}s after its start"
    )
    # A fresh JVM on another node sees the new address, forward and reverse.
    code, out = java_resolves(cluster, cluster.client)
    assert code == 0 and f"ok forward {follower}.{DOMAIN}: {new}" in out, out
    assert "over-our-dns" in zkcli(cluster, follower, "get", ZNODE).splitlines()


def test_the_leader_with_a_new_address_rejoins_as_follower(cluster: Cluster) -> None:
    leader = next(n for n, m in modes(cluster).items() if m == "leader")
    others = [n for n in cluster.servers if n != leader]
    old = _stop(cluster, leader)
    stopped = time.monotonic()
    wait_for(
        lambda: "leader" in [mode(cluster.launcher, n) for n in others],
        timeout=90,
        interval=1.0,
        what="a new leader among the other two",
    )
    elected = time.monotonic() - stopped
    new, started = _start_with_new_address(cluster, leader, old)
    dns_after = _resolvable_everywhere(cluster, started, leader)
    wait_for(lambda: formed(cluster), timeout=120, interval=1.0, what="ensemble re-formed")
    zk_after = time.monotonic() - started
    assert mode(cluster.launcher, leader) == "follower"
    print(
        f"TIMING leader {leader} {old} -> {new}: new leader {elected:.1f}s after it stopped, "
        f"resolvable everywhere {dns_after:.1f}s, re-formed {zk_after:.1f}s after its start"
    )
    assert "over-our-dns" in zkcli(cluster, cluster.servers[1], "get", ZNODE).splitlines()
