"""Operating a running cluster: host component and service states, custom commands, deletes.

States follow from the task model: a host component's state is the effect of the latest of
its tasks that has begun (INSTALL -> INSTALLING/INSTALLED/INSTALL_FAILED, START ->
STARTING/STARTED, STOP -> STOPPING/INSTALLED, RESTART -> STARTED), INIT before any.
Every state change or command becomes a request with tasks, answered 202 and polled like a
provisioning request (ambari-server/docs/api/v1/index.md "Asynchronous Response").
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Final

from cloudagent.ambari.blueprint import Rejection
from cloudagent.emulator.model import Ambari, Cluster, LogicalRequest
from cloudagent.emulator.progress import Task, failed_at, task_status

# HostResourceProvider / ServiceComponentHost: states in which a component may be deleted.
REMOVABLE: Final = frozenset({
    "INIT", "INSTALLING", "INSTALLED", "INSTALL_FAILED", "UNINSTALLED", "UNKNOWN", "DISABLED",
})  # fmt: skip
_EFFECT: Final = {
    "INSTALL": ("INSTALLING", "INSTALLED", "INSTALL_FAILED"),
    "START": ("STARTING", "STARTED", "INSTALLED"),
    "STOP": ("STOPPING", "INSTALLED", "STARTED"),
    "RESTART": ("STARTING", "STARTED", "INSTALLED"),
}
_DESIRED: Final = {"INSTALL": "INSTALLED", "START": "STARTED", "STOP": "INSTALLED"}
_ORDER: Final = ("STARTING", "STOPPING", "INSTALLING", "INSTALL_FAILED", "INIT")


def _command(task: Task) -> str:
    return task.custom or task.command


def _tasks_of(
    ambari: Ambari, cluster: Cluster, host: str, component: str
) -> list[tuple[Task, str]]:
    now = ambari.clock()
    found = []
    for request_id in cluster.requests:
        request = ambari.requests[request_id]
        failure = failed_at(request.tasks)
        for task in request.tasks:
            if task.host == host and task.component == component:
                found.append((task, task_status(task, now, failure)))
    return found


def component_state(ambari: Ambari, cluster: Cluster, host: str, component: str) -> str:
    """``HostRoles/state`` of one host component."""
    state = "INIT"
    begun = [
        (t, s)
        for t, s in _tasks_of(ambari, cluster, host, component)
        if _command(t) in _EFFECT and s in ("IN_PROGRESS", "COMPLETED", "FAILED")
    ]
    if begun:
        task, status = max(begun, key=lambda ts: (ts[0].run, ts[0].id))
        running, done, failed = _EFFECT[_command(task)]
        state = {"IN_PROGRESS": running, "COMPLETED": done, "FAILED": failed}[status]
    return state


def desired_state(ambari: Ambari, cluster: Cluster, host: str, component: str) -> str:
    """``HostRoles/desired_state``: what the latest command asked for."""
    asked = [t for t, _ in _tasks_of(ambari, cluster, host, component) if _command(t) in _EFFECT]
    if not asked:
        return "INIT"
    latest = max(asked, key=lambda t: (t.run, t.id))
    return _DESIRED.get(_command(latest), "STARTED")


def aggregate(states: Iterable[str]) -> str:
    """One state for a service or component from its host components' states.

    An approximation of Ambari's calculated service state: STARTED only when every
    (non-client) host component is, a transition or failure when any is, else INSTALLED.
    """
    seen = set(states)
    if not seen:
        return "INIT"
    if seen == {"STARTED"}:
        return "STARTED"
    return next((s for s in _ORDER if s in seen), "INSTALLED")


def is_client(ambari: Ambari, cluster: Cluster, component: str) -> bool:
    """Whether the cluster's stack says ``component`` is a CLIENT."""
    stack = (
        ambari.blueprints[cluster.blueprint][0].stack
        if cluster.blueprint in ambari.blueprints
        else None
    )
    entry = stack.components.get(component) if stack else None
    return bool(entry and entry.is_client)


def _operation(
    ambari: Ambari,
    cluster: Cluster,
    context: str,
    plan: list[tuple[str, str, str, str | None]],
    filters: list[dict[str, Any]] | None = None,
) -> LogicalRequest | None:
    """A request whose tasks (host, component, command, custom name) start now."""
    if not plan:
        return None
    now, duration = ambari.clock(), ambari.task_seconds
    first_stage = {"INSTALL", "STOP"}
    two_stages = any(c in first_stage for _, _, c, _ in plan) and any(
        c not in first_stage for _, _, c, _ in plan
    )
    first = ambari.new_tasks(len(plan))
    tasks = []
    for index, (host, component, command, custom) in enumerate(plan):
        stage = 1 if two_stages and command not in first_stage else 0
        begin = now + stage * duration
        tasks.append(
            Task(
                id=first + index,
                host=host,
                component=component,
                command=command,
                start=begin,
                run=begin + 0.1 * duration,
                end=begin + duration,
                fails=component == ambari.faults.fail_component,
                stage=stage,
                custom=custom,
            )
        )
    request = LogicalRequest(
        id=ambari.next_id(),
        cluster=cluster.name,
        context=context,
        plan=None,
        created=now,
        tasks=tasks,
        filters=filters or [],
    )
    ambari.requests[request.id] = request
    cluster.requests.append(request.id)
    return request


def _transition(
    ambari: Ambari, cluster: Cluster, host: str, component: str, target: str
) -> tuple[str, str, str, str | None] | None:
    current = component_state(ambari, cluster, host, component)
    client = is_client(ambari, cluster, component)
    if target == "INSTALLED":
        if current in ("INIT", "INSTALL_FAILED", "UNINSTALLED"):
            return (host, component, "INSTALL", None)
        if current == "STARTED" and not client:
            return (host, component, "STOP", None)
        return None
    if target == "STARTED":
        if client or current == "STARTED":
            return None
        if current == "INSTALLED":
            return (host, component, "START", None)
        raise Rejection(
            400,
            "Invalid transition for servicecomponenthost, clusterName="
            f"{cluster.name}, hostname={host}, componentName={component}, "
            f"currentState={current}, newDesiredState={target}",
        )
    raise Rejection(
        400,
        f"Invalid desired state {target!r} for {component} on {host}: "
        "the emulator moves host components to INSTALLED or STARTED",
    )


def set_states(
    ambari: Ambari,
    cluster: Cluster,
    targets: Iterable[tuple[str, str]],
    state: str,
    context: str,
) -> LogicalRequest | None:
    """Move host components to ``state``; None when nothing has to change (Ambari: 200)."""
    with ambari.lock:
        plan = [
            step
            for host, component in targets
            if (step := _transition(ambari, cluster, host, component, state)) is not None
        ]
        return _operation(ambari, cluster, context, plan)


def service_targets(cluster: Cluster, services: Iterable[str]) -> list[tuple[str, str]]:
    """Every host component of ``services``."""
    wanted = set(services)
    return [
        (host, component)
        for host, components in cluster.layout.items()
        for component, service in components.items()
        if service in wanted
    ]


def custom_command(ambari: Ambari, cluster: Cluster, doc: Any) -> LogicalRequest:
    """``POST /clusters/{c}/requests`` with ``RequestInfo/command`` or ``RequestInfo/action``."""
    if not isinstance(doc, dict) or not isinstance(doc.get("RequestInfo"), dict):
        raise Rejection(400, "Invalid Request: RequestInfo with a command or an action is required")
    info = doc["RequestInfo"]
    filters = doc.get("Requests/resource_filters")
    if filters is None and isinstance(doc.get("Requests"), dict):
        filters = doc["Requests"].get("resource_filters")
    filters = [f for f in filters or [] if isinstance(f, dict)]
    command, action = info.get("command"), info.get("action")
    if not command and not action:
        raise Rejection(400, "Invalid Request: RequestInfo must carry a 'command' or an 'action'")
    plan: list[tuple[str, str, str, str | None]] = []
    with ambari.lock:
        for entry in filters or [{}]:
            service, component = entry.get("service_name"), entry.get("component_name")
            hosts = [
                h.strip().lower() for h in str(entry.get("hosts") or "").split(",") if h.strip()
            ]
            if service and not any(service in c.values() for c in cluster.layout.values()):
                raise Rejection(
                    404,
                    "The requested resource doesn't exist: Service not found, "
                    f"clusterName={cluster.name}, serviceName={service}",
                )
            if not hosts:
                hosts = [
                    h
                    for h, comps in cluster.layout.items()
                    if (component is None and service is None)
                    or (component in comps if component else service in comps.values())
                ]
            for host in hosts:
                if host not in cluster.layout:
                    raise Rejection(
                        404,
                        "The requested resource doesn't exist: Host not found, "
                        f"cluster={cluster.name}, hostname={host}",
                    )
                role = component or (str(action) if action else str(command))
                if action:
                    plan.append((host, role, "ACTIONEXECUTE", None))
                else:
                    plan.append((host, role, "CUSTOM_COMMAND", str(command)))
        context = str(info.get("context") or command or action)
        request = _operation(ambari, cluster, context, plan, filters)
    if request is None:
        raise Rejection(400, "Invalid Request: the resource filters select no host in the cluster")
    request.inputs = str(info["parameters"]) if info.get("parameters") else None
    return request


def removable_or_raise(ambari: Ambari, cluster: Cluster, host: str) -> None:
    """Ambari refuses to remove a host while any of its components is not stopped."""
    busy = [
        c
        for c in cluster.layout.get(host, {})
        if component_state(ambari, cluster, host, c) not in REMOVABLE
    ]
    if busy:
        raise Rejection(
            500,
            f"An internal system exception occurred: Cannot remove host {host} from "
            f"{cluster.name}.  The following roles exist, and these components are not in the "
            f"removable state: {', '.join(busy)}",
        )


def _host_not_found(cluster: str, host: str) -> Rejection:
    return Rejection(
        404,
        f"The specified resource doesn't exist: Host not found, cluster={cluster}, hostname={host}",
    )


def delete_cluster_host(ambari: Ambari, cluster: Cluster, host: str) -> None:
    """``DELETE /clusters/{c}/hosts/{h}``: out of the cluster, its components with it."""
    with ambari.lock:
        if host not in cluster.layout:
            raise _host_not_found(cluster.name, host)
        removable_or_raise(ambari, cluster, host)
        del cluster.layout[host]
        if host in ambari.hosts:
            ambari.hosts[host].cluster = None
        for request_id in cluster.requests:
            ambari.requests[request_id].reserved.pop(host, None)


def delete_host(ambari: Ambari, host: str) -> None:
    """``DELETE /hosts/{h}``: out of its cluster and out of Ambari."""
    with ambari.lock:
        found = ambari.hosts.get(host)
        if found is None:
            raise Rejection(
                404, f"The specified resource doesn't exist: Host not found, hostname={host}"
            )
        cluster = ambari.clusters.get(found.cluster or "")
        if cluster is not None and host in cluster.layout:
            delete_cluster_host(ambari, cluster, host)
        del ambari.hosts[host]


def delete_cluster(ambari: Ambari, cluster: Cluster) -> None:
    """``DELETE /clusters/{c}``: refused while a component is started."""
    with ambari.lock:
        for host in list(cluster.layout):
            removable_or_raise(ambari, cluster, host)
        for member in ambari.hosts.values():
            if member.cluster == cluster.name:
                member.cluster = None
        for request_id in cluster.requests:
            ambari.requests.pop(request_id, None)
        del ambari.clusters[cluster.name]


def add_hosts(ambari: Ambari, cluster: Cluster, names: list[str]) -> None:
    """A plain add-host (no blueprint): registered hosts join the cluster with no component."""
    with ambari.lock:
        unknown = [n for n in names if n not in ambari.hosts]
        if unknown:
            raise Rejection(
                400,
                "Attempted to add unknown hosts to a cluster.  These hosts have not been "
                f"registered with the server: {', '.join(unknown)}",
            )
        for name in names:
            if name in cluster.layout or ambari.hosts[name].cluster is not None:
                raise Rejection(
                    409,
                    "Attempted to create a host which already exists: "
                    f"clusterName={cluster.name}, hostName={name}",
                )
        for name in names:
            cluster.layout[name] = {}
            ambari.hosts[name].cluster = cluster.name


def add_host_component(ambari: Ambari, cluster: Cluster, host: str, component: str) -> None:
    """``POST /clusters/{c}/hosts/{h}/host_components/{comp}``: a new component in INIT."""
    with ambari.lock:
        if host not in cluster.layout:
            raise _host_not_found(cluster.name, host)
        bp = ambari.blueprints.get(cluster.blueprint)
        entry = bp[0].stack.components.get(component) if bp else None
        if entry is None:
            raise Rejection(
                400,
                f"Unable to add component {component}: it is not a component of the "
                f"cluster's stack",
            )
        if component in cluster.layout[host]:
            raise Rejection(
                409,
                "Attempted to create a host_component which already exists: "
                f"[clusterName={cluster.name}, hostName={host}, componentName={component}]",
            )
        cluster.layout[host][component] = entry.service


def delete_host_component(ambari: Ambari, cluster: Cluster, host: str, component: str) -> None:
    """``DELETE .../host_components/{comp}``: only when the component is not started."""
    with ambari.lock:
        if component not in cluster.layout.get(host, {}):
            raise Rejection(
                404,
                "The requested resource doesn't exist: ServiceComponentHost not found, "
                f"clusterName={cluster.name}, hostName={host}, componentName={component}",
            )
        state = component_state(ambari, cluster, host, component)
        if state not in REMOVABLE:
            raise Rejection(
                500,
                "An internal system exception occurred: Host Component cannot be removed, "
                f"clusterName={cluster.name}, serviceName={cluster.layout[host][component]}, "
                f"componentName={component}, hostname={host}, state={state}",
            )
        del cluster.layout[host][component]
