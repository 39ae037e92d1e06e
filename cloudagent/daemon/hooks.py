"""What a cycle feeds besides the hosts file: service names, the topology table, the
arrivals record and the observability feed (the loop's ``CycleHooks``)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from cloudagent.arrivals import Arrivals
from cloudagent.daemon.observe import Observability
from cloudagent.daemon.servicedns import ServiceDns
from cloudagent.daemon.state import load_text
from cloudagent.daemon.topology import TopologyFile
from cloudagent.files import DigestedFile
from cloudagent.reconcile import Cycle, Reconciler

if TYPE_CHECKING:
    from cloudagent.daemon.workload import ServiceRole


class CycleFeed:
    """What a cycle decides besides the hosts file: service names, the topology table, the
    arrivals record, and the observability feed."""

    def __init__(
        self,
        *,
        services: ServiceDns,
        topology: TopologyFile,
        observe: Observability,
        service: ServiceRole | None,
        reconciler: Reconciler,
        arrivals: Path,
    ) -> None:
        self.service = service
        self.services = services
        self.topology = topology
        self.observe = observe
        self.reconciler = reconciler
        self.arrivals = DigestedFile(arrivals, read=load_text)
        self._saved: Arrivals | None = None

    def write_more(self, cycle: Cycle) -> bool:
        # Service names and SRV change in the same cycle (and reload) as the hosts they name.
        written = self.services.update(cycle.membership, cycle.view)
        self.topology.update(cycle.view, cycle.membership.members)
        arrivals = self.reconciler.arrivals  # a value: a new one whenever it changes
        if arrivals is not self._saved:
            self.arrivals.write(arrivals.to_json())
            self._saved = arrivals
        return written

    def done(self, cycle: Cycle, written: bool, seconds: float) -> None:
        self.observe.cycle_done(cycle, self.services.view, written, seconds)
        if self.service is not None:  # after DNS: a service started now finds its peers
            self.service.update(cycle.membership)

    def held(self) -> None:
        self.observe.held()

    def failed(self, error: BaseException) -> None:
        self.observe.cycle_failed(error)
