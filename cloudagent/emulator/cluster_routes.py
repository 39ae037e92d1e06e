"""Routes for a cluster's hosts, host components and services: reading and operating them."""

from __future__ import annotations

import json
from typing import Any

from cloudagent.ambari.blueprint import Rejection
from cloudagent.emulator import cluster_views, operations
from cloudagent.emulator.model import Cluster
from cloudagent.emulator.predicate import PredicateError, compile_predicate
from cloudagent.emulator.query import Query
from cloudagent.emulator.routes import Call, Reply, accepted, body_doc, route

# --- cluster hosts --------------------------------------------------------------------------


@route("GET", "/clusters/{cluster}/hosts")
def get_cluster_hosts(call: Call, cluster: str) -> Any:
    return cluster_views.cluster_hosts(call.ambari, call.base, cluster)


def _add_hosts(call: Call, cluster: str, entries: list[Any]) -> Reply:
    c = call.ambari.cluster(cluster)
    if any(isinstance(e, dict) and "blueprint" in e for e in entries):
        return accepted(call, call.ambari.scale_cluster(cluster, json.dumps(entries)))
    names = []
    for entry in entries:
        info = entry.get("Hosts", {}) if isinstance(entry, dict) else {}
        name = info.get("host_name") if isinstance(info, dict) else None
        name = name or (entry.get("Hosts/host_name") if isinstance(entry, dict) else None)
        if not name:
            raise Rejection(400, "Invalid Request: every host needs Hosts/host_name")
        names.append(str(name).lower())
    operations.add_hosts(call.ambari, c, names)
    return Reply(201)


@route("POST", "/clusters/{cluster}/hosts")
def post_cluster_hosts(call: Call, cluster: str) -> Reply:
    doc = body_doc(call)
    if not isinstance(doc, (list, dict)):
        raise Rejection(400, "Invalid Request: Malformed Request Body.  Expected host entries")
    return _add_hosts(call, cluster, doc if isinstance(doc, list) else [doc])


@route("POST", "/clusters/{cluster}/hosts/{host}")
def post_cluster_host(call: Call, cluster: str, host: str) -> Reply:
    doc = body_doc(call)
    if isinstance(doc, dict) and "blueprint" in doc:
        return _add_hosts(call, cluster, [{**doc, "host_name": host}])
    return _add_hosts(call, cluster, [{"Hosts": {"host_name": host}}])


@route("GET", "/clusters/{cluster}/hosts/{host}")
def get_cluster_host(call: Call, cluster: str, host: str) -> Any:
    return cluster_views.cluster_host(call.ambari, call.base, cluster, host)


@route("DELETE", "/clusters/{cluster}/hosts/{host}")
def delete_cluster_host(call: Call, cluster: str, host: str) -> Reply:
    operations.delete_cluster_host(call.ambari, call.ambari.cluster(cluster), host.lower())
    return Reply(200)


# --- host components ------------------------------------------------------------------------


def _state_change(call: Call, category: str) -> tuple[str, str, Query]:
    """(desired state, request context, query) from a PUT body, bare or in ``Body``."""
    doc = body_doc(call)
    if not isinstance(doc, dict):
        raise Rejection(400, "Invalid Request: Malformed Request Body")
    info: dict[str, Any] = doc["RequestInfo"] if isinstance(doc.get("RequestInfo"), dict) else {}
    body: dict[str, Any] = doc["Body"] if isinstance(doc.get("Body"), dict) else doc
    props: dict[str, Any] = body[category] if isinstance(body.get(category), dict) else {}
    state = props.get("state") or body.get(f"{category}/state")
    if not state:
        raise Rejection(400, f"Invalid Request: {category}/state is required")
    query = call.query
    if info.get("query"):
        try:
            predicate, properties = compile_predicate(str(info["query"]))
        except PredicateError as exc:
            raise Rejection(400, f"Unable to compile query predicate: {exc}") from None
        query = Query(call.query.raw, predicate, properties, call.query.fields, call.query.params)
    context = str(info.get("context") or f"Set {category}/state to {state}")
    return str(state), context, query


def _selected(items: list[Any], query: Query) -> list[Any]:
    return [r for r in items if query.predicate is None or query.predicate(r.doc)]


@route("GET", "/clusters/{cluster}/host_components")
def get_all_host_components(call: Call, cluster: str) -> Any:
    return cluster_views.host_components(call.ambari, call.base, cluster)


@route("GET", "/clusters/{cluster}/hosts/{host}/host_components")
def get_host_components(call: Call, cluster: str, host: str) -> Any:
    return cluster_views.host_components(call.ambari, call.base, cluster, host)


def _put_host_components(call: Call, cluster: str, host: str | None) -> Reply:
    state, context, query = _state_change(call, "HostRoles")
    listing = cluster_views.host_components(call.ambari, call.base, cluster, host)
    targets = [
        (r.doc["HostRoles"]["host_name"], r.doc["HostRoles"]["component_name"])
        for r in _selected(listing.items, query)
    ]
    c = call.ambari.cluster(cluster)
    return accepted(call, operations.set_states(call.ambari, c, targets, state, context))


@route("PUT", "/clusters/{cluster}/host_components")
def put_all_host_components(call: Call, cluster: str) -> Reply:
    return _put_host_components(call, cluster, None)


@route("PUT", "/clusters/{cluster}/hosts/{host}/host_components")
def put_host_components(call: Call, cluster: str, host: str) -> Reply:
    return _put_host_components(call, cluster, host)


@route("GET", "/clusters/{cluster}/hosts/{host}/host_components/{component}")
def get_host_component(call: Call, cluster: str, host: str, component: str) -> Any:
    return cluster_views.host_component(call.ambari, call.base, cluster, host, component)


@route("POST", "/clusters/{cluster}/hosts/{host}/host_components/{component}")
def post_host_component(call: Call, cluster: str, host: str, component: str) -> Reply:
    c = call.ambari.cluster(cluster)
    operations.add_host_component(call.ambari, c, host.lower(), component)
    return Reply(201)


@route("PUT", "/clusters/{cluster}/hosts/{host}/host_components/{component}")
def put_host_component(call: Call, cluster: str, host: str, component: str) -> Reply:
    state, context, _ = _state_change(call, "HostRoles")
    cluster_views.host_component(call.ambari, call.base, cluster, host, component)
    c = call.ambari.cluster(cluster)
    request = operations.set_states(call.ambari, c, [(host.lower(), component)], state, context)
    return accepted(call, request)


@route("DELETE", "/clusters/{cluster}/hosts/{host}/host_components/{component}")
def delete_host_component(call: Call, cluster: str, host: str, component: str) -> Reply:
    c = call.ambari.cluster(cluster)
    operations.delete_host_component(call.ambari, c, host.lower(), component)
    return Reply(200)


# --- services and components ----------------------------------------------------------------


@route("GET", "/clusters/{cluster}/services")
def get_services(call: Call, cluster: str) -> Any:
    return cluster_views.services(call.ambari, call.base, cluster)


def _put_services(call: Call, c: Cluster, names: list[str], state: str, context: str) -> Reply:
    targets = operations.service_targets(c, names)
    return accepted(call, operations.set_states(call.ambari, c, targets, state, context))


@route("PUT", "/clusters/{cluster}/services")
def put_services(call: Call, cluster: str) -> Reply:
    state, context, query = _state_change(call, "ServiceInfo")
    listing = cluster_views.services(call.ambari, call.base, cluster)
    names = [r.doc["ServiceInfo"]["service_name"] for r in _selected(listing.items, query)]
    return _put_services(call, call.ambari.cluster(cluster), names, state, context)


@route("GET", "/clusters/{cluster}/services/{service}")
def get_service(call: Call, cluster: str, service: str) -> Any:
    return cluster_views.service(call.ambari, call.base, cluster, service)


@route("PUT", "/clusters/{cluster}/services/{service}")
def put_service(call: Call, cluster: str, service: str) -> Reply:
    state, context, _ = _state_change(call, "ServiceInfo")
    cluster_views.service(call.ambari, call.base, cluster, service)
    return _put_services(call, call.ambari.cluster(cluster), [service], state, context)


@route("GET", "/clusters/{cluster}/services/{service}/components")
def get_service_components(call: Call, cluster: str, service: str) -> Any:
    return cluster_views.components(call.ambari, call.base, cluster, service)


@route("GET", "/clusters/{cluster}/services/{service}/components/{component}")
def get_service_component(call: Call, cluster: str, service: str, component: str) -> Any:
    return cluster_views.component(call.ambari, call.base, cluster, service, component)


@route("GET", "/clusters/{cluster}/components")
def get_components(call: Call, cluster: str) -> Any:
    return cluster_views.components(call.ambari, call.base, cluster)
