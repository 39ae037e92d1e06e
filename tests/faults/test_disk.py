"""Disk faults: a full state directory, a read-only one, and damaged state files at start."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from cloudagent.dev.localcluster import LocalCluster, LocalNode, wait_for
from tests.faults.conftest import Prober, Row
from tests.faults.helpers import expected, fill, log_text, serves, since, status

REPAIR_BOUND = 15.0  # DNS must serve the new members within this long after the repair


def _recover_after(
    node: LocalNode, newcomer: LocalNode, fault: str, repair: Callable[[], object], row: Row
) -> None:
    """With the fault on, ``node`` keeps its last file and reports; after the repair it
    serves ``newcomer`` within REPAIR_BOUND seconds, without a restart."""
    wait_for(
        lambda: (doc := status(node)) is not None and fault in str(doc.get("cycle_error")),
        30,
        what=f"{fault} reported in the status",
    )
    assert not serves(node, [newcomer])
    time.sleep(3)
    repair()
    start = time.monotonic()
    wait_for(lambda: serves(node, [newcomer]), REPAIR_BOUND, what="caught up after the repair")
    row.recovered = since(start)
    wait_for(lambda: (status(node) or {}).get("cycle_error") is None, 10, what="status clear")


@pytest.fixture
def tmpfs(shared_cluster: LocalCluster) -> Iterator[Callable[[Path], Path]]:
    mounts: list[Path] = []

    def mount(path: Path) -> Path:
        path.mkdir(parents=True, exist_ok=True)
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(path)], check=True)
        path.chmod(0o755)
        mounts.append(path)
        return path

    yield mount
    for path in mounts:
        subprocess.run(["umount", "-l", str(path)], check=False)


def test_state_dir_full_then_freed(
    fault_cluster: LocalCluster, row: Row, tmpfs: Callable[[Path], Path]
) -> None:
    nodes = fault_cluster.nodes[:3]
    full = fault_cluster.add(start=False)
    tmpfs(full.state_dir)
    full.start()
    wait_for(lambda: serves(full, nodes), 30, what="the node on a small disk serves all")
    filler = fill(full.state_dir)
    newcomer = fault_cluster.add()
    with Prober([full], expected(nodes), row):
        wait_for(lambda: serves(nodes[0], [newcomer]), 30, what="newcomer served by peers")
        _recover_after(full, newcomer, "No space left", filler.unlink, row)
    assert "No space left on device" in log_text(full)
    assert row.wrong == 0 and row.unanswered == 0, row
    newcomer.stop()
    full.stop()


def test_dns_dir_read_only_then_writable(fault_cluster: LocalCluster, row: Row) -> None:
    nodes = fault_cluster.nodes[:3]
    n2 = nodes[1]
    dns_dir = n2.state_dir / "dns"
    subprocess.run(["chattr", "+i", str(dns_dir)], check=True)
    try:
        newcomer = fault_cluster.add()
        with Prober([n2], expected(nodes), row):
            wait_for(lambda: serves(nodes[0], [newcomer]), 30, what="newcomer served by peers")
            _recover_after(
                n2,
                newcomer,
                "Operation not permitted",
                lambda: subprocess.run(["chattr", "-i", str(dns_dir)], check=True),
                row,
            )
    finally:
        subprocess.run(["chattr", "-i", str(dns_dir)], check=False)
    assert row.wrong == 0 and row.unanswered == 0, row
    newcomer.stop()


def _damage(state: Path, how: str) -> None:
    hosts, failures = state / "dns" / "hosts", state / "failed-members.json"
    if how == "corrupted":
        hosts.write_bytes(b"10.0.0.1 \xff\xfe broken\n")
        failures.write_text("[" * 100_000 + "]" * 100_000)
        (state / "dns" / "dnsmasq.conf").write_bytes(b"\x00\x01junk")
        (state / "serf" / "snapshot").write_bytes(b"\xff" * 64)
    elif how == "truncated":
        hosts.write_text(hosts.read_text()[: len(hosts.read_text()) // 2])
        failures.write_text('{"node9": {"since": 1')
        (state / "health.json").write_text("")
    elif how == "directories":
        for path in (hosts, failures, state / "dns" / "dnsmasq.conf", state / "serf" / "snapshot",
                     state / "serf" / "config.json", state / "health.json"):  # fmt: skip
            if path.is_dir():
                continue
            path.unlink(missing_ok=True)
            (path / "inner").mkdir(parents=True)


@pytest.mark.parametrize("how", ["corrupted", "truncated", "directories"])
def test_damaged_state_before_start(fault_cluster: LocalCluster, row: Row, how: str) -> None:
    nodes = fault_cluster.nodes[:3]
    n3 = nodes[2]
    assert n3.stop() == 0
    _damage(n3.state_dir, how)
    start = time.monotonic()
    n3.start()
    with Prober(nodes[:2], expected(nodes[:2]), row):
        wait_for(lambda: serves(n3, nodes), 30, what="the restarted node serves everyone")
        wait_for(lambda: serves(nodes[0], [n3]), 30, what="peers serve it again")
        row.recovered = since(start)
    assert n3.running
    if how != "truncated":
        assert "moved it to" in log_text(n3)
    assert row.wrong == 0 and row.unanswered == 0, row
    for leftover in n3.state_dir.rglob("*.corrupt-*"):
        if leftover.is_dir():
            shutil.rmtree(leftover)
