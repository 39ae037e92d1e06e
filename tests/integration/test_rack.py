"""Rack awareness with the real serf and dnsmasq: 3 nodes on 2 racks, the topology table at
every node, `cloudagent topology` for names, addresses and strangers, and a rack change."""

from __future__ import annotations

import io
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from cloudagent.cli import main
from cloudagent.dev.localcluster import LocalCluster, LocalNode, wait_for
from cloudagent.topology import DEFAULT_RACK, parse_table, table_path
from tests.integration.conftest import MakeCluster

RACKS = {"node1": "/dc1/host-a", "node2": "/dc1/host-a", "node3": "/dc1/host-b"}


def start_on_racks(cluster: LocalCluster, racks: dict[str, str]) -> list[LocalNode]:
    for i, rack in enumerate(racks.values()):
        node = cluster.add("server" if i == 0 else "agent", start=False)
        node.env["CLOUDAGENT_RACK"] = rack
        node.start("server" if i == 0 else "agent")
    return cluster.nodes


def table(node: LocalNode) -> dict[str, str]:
    try:
        return parse_table(Path(table_path(node.state_dir)).read_text())
    except FileNotFoundError:
        return {}


def expected(nodes: list[LocalNode], racks: dict[str, str]) -> dict[str, str]:
    rows = {}
    for node in nodes:
        rack = racks[node.name]
        rows.update({node.address: rack, node.fqdn: rack, node.name: rack})
    return rows


def has_table(node: LocalNode, want: dict[str, str]) -> Callable[[], bool]:
    return lambda: table(node) == want


def topology(node: LocalNode, *hosts: str) -> list[str]:
    out = io.StringIO()
    assert main(["topology", *hosts], environ=node.env_for_cli(), stdout=out) == 0
    return out.getvalue().split()


def test_topology_table_and_script_follow_the_membership(
    make_cluster: MakeCluster, raw_serf: Callable[..., subprocess.Popen[bytes]]
) -> None:
    cluster = make_cluster(0)
    nodes = start_on_racks(cluster, RACKS)
    racks = dict(RACKS)
    want = expected(nodes, racks)
    for node in nodes:
        wait_for(has_table(node, want), timeout=30, what=f"{node.name}'s table")

    # The script contract: one rack per argument, in order; a stranger is on the default rack.
    hosts = [nodes[2].fqdn, nodes[0].address, "stranger.cluster.internal", nodes[1].name]
    hosts += ["10.99.0.1", nodes[2].address, nodes[1].fqdn.upper()]
    answer = ["/dc1/host-b", "/dc1/host-a", DEFAULT_RACK, "/dc1/host-a"]
    answer += [DEFAULT_RACK, "/dc1/host-b", "/dc1/host-a"]
    for node in nodes:
        assert topology(node, *hosts) == answer
    # The executable Hadoop's net.topology.script.file.name points at.
    script = Path(sys.executable).parent / "cloudagent-topology"
    ran = subprocess.run(
        [str(script), *hosts],
        env=nodes[1].env_for_cli(),
        capture_output=True,
        text=True,
        check=False,
    )
    assert (ran.returncode, ran.stdout.split(), ran.stderr) == (0, answer, "")

    # A member with an unusable rack tag is still served, on the default rack, warned once.
    raw_serf("oddrack", cluster.address(30), nodes[0].address, "role=agent", "rack=/r1 /evil")
    odd = {
        cluster.address(30): DEFAULT_RACK,
        "oddrack.cluster.internal": DEFAULT_RACK,
        "oddrack": DEFAULT_RACK,
    }
    wait_for(lambda: table(nodes[0]) == want | odd, timeout=30, what="oddrack in the table")
    assert nodes[0].dns.addresses("oddrack.cluster.internal") == [cluster.address(30)]
    assert topology(nodes[0], "oddrack", cluster.address(30)) == [DEFAULT_RACK] * 2
    wait_for(
        lambda: nodes[0].log_file.read_text().count("rack tag '/r1 /evil' ignored") == 1,
        timeout=10,
        what="one warning",
    )
    want |= odd

    # A rack change: node3 restarts with another CLOUDAGENT_RACK; every table follows.
    moved = nodes[2]
    assert moved.stop() == 0
    moved.env["CLOUDAGENT_RACK"] = "/dc2/host-c"
    moved.start("agent")
    racks["node3"] = "/dc2/host-c"
    want |= expected([moved], racks)
    for node in nodes:
        wait_for(has_table(node, want), timeout=30, what=f"{node.name} sees the move")
        assert topology(node, moved.fqdn, moved.address) == ["/dc2/host-c"] * 2
    assert nodes[0].log_file.read_text().count("rack tag '/r1 /evil' ignored") == 1
