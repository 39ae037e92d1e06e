"""Health: the facts the agent knows about itself, and one judgement of them.

The same judgement serves ``/health`` and ``cloudagent health`` (the image's HEALTHCHECK).
The DNS path is unhealthy when no reconcile cycle has succeeded for longer than a bound
(``CLOUDAGENT_CYCLE_STALE``, default 30 s: three resync periods), so a loop that fails or
stops is seen even while serf and dnsmasq still run and answer with the old view.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

DEFAULT_STALE: Final = 30.0


@dataclass(frozen=True)
class HealthFacts:
    """What the agent knows at one moment (monotonic seconds)."""

    now: float
    started: float
    serf_running: bool
    serf_rpc: bool
    dnsmasq_running: bool
    last_success: float | None
    last_error: str | None = None
    cycle_errors: int = 0
    ambari: Mapping[str, str] | None = None


HealthSource = Callable[[], HealthFacts]


@dataclass(frozen=True)
class Health:
    """The verdict and the JSON document ``/health`` returns."""

    healthy: bool
    document: dict[str, Any] = field(default_factory=dict)


def judge(facts: HealthFacts, stale_after: float = DEFAULT_STALE) -> Health:
    """Healthy when serf runs and answers RPC, dnsmasq runs, and a cycle succeeded within
    ``stale_after`` seconds (or the agent started less than that ago).

    >>> f = HealthFacts(100.0, 0.0, True, True, True, last_success=95.0)
    >>> judge(f).healthy, judge(f, stale_after=2.0).document["dns"]
    (True, 'stale')
    """
    since = facts.last_success if facts.last_success is not None else facts.started
    age = facts.now - since
    dns_ok = age <= stale_after
    problems = []
    if not facts.serf_running:
        problems.append("serf is not running")
    elif not facts.serf_rpc:
        problems.append("serf does not answer RPC")
    if not facts.dnsmasq_running:
        problems.append("dnsmasq is not running")
    if not dns_ok:
        problems.append(f"no reconcile cycle has succeeded for {age:.0f}s (bound {stale_after:g}s)")
    document: dict[str, Any] = {
        "status": "healthy" if not problems else "unhealthy",
        "serf": "ok" if facts.serf_running and facts.serf_rpc else "down",
        "dnsmasq": "ok" if facts.dnsmasq_running else "down",
        "dns": "ok" if dns_ok else "stale",
        "last_cycle_age_seconds": (
            None if facts.last_success is None else round(facts.now - facts.last_success, 3)
        ),
        "stale_after_seconds": stale_after,
        "cycle_errors": facts.cycle_errors,
        "last_error": facts.last_error,
        "problems": problems,
    }
    if facts.ambari is not None:
        document["ambari"] = dict(facts.ambari)
    return Health(not problems, document)


class CycleRecord:
    """When the last cycle succeeded, and the last error: fed by the loop, read by health."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.started = clock()
        self.last_success: float | None = None
        self.last_error: str | None = None
        self.errors = 0

    def succeeded(self) -> None:
        """A cycle finished (a cycle that deliberately holds the last state counts)."""
        self.last_success = self.clock()

    def failed(self, error: BaseException) -> None:
        """A cycle raised."""
        self.errors += 1
        self.last_error = f"{type(error).__name__}: {error}"
