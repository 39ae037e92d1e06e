"""Integration fixtures: real serf and dnsmasq on loopback subnets unique to each test."""

from __future__ import annotations

import itertools
import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Generator, Iterator
from pathlib import Path

import pytest

from cloudagent.dev.localcluster import LocalCluster, require_programs

_subnets = itertools.count(1)
MakeCluster = Callable[..., LocalCluster]


def unique_subnet() -> str:
    """127.<a>.<b>: a per test run, b per cluster, so tests never share an address.

    CLOUDAGENT_TEST_NET fixes <a> (0-255) when several checkouts test on one machine at once.
    """
    net = os.environ.get("CLOUDAGENT_TEST_NET") or str(100 + os.getpid() % 100)
    return f"127.{net}.{next(_subnets)}"


@pytest.fixture
def make_cluster(request: pytest.FixtureRequest) -> Iterator[MakeCluster]:
    """Start LocalClusters; stop them (and print their logs on failure) at teardown."""
    require_programs()  # a missing serf or dnsmasq fails the test, it never skips it
    base = Path(tempfile.mkdtemp(prefix="cloudagent-it-"))
    base.chmod(0o755)
    clusters: list[LocalCluster] = []

    def make(size: int = 3, **kwargs: object) -> LocalCluster:
        cluster = LocalCluster(
            base / f"c{len(clusters)}",
            subnet=unique_subnet(),
            domain="cluster.internal",
            **kwargs,  # type: ignore[arg-type]
        )
        clusters.append(cluster)
        if size:
            cluster.start(size)
        return cluster

    yield make
    for cluster in clusters:
        cluster.stop()
    failed = getattr(request.node, "rep_call", None)
    if failed is not None and failed.failed:
        for cluster in clusters:
            for node in cluster.nodes:
                if node.log_file.exists():
                    print(f"----- {node.name} log -----")
                    print(node.log_file.read_text()[-6000:])
    shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def raw_serf(make_cluster: MakeCluster) -> Iterator[Callable[..., subprocess.Popen[bytes]]]:
    """Start plain serf agents (not cloudagent) that join a cluster: Serf accepts any name."""
    processes: list[subprocess.Popen[bytes]] = []

    def start(
        name: str, address: str, join: str, *tags: str, port: int = 7946, rpc_port: int = 7373
    ) -> subprocess.Popen[bytes]:
        argv = [
            "serf",
            "agent",
            "-node",
            name,
            "-bind",
            f"{address}:{port}",
            "-rpc-addr",
            f"{address}:{rpc_port}",
            "-join",
            f"{join}:7946",
            "-log-level",
            "warn",
        ]
        for tag in tags:
            argv += ["-tag", tag]
        process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        processes.append(process)
        return process

    yield start
    for process in processes:
        process.kill()
        process.wait()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if report.when == "call":
        item.rep_call = report  # type: ignore[attr-defined]
    return report


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "integration" in str(item.fspath):
            item.add_marker(pytest.mark.integration)
