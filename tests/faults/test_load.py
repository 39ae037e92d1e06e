"""Load: 60 members join, leave and crash in a bounded loop for two minutes next to three
agents; afterwards the agents' memory and open files are back where they were, and every
answer is right."""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from cloudagent.dev.localcluster import LocalCluster, LocalNode, require_programs, wait_for
from cloudagent.dns.query import DNSError
from tests.faults.conftest import Prober, Row
from tests.faults.helpers import expected, serves
from tests.integration.conftest import unique_subnet

MEMBERS = 60
CHURN_SECONDS = 120.0
AT_ONCE = 20  # members running at any moment: the machine has two cores


def footprint(node: LocalNode) -> tuple[int, int]:
    """The agent's resident memory (kB) and open file descriptors."""
    assert node.process is not None
    pid = node.process.pid
    rss = next(
        int(line.split()[1])
        for line in Path(f"/proc/{pid}/status").read_text().splitlines()
        if line.startswith("VmRSS:")
    )
    return rss, len(os.listdir(f"/proc/{pid}/fd"))


@pytest.fixture
def load_cluster() -> Iterator[LocalCluster]:
    require_programs()
    base = Path(tempfile.mkdtemp(prefix="cloudagent-load-"))
    base.chmod(0o755)
    cluster = LocalCluster(base, subnet=unique_subnet(), grace="5s")
    try:
        cluster.start(3)
        yield cluster
    finally:
        cluster.stop()
        shutil.rmtree(base, ignore_errors=True)


class Members:
    """Plain serf agents that join the cluster as members m1..m60."""

    def __init__(self, cluster: LocalCluster) -> None:
        self.cluster = cluster
        self.running: dict[int, subprocess.Popen[bytes]] = {}
        self.operations = 0

    def address(self, i: int) -> str:
        return f"{self.cluster.subnet}.{100 + i}"

    def start(self, i: int) -> None:
        address = self.address(i)
        self.running[i] = subprocess.Popen(
            ["serf", "agent", f"-node=m{i}", f"-bind={address}:7946",
             f"-rpc-addr={address}:7373", f"-join={self.cluster.address(1)}:7946",
             "-log-level=err"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        self.operations += 1

    def stop(self, i: int, crash: bool) -> None:
        process = self.running.pop(i)
        if crash:
            process.kill()
        else:
            # serf leaves gracefully on SIGINT unless told to skip it.
            process.send_signal(signal.SIGINT)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        self.operations += 1

    def churn(self, seconds: float, rng: random.Random) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            idle = [i for i in range(1, MEMBERS + 1) if i not in self.running]
            if len(self.running) < AT_ONCE and idle:
                self.start(rng.choice(idle))
            else:
                self.stop(rng.choice(list(self.running)), crash=rng.random() < 0.5)
            time.sleep(0.3)

    def stop_all(self) -> None:
        for i in list(self.running):
            self.stop(i, crash=False)


@pytest.mark.timeout(600)
def test_load_60_members_churn_2_minutes(load_cluster: LocalCluster, row: Row) -> None:
    nodes = load_cluster.nodes
    wait_for(lambda: all(serves(n, nodes) for n in nodes), 30, 0.2, what="nodes served")
    members = Members(load_cluster)
    rng = random.Random(8)  # noqa: S311 - a reproducible test schedule, not crypto
    try:
        members.churn(10, rng)  # warm up: caches and buffers reach their working size
        members.stop_all()
        time.sleep(12)  # failures detected and their 5 s grace over
        before = [footprint(n) for n in nodes]
        with Prober(nodes, expected(nodes), row):
            members.churn(CHURN_SECONDS, rng)
            members.stop_all()
        start = time.monotonic()

        def settled() -> bool:
            try:
                return all(
                    n.dns.addresses(f"m{i}.cluster.internal") is None
                    for n in nodes
                    for i in range(1, MEMBERS + 1)
                )
            except DNSError:
                return False

        wait_for(settled, 60, 0.5, what="every departed member gone from DNS")
        row.recovered = time.monotonic() - start
    finally:
        for process in members.running.values():
            process.kill()
            process.wait()
    after = [footprint(n) for n in nodes]
    print(f"{members.operations} operations; (rss kB, fds) before {before}, after {after}")
    assert members.operations >= 200
    assert all(serves(n, nodes) for n in nodes)
    for (rss0, fds0), (rss1, fds1) in zip(before, after, strict=True):
        assert rss1 <= rss0 * 1.10, f"RSS grew from {rss0} kB to {rss1} kB"
        assert fds1 <= fds0 * 1.10 + 1, f"open files grew from {fds0} to {fds1}"
    assert row.wrong == 0 and row.unanswered == 0, row
