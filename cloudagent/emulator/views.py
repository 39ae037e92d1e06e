"""The emulator's response bodies, shaped like Ambari's (reference §1.2-§1.8)."""

from __future__ import annotations

from typing import Any

from cloudagent.ambari.blueprint import Rejection
from cloudagent.emulator.model import Ambari, Host, LogicalRequest, blueprint_not_found

API = "/api/v1"


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


def blueprints(ambari: Ambari, base: str, query: dict[str, list[str]]) -> dict[str, Any]:
    with ambari.lock:
        items = []
        for name, (bp, _) in sorted(ambari.blueprints.items()):
            info: dict[str, Any] = {"blueprint_name": name}
            if query.get("fields"):
                info.update(
                    stack_name=bp.stack.name,
                    stack_version=bp.stack.version,
                    security={"type": bp.security_type},
                )
            items.append({"href": f"{base}{API}/blueprints/{name}", "Blueprints": info})
    return {"href": f"{base}{API}/blueprints", "items": items}


def blueprint(ambari: Ambari, base: str, name: str) -> dict[str, Any]:
    with ambari.lock:
        if name not in ambari.blueprints:
            raise Rejection(404, blueprint_not_found(name))
        bp, doc = ambari.blueprints[name]
        groups = [
            {
                "name": group,
                "cardinality": bp.cardinality_hints.get(group, "1"),
                "components": [{"name": c} for c in components],
                "configurations": _v2(
                    next(
                        (
                            g.get("configurations")
                            for g in doc.get("host_groups", [])
                            if g.get("name") == group
                        ),
                        [],
                    )
                ),
            }
            for group, components in bp.host_groups.items()
        ]
        return {
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
        }


def clusters(ambari: Ambari, base: str) -> dict[str, Any]:
    with ambari.lock:
        items = [
            {
                "href": f"{base}{API}/clusters/{c.name}",
                "Clusters": {"cluster_name": c.name, "version": _stack_id(ambari, c.blueprint)},
            }
            for c in ambari.clusters.values()
        ]
    return {"href": f"{base}{API}/clusters", "items": items}


def _stack_id(ambari: Ambari, blueprint_name: str) -> str:
    entry = ambari.blueprints.get(blueprint_name)
    return entry[0].stack.id if entry else "unknown"


def cluster(ambari: Ambari, base: str, name: str) -> dict[str, Any]:
    with ambari.lock:
        c = ambari.cluster(name)
        members = [h for h in ambari.hosts.values() if h.cluster == name]
        provisioned = all(
            ambari.summary(ambari.requests[r]).status == "COMPLETED" for r in c.requests
        )
        return {
            "href": f"{base}{API}/clusters/{name}",
            "Clusters": {
                "cluster_id": c.id,
                "cluster_name": name,
                "version": _stack_id(ambari, c.blueprint),
                "provisioning_state": "INSTALLED" if provisioned else "INIT",
                "security_type": "NONE",
                "total_hosts": len(members),
                "health_report": {
                    f"Host/host_status/{s}": sum(1 for h in members if ambari.host_state(h)[1] == s)
                    for s in ("HEALTHY", "UNHEALTHY", "ALERT", "UNKNOWN")
                },
                "desired_configs": {},
            },
            "hosts": [_host_ref(base, h) for h in members],
            "requests": [
                {
                    "href": f"{base}{API}/clusters/{name}/requests/{r}",
                    "Requests": {"cluster_name": name, "id": r},
                }
                for r in c.requests
            ],
        }


def accepted(ambari: Ambari, base: str, request: LogicalRequest) -> dict[str, Any]:
    status = "InProgress" if ambari.version.startswith("1.") else "Accepted"
    return {
        "href": f"{base}{API}/clusters/{request.cluster}/requests/{request.id}",
        "Requests": {"id": request.id, "status": status},
    }


def requests(ambari: Ambari, base: str, cluster_name: str) -> dict[str, Any]:
    with ambari.lock:
        c = ambari.cluster(cluster_name)
        items = [
            {
                "href": f"{base}{API}/clusters/{cluster_name}/requests/{r}",
                "Requests": {"cluster_name": cluster_name, "id": r},
            }
            for r in c.requests
        ]
    return {"href": f"{base}{API}/clusters/{cluster_name}/requests", "items": items}


def request(ambari: Ambari, base: str, cluster_name: str, request_id: int) -> dict[str, Any]:
    with ambari.lock:
        r = ambari.request(cluster_name, request_id)
        s = ambari.summary(r)
        href = f"{base}{API}/clusters/{cluster_name}/requests/{request_id}"
        counts = s.counts
        return {
            "href": href,
            "Requests": {
                "aborted_task_count": counts.get("ABORTED", 0),
                "cluster_name": cluster_name,
                "completed_task_count": sum(
                    counts.get(k, 0) for k in ("COMPLETED", "FAILED", "TIMEDOUT", "ABORTED")
                ),
                "create_time": int(r.created * 1000),
                "end_time": int(max(t.end for t in r.tasks) * 1000)
                if s.status in ("COMPLETED", "FAILED") and r.tasks
                else -1,
                "exclusive": False,
                "failed_task_count": counts.get("FAILED", 0),
                "id": request_id,
                "inputs": None,
                "operation_level": None,
                "pending_host_request_count": r.pending_hosts,
                "progress_percent": s.progress,
                "queued_task_count": counts.get("QUEUED", 0),
                "request_context": r.context,
                "request_schedule": None,
                "request_status": s.status,
                "resource_filters": [],
                "start_time": int(min(t.start for t in r.tasks) * 1000) if r.tasks else -1,
                "task_count": s.total,
                "timed_out_task_count": counts.get("TIMEDOUT", 0),
                "type": "INTERNAL_REQUEST" if r.tasks else None,
                "user_name": "admin",
            },
            "tasks": [
                {
                    "href": f"{href}/tasks/{t.id}",
                    "Tasks": {"cluster_name": cluster_name, "id": t.id, "request_id": request_id},
                }
                for t in r.tasks
            ],
        }


def _host_ref(base: str, host: Host) -> dict[str, Any]:
    info = {"host_name": host.name}
    if host.cluster:
        info["cluster_name"] = host.cluster
    return {"href": f"{base}{API}/hosts/{host.name}", "Hosts": info}


def _host_full(ambari: Ambari, base: str, host: Host) -> dict[str, Any]:
    state, status = ambari.host_state(host)
    info: dict[str, Any] = {
        "cpu_count": 2,
        "host_name": host.name,
        "host_state": state,
        "host_status": status,
        "ip": host.ip,
        "last_heartbeat_time": int((host.last_heartbeat or 0) * 1000),
        "last_registration_time": int(host.registered_at * 1000),
        "os_arch": "x86_64",
        "os_type": "redhat7",
        "ph_cpu_count": 2,
        "public_host_name": host.name,
        "rack_info": "/default-rack",
        "total_mem": 4054984,
    }
    if host.cluster:
        info["cluster_name"] = host.cluster
    return {"href": f"{base}{API}/hosts/{host.name}", "Hosts": info}


def hosts(
    ambari: Ambari, base: str, query: dict[str, list[str]], cluster_name: str | None = None
) -> dict[str, Any]:
    with ambari.lock:
        if cluster_name is not None:
            ambari.cluster(cluster_name)
        selected = [
            h
            for _, h in sorted(ambari.hosts.items())
            if cluster_name is None or h.cluster == cluster_name
        ]
        full = bool(query.get("fields"))
        items = [_host_full(ambari, base, h) if full else _host_ref(base, h) for h in selected]
    return {"href": f"{base}{API}/hosts", "items": items}


def host(ambari: Ambari, base: str, name: str) -> dict[str, Any]:
    with ambari.lock:
        found = ambari.hosts.get(name.lower())
        if found is None:
            raise Rejection(
                404, f"The requested resource doesn't exist: Host not found, hostname={name}"
            )
        return _host_full(ambari, base, found)
