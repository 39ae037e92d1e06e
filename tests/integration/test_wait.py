"""``cloudagent wait`` on a real loopback cluster: ready, and a timeout that names the gap."""

from __future__ import annotations

import io
import time

from cloudagent.cli import main
from cloudagent.dev.localcluster import LocalCluster, wait_for
from tests.integration.conftest import MakeCluster


def run_wait(env: dict[str, str], *args: str) -> tuple[int, str, float]:
    out = io.StringIO()
    started = time.monotonic()
    code = main(["wait", *args], environ=env, stdout=out)
    return code, out.getvalue(), time.monotonic() - started


def all_resolve(cluster: LocalCluster) -> bool:
    return all(cluster.resolves_everywhere(t, cluster.nodes) for t in cluster.nodes)


def test_wait_succeeds_once_three_members_and_the_server_role_are_served(
    make_cluster: MakeCluster,
) -> None:
    cluster = make_cluster(3)
    code, out, _ = run_wait(
        cluster.nodes[2].env_for_cli(), "--members", "3", "--role", "server", "--timeout", "60"
    )
    assert code == 0, out
    assert out == "ready: node3.cluster.internal\n"
    # What wait promised holds at the node that waited (the others may still be catching up).
    assert all(cluster.resolves_everywhere(t, [cluster.nodes[2]]) for t in cluster.nodes)


def test_wait_times_out_naming_what_is_missing(make_cluster: MakeCluster) -> None:
    cluster = make_cluster(2)
    wait_for(lambda: all_resolve(cluster), timeout=30, what="both nodes resolving")
    code, out, took = run_wait(
        cluster.nodes[1].env_for_cli(),
        "--members", "3", "--role", "server", "--role", "zookeeper",
        "--service", "namenode", "--timeout", "2",
    )  # fmt: skip
    assert code == 1
    assert out.count("\n") == 1
    assert out == (
        "not ready after 2s: 2 of 3 members served; role zookeeper (no served member); "
        "service namenode (no A record for namenode.<domain>)\n"
    )
    assert 2 <= took < 20


def test_wait_reports_an_unreachable_serf(make_cluster: MakeCluster) -> None:
    cluster = make_cluster(1)
    node = cluster.nodes[0]
    wait_for(lambda: all_resolve(cluster), timeout=30, what="the node resolving")
    assert node.stop() == 0
    code, out, _ = run_wait(node.env_for_cli(), "--timeout", "1")
    assert code == 1
    assert out.startswith("not ready after 1s: serf not answering (cannot reach serf RPC at ")
