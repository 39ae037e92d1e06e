"""The emulated Ambari server's state, behind one lock (the HTTP server is threaded)."""

from __future__ import annotations

import itertools
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from cloudagent.ambari.blueprint import Blueprint, Rejection, parse_body
from cloudagent.ambari.template import (
    TEMPLATE,
    ClusterPlan,
    check_cluster_template,
    check_scale_request,
)
from cloudagent.ambari.validate import check_blueprint
from cloudagent.emulator.predicate import Predicate, PredicateError, compile_predicate
from cloudagent.emulator.progress import Summary, Task, schedule, summarise


@dataclass
class Faults:
    """Knobs tests turn to make the emulator misbehave like a real server can."""

    http_500: int = 0  # answer the next N API requests with 500
    delay: float = 0.0  # seconds added to every API response
    drop_heartbeats: bool = False  # ignore agents' heartbeats (they will be declared lost)
    fail_component: str | None = None  # tasks of this component end FAILED

    def as_dict(self) -> dict[str, Any]:
        """The knobs as ``GET /emulator/faults`` shows them."""
        return dict(self.__dict__)


@dataclass
class Host:
    """A host whose agent registered."""

    name: str
    ip: str
    registered_at: float
    last_heartbeat: float | None = None
    response_id: int = 0
    cluster: str | None = None
    rack_info: str = "/default-rack"  # Ambari's default; a template or scale-up may set it


@dataclass
class LogicalRequest:
    """A request: a blueprint provisioning or scale request that waits for its hosts
    (``plan`` set), or an operation on a running cluster whose tasks exist at once."""

    id: int
    cluster: str
    context: str
    plan: ClusterPlan | None
    created: float
    reserved: dict[str, str] = field(default_factory=dict)  # host -> group, agent awaited
    counts: dict[str, int] = field(default_factory=dict)  # group -> any hosts still wanted
    tasks: list[Task] = field(default_factory=list)
    hosts: dict[str, str] = field(default_factory=dict)  # matched host -> group
    predicates: dict[str, Predicate] = field(default_factory=dict)  # group -> host_predicate
    filters: list[dict[str, Any]] = field(default_factory=list)  # Requests/resource_filters
    inputs: str | None = None

    @property
    def pending_hosts(self) -> int:
        """Hosts the request still waits for (named and counted)."""
        return len(self.reserved) + sum(self.counts.values())


@dataclass
class Cluster:
    name: str
    id: int
    blueprint: str
    created: float
    requests: list[int] = field(default_factory=list)
    # host -> component -> service: the host components the cluster knows, in creation order
    layout: dict[str, dict[str, str]] = field(default_factory=dict)


class Ambari:
    """State and behaviour of the emulated server; every public method takes the lock."""

    def __init__(
        self,
        *,
        version: str = "2.6.2.2",
        password: str = "admin",  # noqa: S107 - Ambari's documented default account
        task_seconds: float = 2.0,
        heartbeat_timeout: float = 120.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.version = version
        self.password = password
        self.task_seconds = task_seconds
        self.heartbeat_timeout = heartbeat_timeout
        self.clock = clock
        self.faults = Faults()
        self.lock = threading.RLock()
        self.blueprints: dict[str, tuple[Blueprint, Any]] = {}
        self.clusters: dict[str, Cluster] = {}
        self.requests: dict[int, LogicalRequest] = {}
        self.hosts: dict[str, Host] = {}
        self._ids = itertools.count(1)
        self._next_task = 1

    # --- blueprints -----------------------------------------------------------------------

    def add_blueprint(self, url_name: str, body: str, validate_topology: bool) -> None:
        """``POST /blueprints/{name}``; raises Rejection."""
        with self.lock:
            doc = parse_body(body)
            verdict = check_blueprint(
                doc,
                url_name=url_name,
                ambari=self.version,
                validate_topology_=validate_topology,
                exists=lambda n: n in self.blueprints,
                incident=str(uuid.uuid4()),
            )
            if not verdict.accepted or verdict.blueprint is None:
                raise Rejection(verdict.status, verdict.message)
            self.blueprints[verdict.blueprint.name] = (verdict.blueprint, doc)

    def delete_blueprint(self, name: str) -> None:
        """``DELETE /blueprints/{name}``; raise Rejection as Ambari does."""
        with self.lock:
            if name not in self.blueprints:
                raise Rejection(404, blueprint_not_found(name))
            del self.blueprints[name]

    # --- clusters -------------------------------------------------------------------------

    def create_cluster(self, name: str, body: str) -> LogicalRequest:
        """``POST /clusters/{name}`` from a template; the request waits for its hosts."""
        with self.lock:
            doc = parse_body(body)
            plan = check_cluster_template(
                doc,
                name,
                {n: bp for n, (bp, _) in self.blueprints.items()},
                ambari=self.version,
                existing_clusters=self.clusters,
            )
            predicates = host_predicates(doc)
            cluster = Cluster(name, len(self.clusters) + 2, plan.blueprint.name, self.clock())
            self.clusters[name] = cluster
            return self._request(
                cluster, f"Logical Request: Provision Cluster '{name}'", plan, predicates
            )

    def scale_cluster(self, name: str, body: str) -> LogicalRequest:
        """``POST /clusters/{name}/hosts`` with blueprint host groups."""
        with self.lock:
            cluster = self.cluster(name)
            doc = parse_body(body)
            in_cluster = [h for r in cluster.requests for h in self._all_hosts(self.requests[r])]
            in_cluster += list(cluster.layout)
            plan = check_scale_request(
                doc,
                {n: bp for n, (bp, _) in self.blueprints.items()},
                in_cluster,
                cluster.blueprint,
            )
            added = sum(len(g.hosts) + g.host_count for g in plan.groups)
            return self._request(
                cluster,
                f"Logical Request: Scale Cluster '{name}' (+{added} hosts)",
                plan,
                host_predicates(doc if isinstance(doc, list) else [doc], key="host_group"),
            )

    @staticmethod
    def _all_hosts(request: LogicalRequest) -> list[str]:
        return [*request.hosts, *request.reserved]

    def cluster(self, name: str) -> Cluster:
        """The cluster ``name``; raise Rejection (404) when there is none."""
        with self.lock:
            if name not in self.clusters:
                raise Rejection(
                    404,
                    f"The requested resource doesn't exist: Cluster not found, clusterName={name}",
                )
            return self.clusters[name]

    def _request(
        self,
        cluster: Cluster,
        context: str,
        plan: ClusterPlan,
        predicates: dict[str, Predicate],
    ) -> LogicalRequest:
        request = LogicalRequest(
            id=self.next_id(),
            cluster=cluster.name,
            context=context,
            plan=plan,
            created=self.clock(),
            reserved=dict(plan.hosts),
            counts={g.name: g.host_count for g in plan.groups if g.host_count},
            predicates=predicates,
        )
        self.requests[request.id] = request
        cluster.requests.append(request.id)
        for host in list(self.hosts.values()):
            self._match(host)
        return request

    def _match(self, host: Host) -> None:
        """Give a registered host to the first request that reserved or can take it."""
        for request in sorted(self.requests.values(), key=lambda r: r.id):
            if request.plan is None:
                continue
            group = request.reserved.pop(host.name, None)
            if group is None and host.cluster is None:
                facts = {"Hosts": self.host_facts(host)}
                group = next(
                    (
                        g
                        for g, n in request.counts.items()
                        if n > 0 and (g not in request.predicates or request.predicates[g](facts))
                    ),
                    None,
                )
                if group is not None:
                    request.counts[group] -= 1
            if group is None:
                continue
            host.cluster = request.cluster
            host.rack_info = request.plan.racks.get(host.name, host.rack_info)
            request.hosts[host.name] = group
            bp = request.plan.blueprint
            components = bp.host_groups[group]
            layout = self.clusters[request.cluster].layout.setdefault(host.name, {})
            for component in components:
                stack_entry = bp.stack.components.get(component)
                layout[component] = stack_entry.service if stack_entry else "UNKNOWN"
            clients = {
                c
                for c in components
                if c in bp.stack.components and bp.stack.components[c].is_client
            }
            tasks = schedule(
                self._next_task,
                host.name,
                components,
                clients,
                self.clock(),
                self.task_seconds,
                request.plan.provision_action == "INSTALL_ONLY",
                self.faults.fail_component,
            )
            self._next_task += len(tasks)
            request.tasks += tasks
            return

    def next_id(self) -> int:
        """The next request id (requests of all clusters share one sequence, as in Ambari)."""
        return next(self._ids)

    def new_tasks(self, count: int) -> int:
        """Reserve ``count`` task ids; returns the first."""
        first = self._next_task
        self._next_task += count
        return first

    def summary(self, request: LogicalRequest) -> Summary:
        """The request's status and progress now."""
        with self.lock:
            return summarise(request.tasks, self.clock(), request.pending_hosts)

    def request(self, cluster: str, request_id: int) -> LogicalRequest:
        """Request ``request_id`` of ``cluster``; raise Rejection (404) when there is none."""
        with self.lock:
            self.cluster(cluster)
            found = self.requests.get(request_id)
            if found is None or found.cluster != cluster:
                raise Rejection(
                    404,
                    "The requested resource doesn't exist: Request not found where "
                    f"Requests/cluster_name={cluster} AND Requests/id={request_id}.",
                )
            return found

    # --- agents ---------------------------------------------------------------------------

    def register(self, name: str, ip: str, agent_version: str) -> dict[str, Any]:
        """An agent registers under ``name`` (already lower-cased by the agent)."""
        with self.lock:
            if agent_version.split("-", maxsplit=1)[0] != self.version.split("-")[0]:
                return {
                    "response": "FAILED",
                    "responseId": -1,
                    "exitstatus": 1,
                    "log": "Cannot register host with non compatible agent version, "
                    f"hostname={name}, agentVersion={agent_version}, serverVersion={self.version}",
                }
            previous = self.hosts.get(name)
            host = Host(name, ip, self.clock(), cluster=previous.cluster if previous else None)
            self.hosts[name] = host
            if host.cluster is None:
                self._match(host)
            return {
                "response": "OK",
                "responseId": 0,
                "exitstatus": 0,
                "log": "",
                "statusCommands": [],
                "alertDefinitionCommands": [],
                "recoveryConfig": {},
                "agentConfig": {},
            }

    def heartbeat(self, name: str, response_id: int) -> dict[str, Any]:
        """An agent's heartbeat; the reply tells it to register again when we do not know it."""
        with self.lock:
            host = self.hosts.get(name)
            if host is None or response_id != host.response_id:
                return {"responseId": -1, "registrationCommand": {"commandType": "REGISTER"}}
            if not self.faults.drop_heartbeats:
                host.last_heartbeat = self.clock()
                host.response_id += 1
            return {
                "responseId": host.response_id,
                "executionCommands": [],
                "statusCommands": [],
                "cancelCommands": [],
                "hasMappedComponents": host.cluster is not None,
                "clusterSize": sum(1 for h in self.hosts.values() if h.cluster == host.cluster),
            }

    def host_facts(self, host: Host) -> dict[str, Any]:
        """The ``Hosts`` category of a registered host, as ``GET /hosts/{h}`` shows it."""
        state, status = self.host_state(host)
        info: dict[str, Any] = {
            "cpu_count": 2,
            "host_name": host.name,
            "host_state": state,
            "host_status": status,
            "ip": host.ip,
            "last_heartbeat_time": int((host.last_heartbeat or 0) * 1000),
            "last_registration_time": int(host.registered_at * 1000),
            "maintenance_state": "OFF",
            "os_arch": "x86_64",
            "os_family": "redhat7",
            "os_type": "redhat7",
            "ph_cpu_count": 2,
            "public_host_name": host.name,
            "rack_info": host.rack_info,
            "total_mem": 4054984,
        }
        if host.cluster:
            info["cluster_name"] = host.cluster
        return info

    def host_state(self, host: Host) -> tuple[str, str]:
        """(host_state, host_status) as Ambari reports them."""
        now = self.clock()
        last = host.last_heartbeat or host.registered_at
        if now - last > self.heartbeat_timeout:
            return "HEARTBEAT_LOST", "UNKNOWN"
        if host.last_heartbeat is None:
            return "WAITING_FOR_HOST_STATUS_UPDATES", "UNKNOWN"
        return "HEALTHY", "HEALTHY"


def host_predicates(doc: Any, key: str = "name") -> dict[str, Predicate]:
    """Compile each group's ``host_predicate`` (standard API predicates on ``Hosts/*``).

    Ambari evaluates the predicate against the registered host resource; only host
    properties may be used (TopologyManager / HostGroupInfo, apache/ambari).
    """
    groups = doc.get("host_groups", []) if isinstance(doc, dict) else doc
    predicates: dict[str, Predicate] = {}
    for group in groups if isinstance(groups, list) else []:
        if not isinstance(group, dict) or not group.get("host_predicate"):
            continue
        text = str(group["host_predicate"])
        try:
            predicate, properties = compile_predicate(text)
        except PredicateError as exc:
            raise Rejection(
                400, TEMPLATE + f"Unable to compile host predicate '{text}': {exc}"
            ) from None
        outside = [p for p in properties if not p.startswith("Hosts/")]
        if outside:
            raise Rejection(
                400,
                TEMPLATE + f"Unable to compile host predicate '{text}': only Hosts/* "
                f"properties may be used, not {', '.join(outside)}",
            )
        predicates[str(group.get(key))] = predicate
    return predicates


def blueprint_not_found(name: str) -> str:
    """Ambari's message for a blueprint that does not exist."""
    return (
        "The requested resource doesn't exist: Blueprint not found, "
        f"Blueprints/blueprint_name={name}"
    )
