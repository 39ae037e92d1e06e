"""Full resource documents for blueprints, clusters, requests, tasks and hosts.

Each view returns every property and sub-resource links; ``query`` then narrows them the
way Ambari's renderer does (key properties only for collection items without ``fields``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cloudagent.ambari.blueprint import Rejection
from cloudagent.emulator.model import Ambari, Host, LogicalRequest, blueprint_not_found
from cloudagent.emulator.progress import Task, failed_at, task_status
from cloudagent.emulator.query import Resource

API = "/api/v1"
BLUEPRINT_KEYS = ("Blueprints/blueprint_name",)
CLUSTER_KEYS = ("Clusters/cluster_name", "Clusters/version")
REQUEST_KEYS = ("Requests/cluster_name", "Requests/id")
TASK_KEYS = ("Tasks/cluster_name", "Tasks/id", "Tasks/request_id")
HOST_KEYS = ("Hosts/cluster_name", "Hosts/host_name")


@dataclass(frozen=True)
class Listing:
    """A collection before the query is applied."""

    href: str
    items: list[Resource]
    kind: str
    keys: tuple[str, ...]


def _v2(configs: list[Any] | None) -> list[dict[str, Any]]:
    """Configurations are always returned in the V2 form."""
    result = []
    for element in configs or []:
        for config_type, body in element.items():
            if isinstance(body, dict) and ({"properties", "properties_attributes"} & set(body)):
                props, attrs = body.get("properties", {}), body.get("properties_attributes")
            else:
                props, attrs = body, None
            entry: dict[str, Any] = {"properties": props}
            if attrs:
                entry["properties_attributes"] = attrs
            result.append({config_type: entry})
    return result


def blueprint(ambari: Ambari, base: str, name: str) -> Resource:
    with ambari.lock:
        if name not in ambari.blueprints:
            raise Rejection(404, blueprint_not_found(name))
        bp, doc = ambari.blueprints[name]
        raw_groups = {g.get("name"): g for g in doc.get("host_groups", []) if isinstance(g, dict)}
        groups = [
            {
                "name": group,
                "cardinality": bp.cardinality_hints.get(group, "1"),
                "components": [{"name": c} for c in components],
                "configurations": _v2(raw_groups.get(group, {}).get("configurations")),
            }
            for group, components in bp.host_groups.items()
        ]
        return Resource(
            "Blueprint",
            {
                "href": f"{base}{API}/blueprints/{name}",
                "configurations": _v2(doc.get("configurations")),
                "host_groups": groups,
                "settings": doc.get("settings", []),
                "Blueprints": {
                    "blueprint_name": name,
                    "security": {"type": bp.security_type},
                    "stack_name": bp.stack.name,
                    "stack_version": bp.stack.version,
                },
            },
            BLUEPRINT_KEYS,
        )


def blueprints(ambari: Ambari, base: str) -> Listing:
    with ambari.lock:
        items = [blueprint(ambari, base, n) for n in sorted(ambari.blueprints)]
    return Listing(f"{base}{API}/blueprints", items, "Blueprint", BLUEPRINT_KEYS)


def _stack_id(ambari: Ambari, blueprint_name: str) -> str:
    entry = ambari.blueprints.get(blueprint_name)
    return entry[0].stack.id if entry else "unknown"


def _ref(href: str, category: str, **keys: Any) -> dict[str, Any]:
    return {"href": href, category: keys}


def cluster(ambari: Ambari, base: str, name: str) -> Resource:
    with ambari.lock:
        c = ambari.cluster(name)
        href = f"{base}{API}/clusters/{name}"
        members = [ambari.hosts[h] for h in c.layout if h in ambari.hosts]
        provisioned = all(
            ambari.summary(ambari.requests[r]).status == "COMPLETED" for r in c.requests
        )
        services = dict.fromkeys(s for comps in c.layout.values() for s in comps.values())
        stack = _stack_id(ambari, c.blueprint)
        return Resource(
            "Cluster",
            {
                "href": href,
                "Clusters": {
                    "cluster_id": c.id,
                    "cluster_name": name,
                    "desired_configs": {},
                    "health_report": {
                        f"Host/host_status/{s}": sum(
                            1 for h in members if ambari.host_state(h)[1] == s
                        )
                        for s in ("HEALTHY", "UNHEALTHY", "ALERT", "UNKNOWN")
                    },
                    "provisioning_state": "INSTALLED" if provisioned else "INIT",
                    "security_type": "NONE",
                    "total_hosts": len(c.layout),
                    "version": stack,
                },
                "hosts": [
                    _ref(f"{href}/hosts/{h}", "Hosts", cluster_name=name, host_name=h)
                    for h in sorted(c.layout)
                ],
                "requests": [
                    _ref(f"{href}/requests/{r}", "Requests", cluster_name=name, id=r)
                    for r in c.requests
                ],
                "services": [
                    _ref(f"{href}/services/{s}", "ServiceInfo", cluster_name=name, service_name=s)
                    for s in services
                ],
                "stack_versions": [
                    _ref(
                        f"{href}/stack_versions/1",
                        "ClusterStackVersions",
                        cluster_name=name,
                        id=1,
                        repository_version=1,
                        stack=stack.split("-")[0],
                        version=stack.partition("-")[2],
                    )
                ],
            },
            CLUSTER_KEYS,
        )


def clusters(ambari: Ambari, base: str) -> Listing:
    with ambari.lock:
        items = [cluster(ambari, base, n) for n in ambari.clusters]
    return Listing(f"{base}{API}/clusters", items, "Cluster", CLUSTER_KEYS)


def accepted(ambari: Ambari, base: str, request: LogicalRequest) -> dict[str, Any]:
    status = "InProgress" if ambari.version.startswith("1.") else "Accepted"
    return {
        "href": f"{base}{API}/clusters/{request.cluster}/requests/{request.id}",
        "Requests": {"id": request.id, "status": status},
    }


def request(ambari: Ambari, base: str, cluster_name: str, request_id: int) -> Resource:
    with ambari.lock:
        r = ambari.request(cluster_name, request_id)
        s = ambari.summary(r)
        href = f"{base}{API}/clusters/{cluster_name}/requests/{request_id}"
        counts = s.counts
        finished = s.status in ("COMPLETED", "FAILED", "ABORTED", "TIMEDOUT")
        return Resource(
            "Request",
            {
                "href": href,
                "Requests": {
                    "aborted_task_count": counts.get("ABORTED", 0),
                    "cluster_name": cluster_name,
                    "completed_task_count": sum(
                        counts.get(k, 0) for k in ("COMPLETED", "FAILED", "TIMEDOUT", "ABORTED")
                    ),
                    "create_time": int(r.created * 1000),
                    "end_time": int(max(t.end for t in r.tasks) * 1000)
                    if finished and r.tasks
                    else -1,
                    "exclusive": False,
                    "failed_task_count": counts.get("FAILED", 0),
                    "id": request_id,
                    "inputs": r.inputs,
                    "operation_level": None,
                    "pending_host_request_count": r.pending_hosts,
                    "progress_percent": s.progress,
                    "queued_task_count": counts.get("QUEUED", 0),
                    "request_context": r.context,
                    "request_schedule": None,
                    "request_status": s.status,
                    "resource_filters": r.filters,
                    "start_time": int(min(t.start for t in r.tasks) * 1000) if r.tasks else -1,
                    "task_count": s.total,
                    "timed_out_task_count": counts.get("TIMEDOUT", 0),
                    "type": "INTERNAL_REQUEST" if r.tasks else None,
                    "user_name": "admin",
                },
                "tasks": [
                    _ref(
                        f"{href}/tasks/{t.id}",
                        "Tasks",
                        cluster_name=cluster_name,
                        id=t.id,
                        request_id=request_id,
                    )
                    for t in r.tasks
                ],
            },
            REQUEST_KEYS,
        )


def requests(ambari: Ambari, base: str, cluster_name: str) -> Listing:
    with ambari.lock:
        c = ambari.cluster(cluster_name)
        items = [request(ambari, base, cluster_name, r) for r in c.requests]
    return Listing(f"{base}{API}/clusters/{cluster_name}/requests", items, "Request", REQUEST_KEYS)


def _task_doc(href: str, cluster_name: str, r: LogicalRequest, t: Task, now: float) -> Resource:
    status = task_status(t, now, failed_at(r.tasks))
    done = status in ("COMPLETED", "FAILED", "ABORTED", "TIMEDOUT")
    command = t.custom or t.command
    return Resource(
        "Task",
        {
            "href": href,
            "Tasks": {
                "attempt_cnt": 1 if status not in ("PENDING", "ABORTED") else 0,
                "cluster_name": cluster_name,
                "command": t.command,
                "command_detail": f"{t.component} {command}",
                "custom_command_name": t.custom,
                "end_time": int(t.end * 1000) if done and status != "ABORTED" else -1,
                "error_log": f"/var/lib/ambari-agent/data/errors-{t.id}.txt",
                "exit_code": {"COMPLETED": 0, "FAILED": 1}.get(status, 999),
                "host_name": t.host,
                "id": t.id,
                "output_log": f"/var/lib/ambari-agent/data/output-{t.id}.txt",
                "request_id": r.id,
                "role": t.component,
                "stage_id": t.stage,
                "start_time": int(t.run * 1000) if now >= t.run else -1,
                "status": status,
                "stderr": "emulated failure" if status == "FAILED" else "",
                "stdout": "",
                "structured_out": {},
            },
        },
        TASK_KEYS,
    )


def task(ambari: Ambari, base: str, cluster_name: str, request_id: int, task_id: int) -> Resource:
    with ambari.lock:
        r = ambari.request(cluster_name, request_id)
        found = next((t for t in r.tasks if t.id == task_id), None)
        if found is None:
            raise Rejection(
                404,
                "The requested resource doesn't exist: Task not found where "
                f"Tasks/request_id={request_id} AND Tasks/id={task_id}.",
            )
        href = f"{base}{API}/clusters/{cluster_name}/requests/{request_id}/tasks/{task_id}"
        return _task_doc(href, cluster_name, r, found, ambari.clock())


def tasks(ambari: Ambari, base: str, cluster_name: str, request_id: int) -> Listing:
    with ambari.lock:
        r = ambari.request(cluster_name, request_id)
        items = [task(ambari, base, cluster_name, request_id, t.id) for t in r.tasks]
    href = f"{base}{API}/clusters/{cluster_name}/requests/{request_id}/tasks"
    return Listing(href, items, "Task", TASK_KEYS)


def host_doc(ambari: Ambari, base: str, found: Host) -> Resource:
    """A registered host at ``/hosts/{h}``."""
    return Resource(
        "Host",
        {"href": f"{base}{API}/hosts/{found.name}", "Hosts": ambari.host_facts(found)},
        HOST_KEYS,
    )


def host(ambari: Ambari, base: str, name: str) -> Resource:
    with ambari.lock:
        found = ambari.hosts.get(name.lower())
        if found is None:
            raise Rejection(
                404, f"The requested resource doesn't exist: Host not found, hostname={name}"
            )
        return host_doc(ambari, base, found)


def hosts(ambari: Ambari, base: str) -> Listing:
    with ambari.lock:
        items = [host_doc(ambari, base, h) for _, h in sorted(ambari.hosts.items())]
    return Listing(f"{base}{API}/hosts", items, "Host", HOST_KEYS)
