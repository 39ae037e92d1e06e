"""Prometheus metrics (``prometheus_client``), prefixed ``cloudagent_``.

Event counts and durations are recorded as they happen; state (members by status, served
names, restarts, provisioning) is read from the agent when scraped, through one callable.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

PHASES = (
    "waiting-for-ambari",
    "waiting-for-hosts",
    "provisioning",
    "scaling",
    "completed",
    "failed",
    "error",
)
STATUSES = ("alive", "leaving", "left", "failed", "none")
# Hosts files render in well under a millisecond for small clusters and ~10 ms for 10 000 members.
_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


@dataclass(frozen=True)
class Snapshot:
    """The agent's state at scrape time."""

    members: Mapping[str, int] = field(default_factory=dict)  # by status
    served_names: int = 0
    service_instances: int = 0
    dropped_members: int = 0
    restarts: Mapping[str, int] = field(default_factory=dict)  # by program
    last_success: float | None = None  # wall-clock seconds
    phase: str | None = None
    progress: float | None = None


class _StateCollector(Collector):
    def __init__(self, snapshot: Callable[[], Snapshot]) -> None:
        self.snapshot = snapshot

    def collect(self) -> Iterator[Metric]:
        s = self.snapshot()
        members = GaugeMetricFamily(
            "cloudagent_members", "Serf members by status", labels=["status"]
        )
        for status in STATUSES:
            members.add_metric([status], s.members.get(status, 0))
        yield members
        yield GaugeMetricFamily(
            "cloudagent_served_names", "Names the hosts file serves", value=s.served_names
        )
        yield GaugeMetricFamily(
            "cloudagent_service_instances",
            "Service instances served (A and SRV)",
            value=s.service_instances,
        )
        yield GaugeMetricFamily(
            "cloudagent_dropped_members",
            "Members dropped as invalid in the last cycle",
            value=s.dropped_members,
        )
        restarts = CounterMetricFamily(
            "cloudagent_child_restarts", "Restarts of supervised programs", labels=["program"]
        )
        for program, count in sorted(s.restarts.items()):
            restarts.add_metric([program], count)
        yield restarts
        if s.last_success is not None:
            yield GaugeMetricFamily(
                "cloudagent_last_cycle_success_timestamp_seconds",
                "When the last reconcile cycle succeeded (Unix time)",
                value=s.last_success,
            )
        if s.phase is not None:
            phase = GaugeMetricFamily(
                "cloudagent_provisioning_phase",
                "Ambari provisioning phase (1 for the current one; server role only)",
                labels=["phase"],
            )
            for name in PHASES:
                phase.add_metric([name], 1.0 if name == s.phase else 0.0)
            yield phase
        if s.progress is not None:
            yield GaugeMetricFamily(
                "cloudagent_provisioning_progress_percent",
                "Progress of the Ambari cluster request",
                value=s.progress,
            )


class Metrics:
    """One registry per agent (never the process-global one), so tests and agents stay apart."""

    def __init__(self, snapshot: Callable[[], Snapshot]) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.hosts_writes = Counter(
            "cloudagent_hosts_writes", "Hosts file writes", registry=self.registry
        )
        self.cycle_errors = Counter(
            "cloudagent_cycle_errors", "Reconcile cycles that raised", registry=self.registry
        )
        self.render_seconds = Histogram(
            "cloudagent_render_seconds",
            "Time to decide and render one cycle's files",
            buckets=_BUCKETS,
            registry=self.registry,
        )
        self.reload_seconds = Histogram(
            "cloudagent_reload_seconds",
            "From SIGHUP to dnsmasq having re-read the hosts files",
            buckets=_BUCKETS,
            registry=self.registry,
        )
        self.registry.register(_StateCollector(snapshot))
