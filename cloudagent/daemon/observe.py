"""What the agent shows about itself: health facts, metrics and the latest membership, fed by
the loop after each cycle and read by the HTTP endpoint."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from cloudagent.config import Config
from cloudagent.daemon.health import CycleRecord, Health, HealthFacts, judge
from cloudagent.daemon.http import HttpEndpoint
from cloudagent.daemon.metrics import Metrics, Snapshot
from cloudagent.daemon.supervise import Child
from cloudagent.dns.services import ServiceView
from cloudagent.members import Membership, members_document

if TYPE_CHECKING:
    from cloudagent.ambari.provision import ProvisionStatus
    from cloudagent.reconcile import Cycle


def ambari_facts(status: ProvisionStatus | None) -> dict[str, str] | None:
    """The server role's provisioning state as health shows it (phase, progress, hosts, ...)."""
    if status is None:
        return None
    facts = {k.removeprefix("ambari-"): v for k, v in status.tags().items()}
    return facts | {"message": status.message}


class Observability:
    """Health, metrics and ``/members`` for one agent."""

    def __init__(
        self,
        config: Config,
        *,
        children: Mapping[str, Child],
        rpc_up: Callable[[], bool],
        ambari: Callable[[], ProvisionStatus | None],
    ) -> None:
        self.config = config
        self.children = children
        self.rpc_up = rpc_up
        self._status = ambari
        self.record = CycleRecord()
        self.membership = Membership(())
        self.served_names = 0
        self.services = ServiceView()
        self._last_success_wall: float | None = None
        self.metrics = Metrics(self.snapshot)
        self.http: HttpEndpoint | None = None
        if config.http_listen is not None:
            self.http = HttpEndpoint(
                config.http_listen,
                health=self.health,
                registry=self.metrics.registry,
                members=self.members,
            )

    def cycle_done(
        self, cycle: Cycle, services: ServiceView, written: bool, seconds: float
    ) -> None:
        """A cycle succeeded: what it decided, whether it wrote, how long it took."""
        self.membership = cycle.membership
        self.served_names = len(cycle.view.names)
        self.services = services
        self.metrics.render_seconds.observe(seconds)
        if written:
            self.metrics.hosts_writes.inc()
        self.held()

    def held(self) -> None:
        """A cycle that deliberately kept the last state: the loop is alive."""
        self.record.succeeded()
        self._last_success_wall = time.time()

    def cycle_failed(self, error: BaseException) -> None:
        """A cycle raised."""
        self.record.failed(error)
        self.metrics.cycle_errors.inc()

    def ambari(self) -> dict[str, str] | None:
        """Provisioning facts (server role), or None."""
        return ambari_facts(self._status())

    def facts(self) -> HealthFacts:
        """The health facts now."""
        return HealthFacts(
            now=time.monotonic(),
            started=self.record.started,
            serf_running=self.children["serf"].pid is not None,
            serf_rpc=self.rpc_up(),
            dnsmasq_running=self.children["dnsmasq"].pid is not None,
            last_success=self.record.last_success,
            last_error=self.record.last_error,
            cycle_errors=self.record.errors,
            ambari=self.ambari(),
        )

    def health(self) -> Health:
        """The verdict ``/health`` and ``cloudagent health`` give."""
        return judge(self.facts(), self.config.cycle_stale)

    def snapshot(self) -> Snapshot:
        """The state metrics read at scrape time."""
        ambari = self.ambari() or {}
        progress = ambari.get("progress")
        return Snapshot(
            members=Counter(m.status.value for m in self.membership.members),
            served_names=self.served_names,
            service_instances=len(self.services.instances),
            dropped_members=sum(" dropped" in p for p in self.membership.problems),
            restarts={name: max(0, c.starts - 1) for name, c in self.children.items()},
            last_success=self._last_success_wall,
            phase=ambari.get("phase"),
            progress=float(progress) if progress is not None else None,
        )

    def members(self) -> dict[str, Any]:
        """The ``/members`` document."""
        return members_document(self.membership, self.config.domain)
