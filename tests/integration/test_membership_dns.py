"""Membership -> DNS with the real serf and dnsmasq: join, leave, crash, restart."""

from __future__ import annotations

import io
import json
import signal
import time
from pathlib import Path
from typing import Any

from cloudagent.cli import main
from cloudagent.daemon.supervise import holds_resources
from cloudagent.dev.localcluster import LocalCluster, LocalNode, wait_for
from tests.integration.conftest import MakeCluster


def all_resolve(cluster: LocalCluster, nodes: list[LocalNode]) -> bool:
    return all(cluster.resolves_everywhere(t, nodes) for t in nodes)


def members_json(node: LocalNode) -> dict[str, Any]:
    out = io.StringIO()
    assert main(["members", "--json"], environ=node.env_for_cli(), stdout=out) == 0
    result: dict[str, Any] = json.loads(out.getvalue())
    return result


def status_of(observer: LocalNode, target: LocalNode) -> str | None:
    for row in members_json(observer)["members"]:
        if row["name"] == target.name:
            return str(row["status"])
    return None


def test_three_nodes_resolve_each_other_forward_and_reverse(make_cluster: MakeCluster) -> None:
    cluster = make_cluster(3)
    nodes = cluster.nodes
    wait_for(lambda: all_resolve(cluster, nodes), timeout=20, what="all names resolving")
    for observer in nodes:
        for target in nodes:
            assert observer.dns.addresses(target.fqdn) == [target.address]
            assert observer.dns.addresses(target.name) == [target.address]  # short alias
            assert observer.dns.names(target.address) == [target.fqdn]
        # The cluster domain is answered locally: unknown names are NXDOMAIN, not forwarded.
        assert observer.dns.addresses(f"nosuch.{cluster.domain}") is None

    rows = members_json(nodes[0])["members"]
    assert [(r["name"], r["role"], r["status"]) for r in rows] == [
        ("node1", "server", "alive"),
        ("node2", "agent", "alive"),
        ("node3", "agent", "alive"),
    ]
    out = io.StringIO()
    assert main(["hosts"], environ=nodes[1].env_for_cli(), stdout=out) == 0
    assert out.getvalue() == (nodes[1].state_dir / "dns" / "hosts").read_text()
    assert f"{nodes[2].address} node3.cluster.internal node3\n" in out.getvalue()


def test_graceful_leave_is_nxdomain_everywhere(make_cluster: MakeCluster) -> None:
    cluster = make_cluster(3)
    nodes = cluster.nodes
    wait_for(lambda: all_resolve(cluster, nodes), timeout=20, what="all names resolving")
    leaver, rest = nodes[2], nodes[:2]
    assert leaver.stop() == 0
    wait_for(lambda: cluster.gone_everywhere(leaver, rest), timeout=10, what="leaver gone")
    assert status_of(rest[0], leaver) == "left"
    assert all_resolve(cluster, rest)


def test_crashed_node_is_served_for_the_grace_period_then_removed(
    make_cluster: MakeCluster,
) -> None:
    grace = 5.0
    cluster = make_cluster(3, grace=f"{grace:g}s")
    nodes = cluster.nodes
    wait_for(lambda: all_resolve(cluster, nodes), timeout=20, what="all names resolving")
    victim, observer = nodes[2], nodes[0]
    # SIGKILL its serf, and the agent at once so that nothing restarts serf or says leave.
    victim.signal_child("serf", signal.SIGKILL)
    victim.kill()
    wait_for(
        lambda: status_of(observer, victim) == "failed",
        timeout=30,
        interval=0.1,
        what="victim marked failed",
    )
    failed_at = time.monotonic()
    assert cluster.resolves_everywhere(victim, nodes[:2]), "removed at once, not after grace"
    wait_for(
        lambda: cluster.gone_everywhere(victim, [observer]),
        timeout=grace + 10,
        interval=0.05,
        what="victim removed after grace",
    )
    served_for = time.monotonic() - failed_at
    assert grace - 1.0 <= served_for <= grace + 3.0, served_for
    assert status_of(observer, victim) == "failed"  # serf still lists it; DNS dropped it


def test_serf_crash_is_restarted_and_dns_keeps_serving(make_cluster: MakeCluster) -> None:
    cluster = make_cluster(3)
    nodes = cluster.nodes
    wait_for(lambda: all_resolve(cluster, nodes), timeout=20, what="all names resolving")
    node = nodes[1]
    old_pid = node.signal_child("serf", signal.SIGKILL)
    deadline = time.monotonic() + 3.0
    while time.monotonic() < deadline:  # the last hosts file keeps serving through the restart
        assert node.dns.addresses(nodes[0].fqdn) == [nodes[0].address]
        time.sleep(0.02)
    new_pid = wait_for(lambda: node.child_pid("serf"), timeout=10, what="serf restarted")
    assert new_pid != old_pid
    wait_for(lambda: all_resolve(cluster, nodes), timeout=20, what="converged after restart")
    wait_for(lambda: status_of(nodes[0], node) == "alive", timeout=20, what="node alive again")


def test_agent_restart_serves_the_last_hosts_file_then_converges(
    make_cluster: MakeCluster,
) -> None:
    cluster = make_cluster(3)
    nodes = cluster.nodes
    wait_for(lambda: all_resolve(cluster, nodes), timeout=20, what="all names resolving")
    node, other, leaver = nodes[1], nodes[0], nodes[2]
    hosts_before = (node.state_dir / "dns" / "hosts").read_text()
    node.kill()  # the agent dies; its serf and dnsmasq die with it
    assert leaver.stop() == 0  # the membership changes while the agent is down
    wait_for(lambda: cluster.gone_everywhere(leaver, [other]), timeout=10, what="leaver gone")

    node.start("agent")
    first = wait_for(
        lambda: _try(lambda: node.dns.addresses(other.fqdn)),
        timeout=10,
        interval=0.01,
        what="restarted dnsmasq answering",
    )
    assert first == [other.address]  # answered from the last hosts file
    converged_at = time.monotonic() + 20
    while not cluster.gone_everywhere(leaver, [node]):
        # Never a blank moment: the live peer resolves throughout the rejoin.
        assert node.dns.addresses(other.fqdn) == [other.address]
        assert time.monotonic() < converged_at, "did not converge"
        time.sleep(0.02)
    assert "serving the last hosts file" in node.log_file.read_text()
    assert hosts_before != (node.state_dir / "dns" / "hosts").read_text()
    wait_for(lambda: all_resolve(cluster, [other, node]), timeout=20, what="converged")


def test_secrets_stay_out_of_argv_and_configs_are_private(make_cluster: MakeCluster) -> None:
    key = "cg8StVXbQJ0gPvMd9o7yrg=="
    cluster = make_cluster(2, extra_env={"SERF_ENCRYPT_KEY": key, "SERF_RPC_AUTH": "rpc-t0ken"})
    nodes = cluster.nodes
    wait_for(lambda: all_resolve(cluster, nodes), timeout=20, what="encrypted cluster resolving")
    assert members_json(nodes[0])["members"]  # the CLI authenticates with SERF_RPC_AUTH
    for node in nodes:
        pid = node.child_pid("serf")
        assert pid is not None
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().decode()
        assert key not in cmdline and "rpc-t0ken" not in cmdline
        config = node.state_dir / "serf" / "config.json"
        assert config.stat().st_mode & 0o777 == 0o600
        log = node.log_file.read_text()
        assert key not in log and "rpc-t0ken" not in log
    no_auth = {k: v for k, v in nodes[0].env.items() if k != "SERF_RPC_AUTH"}
    err = io.StringIO()
    assert main(["members"], environ=no_auth, stdout=io.StringIO(), stderr=err) == 1
    assert "Authentication required" in err.getvalue()


def _try(query: object) -> object:
    from cloudagent.dns.query import DNSError  # noqa: PLC0415

    try:
        return query()  # type: ignore[operator]
    except DNSError:
        return None


def test_agent_exits_cleanly_and_leaves_no_children(make_cluster: MakeCluster) -> None:
    cluster = make_cluster(1)
    (node,) = cluster.nodes
    wait_for(
        lambda: node.child_pid("serf") and node.child_pid("dnsmasq"),
        timeout=10,
        what="children running",
    )
    serf_pid, dnsmasq_pid = node.child_pid("serf"), node.child_pid("dnsmasq")
    assert node.stop() == 0
    for pid in (serf_pid, dnsmasq_pid):
        assert pid is not None
        assert not holds_resources(pid)
