"""The fault suite: real serf + dnsmasq agents, queried without pause while a fault is applied.

Every scenario records one row (queries, wrong answers, unanswered queries, seconds to recover)
and the session prints the table at the end (docs/reliability.md keeps the latest).
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from secrets import token_hex

import pytest

from cloudagent.dev.localcluster import LocalCluster, LocalNode, require_programs, wait_for
from cloudagent.dns.query import DNSError
from tests.integration.conftest import unique_subnet


@dataclass
class Row:
    scenario: str
    queries: int = 0
    wrong: int = 0
    unanswered: int = 0
    longest_gap: float = 0.0  # the longest stretch of unanswered queries at one node, seconds
    recovered: float | None = None


ROWS: list[Row] = []


@dataclass
class Prober:
    """Queries every observer's dnsmasq for every expected name, continuously, in a thread.

    ``expected`` maps FQDN -> address: any other answer (or NXDOMAIN) is wrong. Names being
    added or removed during the fault are simply left out of ``expected``.
    """

    observers: list[LocalNode]
    expected: dict[str, str]
    row: Row
    interval: float = 0.01
    timeout: float = 1.0  # an unanswered query had no answer within a second
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None
    _down_since: dict[str, float] = field(default_factory=dict)
    wrong_samples: list[str] = field(default_factory=list)
    unanswered_samples: list[str] = field(default_factory=list)

    def __enter__(self) -> Prober:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def _run(self) -> None:
        lookups = {o.name: o.dns for o in self.observers}
        for lookup in lookups.values():
            lookup.resolver.lifetime = lookup.resolver.timeout = self.timeout
        last_ok: dict[str, float] = {}
        while not self._stop.is_set():
            for observer, lookup in lookups.items():
                for name, address in list(self.expected.items()):
                    self.row.queries += 1
                    try:
                        answer = lookup.addresses(name)
                    except DNSError as exc:
                        self.row.unanswered += 1
                        self.unanswered_samples.append(
                            f"{time.monotonic():.3f} {observer}: {name}: {type(exc).__name__}"
                        )
                        self._down_since.setdefault(observer, time.monotonic())
                        continue
                    now = time.monotonic()
                    if self._down_since.pop(observer, None) is not None:
                        # From the last answer before the outage to the first one after it.
                        gap = now - last_ok.get(observer, now)
                        self.row.longest_gap = max(self.row.longest_gap, gap)
                    last_ok[observer] = now
                    if answer != [address]:
                        self.row.wrong += 1
                        self.wrong_samples.append(f"{observer}: {name} -> {answer}")
            self._stop.wait(self.interval)


@pytest.fixture
def row(request: pytest.FixtureRequest) -> Iterator[Row]:
    """This scenario's row in the summary table."""
    entry = Row(request.node.name.removeprefix("test_"))
    yield entry
    ROWS.append(entry)


@pytest.fixture(scope="module")
def shared_cluster() -> Iterator[LocalCluster]:
    """Three agents on loopback with a 60 s failed grace, shared by a module's scenarios."""
    require_programs()
    base = Path(tempfile.mkdtemp(prefix="cloudagent-faults-"))
    base.chmod(0o755)
    # Closed, as in production: gossip encrypted and the RPC behind a token. Neither may
    # reach a child's environment.
    key = subprocess.run(["serf", "keygen"], capture_output=True, text=True, check=True)
    secrets_env = {"SERF_ENCRYPT_KEY": key.stdout.strip(), "SERF_RPC_AUTH": token_hex(16)}
    cluster = LocalCluster(base, subnet=unique_subnet(), grace="60s", extra_env=secrets_env)
    try:
        cluster.start(3)
        yield cluster
    finally:
        cluster.stop()
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def fault_cluster(shared_cluster: LocalCluster) -> LocalCluster:
    """The shared cluster, once its first three nodes run and serve each other."""
    nodes = shared_cluster.nodes[:3]

    def ready() -> bool:
        try:
            return all(
                n.running and n.child_pid("serf") and o.dns.addresses(n.fqdn) == [n.address]
                for n in nodes
                for o in nodes
            )
        except DNSError:
            return False

    wait_for(ready, 60, what="the cluster serving every node")
    return shared_cluster


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not ROWS:
        return
    terminalreporter.section("fault suite")
    header = ("scenario", "queries", "wrong", "unanswered", "longest gap s", "recovered in s")
    lines = [header] + [
        (
            r.scenario,
            str(r.queries),
            str(r.wrong),
            str(r.unanswered),
            f"{r.longest_gap:.3f}",
            "-" if r.recovered is None else f"{r.recovered:.3f}",
        )
        for r in ROWS
    ]
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    for line in lines:
        terminalreporter.write_line(
            "| " + " | ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)) + " |"
        )
