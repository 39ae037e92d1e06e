"""One acting Ambari server among several server-role nodes: real serf and dnsmasq, one Ambari
emulator that both servers share (as an Ambari whose database outlives any one container)."""

from __future__ import annotations

import asyncio
import io
import json
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from cloudagent import config
from cloudagent.ambari.agentconf import read_settings
from cloudagent.ambari.client import AmbariClient
from cloudagent.ambari.election import SINCE
from cloudagent.cli import main
from cloudagent.dev.localcluster import LocalCluster, LocalNode, wait_for
from cloudagent.secret import Secret
from cloudagent.serf.rpc import SerfRPC
from tests.integration.conftest import MakeCluster, unique_subnet
from tests.nodecli import status

GRACE = 3.0
AMBARI = {"BLUEPRINT": "multi-node-hdfs-yarn", "CLUSTER_NAME": "it", "AMBARI_SERVER_COMMAND": ""}


@pytest.fixture
def shared_ambari() -> Iterator[str]:
    """One emulator: API on <subnet>.11:8080, agents on port 8440 of both servers' addresses."""
    subnet = unique_subnet()
    argv = [sys.executable, "-m", "cloudagent", "ambari-emulator"]
    argv += ["--listen", f"{subnet}.11:8080", "--task-seconds", "1"]
    argv += ["--agent-listen", f"{subnet}.11:8440", "--agent-listen", f"{subnet}.12:8440"]
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    yield subnet
    process.send_signal(signal.SIGTERM)
    process.wait(10)


def cli(node: LocalNode, *argv: str) -> str:
    out = io.StringIO()
    main(list(argv), environ=node.env_for_cli(), stdout=out, stderr=io.StringIO())
    return out.getvalue()


def members(node: LocalNode) -> dict[str, dict[str, Any]]:
    try:
        rows = json.loads(cli(node, "members", "--json"))["members"]
    except (ValueError, KeyError):
        return {}
    return {row["name"]: row for row in rows}


def acting_claims(node: LocalNode) -> list[str]:
    return sorted(
        name for name, row in members(node).items() if row["tags"].get("ambari-acting") == "yes"
    )


def points_at(node: LocalNode) -> str:
    return read_settings((node.base_dir / "ambari-agent.ini").read_text()).server


def ambari(cluster: LocalCluster) -> AmbariClient:
    return AmbariClient(f"http://{cluster.address(1)}:8080", password=Secret("admin"), retries=0)


def logs(*nodes: LocalNode) -> str:
    return "".join(n.log_file.read_text() for n in nodes)


def until(condition: Callable[[], object], what: str, timeout: float = 90) -> None:
    wait_for(condition, timeout=timeout, interval=0.2, what=what)


def test_one_acting_server_takes_over_and_keeps_one_cluster(
    make_cluster: MakeCluster,
    shared_ambari: str,
    raw_serf: Callable[..., subprocess.Popen[bytes]],
) -> None:
    cluster = make_cluster(0, ambari={**AMBARI, "EXPECTED_HOST_COUNT": "3"}, grace=f"{GRACE:g}s")
    cluster.subnet = shared_ambari
    first = cluster.add("server")
    second = cluster.add("server")
    worker = cluster.add("agent")
    until(lambda: status(worker).get("phase") == "completed", "cluster provisioned")
    doc = status(worker)
    assert doc["server"] == first.fqdn and doc["standby"] == [second.fqdn]
    assert status(second)["this_node"] == "standby"
    assert f"Ambari server: standby (acting: {first.fqdn})" in cli(second, "health")
    assert f"standby: {first.fqdn} is the acting Ambari server" in logs(second)
    assert [points_at(n) for n in (first, second, worker)] == [first.fqdn] * 3

    # A bare serf agent tagged role=server, named to sort first, must not displace it.
    raw_serf("a-rogue", cluster.address(50), first.address, "role=server")
    until(lambda: "a-rogue" in members(worker), "a-rogue joined")
    time.sleep(3)  # several cycles
    assert [points_at(n) for n in (first, second, worker)] == [first.fqdn] * 3
    assert status(worker)["server"] == first.fqdn
    assert "ignored (no ambari-since tag): a-rogue" in logs(worker)

    # The acting server dies: the standby takes over after Serf notices and the grace runs out.
    killed = time.monotonic()
    first.kill()
    until(lambda: members(second).get(first.name, {}).get("status") == "failed", "failure seen")
    detected = time.monotonic() - killed
    until(lambda: points_at(worker) == second.fqdn, "agents re-pointed", timeout=120)
    takeover = time.monotonic() - killed
    print(
        f"\nfailure detected after {detected:.1f}s; takeover after {takeover:.1f}s "
        f"(grace {GRACE:g}s)"
    )
    assert takeover < detected + GRACE + 30  # generous: cycles are paced, the machine loaded
    until(lambda: status(worker).get("phase") == "completed", "followed by the new server")
    assert status(worker)["server"] == second.fqdn
    assert "cluster it exists: resuming" in logs(second)
    assert ambari(cluster).request_ids("it") == [1]

    # The old server comes back: it stays a standby, the cluster is not created again.
    first.start("server")
    until(lambda: status(first).get("this_node") == "standby", "restarted server is standby")
    until(lambda: acting_claims(worker) == [second.name], "one claim")
    assert points_at(worker) == second.fqdn

    # One request per scale-up, from the acting server only.
    late = cluster.add("agent")
    client = ambari(cluster)
    until(lambda: late.fqdn in client.cluster_hosts("it"), "late host added")
    until(lambda: status(worker).get("phase") == "completed", "scale-up completed")
    assert client.request_ids("it") == [1, 2]
    assert logs(first, second).count("cluster it requested") == 1
    assert logs(first, second).count("scale-up request") == 1
    assert acting_claims(worker) == [second.name]


async def _join(node: LocalNode, address: str) -> int:
    cfg = config.load(node.env_for_cli())
    rpc = await SerfRPC.connect(cfg.serf_rpc, cfg.rpc_auth, timeout=5.0)
    try:
        return await rpc.join([f"{address}:7946"])
    finally:
        await rpc.close()


def test_a_healed_partition_keeps_one_acting_server_and_one_cluster(
    make_cluster: MakeCluster, shared_ambari: str
) -> None:
    """Two halves that never saw each other each elect a server; both reach the same Ambari.
    When they meet, exactly one keeps acting, and the cluster exists once."""
    cluster = make_cluster(0, ambari={**AMBARI, "EXPECTED_HOST_COUNT": "2"}, grace=f"{GRACE:g}s")
    cluster.subnet = shared_ambari
    left = cluster.add("server", join_index=None)
    right = cluster.add("server", join_index=None)
    cluster.add("agent", join_index=1)
    cluster.add("agent", join_index=2)
    until(lambda: acting_claims(left) == [left.name], "left half elects left")
    until(lambda: acting_claims(right) == [right.name], "right half elects right")
    client = ambari(cluster)
    until(lambda: client.cluster("it") is not None, "a cluster exists")
    for half in (left, right):  # both halves elected their own server, as documented
        until(lambda h=half: "acting Ambari server from now on" in logs(h), "both halves act")  # type: ignore[misc]

    assert asyncio.run(_join(right, left.address)) == 1  # the partition heals
    until(lambda: len(members(left)) == 4 and len(members(right)) == 4, "one membership")
    # Both halves act; the smaller (ambari-since, name) keeps acting. Which half elected
    # first depends on start-up timing, so the test reads the tags instead of assuming it.
    rows = members(left)
    first = min((int(rows[n.name]["tags"][SINCE]), n.name) for n in (left, right))[1]
    winner, loser = (left, right) if first == left.name else (right, left)
    until(lambda: acting_claims(left) == acting_claims(right) == [winner.name], "one acting")
    nodes = cluster.nodes
    until(lambda: all(points_at(n) == winner.fqdn for n in nodes), "every agent on the winner")
    assert status(loser)["this_node"] == "standby"
    until(lambda: status(nodes[3]).get("phase") == "completed", "cluster completed")
    # Created once in this Ambari: one POST succeeded, whatever the other half tried.
    assert logs(left, right).count("cluster it requested") == 1
    assert client.request_ids("it")[0] == 1
    assert sorted(client.cluster_hosts("it")) == sorted(n.fqdn for n in nodes)
