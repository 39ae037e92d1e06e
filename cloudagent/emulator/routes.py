"""Ambari's REST resources as a route table: (method, path pattern) -> handler.

A handler returns a Resource (GET of an instance), a Listing (GET of a collection) or a
Reply (anything else); the server applies the query string and renders the result.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cloudagent.ambari.blueprint import Rejection, parse_body
from cloudagent.emulator import catalog, cluster_views, operations, views
from cloudagent.emulator.model import Ambari, Cluster, LogicalRequest
from cloudagent.emulator.predicate import PredicateError, compile_predicate
from cloudagent.emulator.query import Query


@dataclass(frozen=True)
class Call:
    """One API call: the model, the server's base URL, the parsed query, the request body."""

    ambari: Ambari
    base: str
    query: Query
    body: str


@dataclass(frozen=True)
class Reply:
    """A response other than a GET of a resource."""

    status: int
    doc: Any = None
    text: str | None = None


Handler = Callable[..., Any]
ROUTES: list[tuple[str, re.Pattern[str], Handler]] = []
_SEGMENT = r"(?P<{}>[^/]+)"


def route(method: str, path: str) -> Callable[[Handler], Handler]:
    """Register a handler for ``method`` on ``path`` (``{name}`` is one path segment)."""
    pattern = re.compile(
        "/api/v1" + re.sub(r"\{(\w+)\}", lambda m: _SEGMENT.format(m[1]), path) + "/?"
    )

    def register(handler: Handler) -> Handler:
        ROUTES.append((method, pattern, handler))
        return handler

    return register


def _doc(call: Call) -> Any:
    return parse_body(call.body) if call.body.strip() else {}


def _accepted(call: Call, request: LogicalRequest | None) -> Reply:
    # Nothing to change: Ambari answers 200 with no request to follow.
    return (
        Reply(200)
        if request is None
        else Reply(202, views.accepted(call.ambari, call.base, request))
    )


# --- server ---------------------------------------------------------------------------------


@route("GET", "/check")
def check(call: Call) -> Reply:
    """api/rest/HealthCheck.java: text/plain ``RUNNING``."""
    return Reply(200, text="RUNNING")


# --- blueprints -----------------------------------------------------------------------------


@route("GET", "/blueprints")
def get_blueprints(call: Call) -> Any:
    return views.blueprints(call.ambari, call.base)


@route("GET", "/blueprints/{name}")
def get_blueprint(call: Call, name: str) -> Any:
    return views.blueprint(call.ambari, call.base, name)


@route("POST", "/blueprints/{name}")
def post_blueprint(call: Call, name: str) -> Reply:
    validate = call.query.param("validate_topology").lower() != "false"
    call.ambari.add_blueprint(name, call.body, validate)
    return Reply(201)


@route("DELETE", "/blueprints/{name}")
def delete_blueprint(call: Call, name: str) -> Reply:
    call.ambari.delete_blueprint(name)
    return Reply(200)


# --- clusters -------------------------------------------------------------------------------


@route("GET", "/clusters")
def get_clusters(call: Call) -> Any:
    return views.clusters(call.ambari, call.base)


@route("GET", "/clusters/{cluster}")
def get_cluster(call: Call, cluster: str) -> Any:
    if call.query.param("format"):
        call.ambari.cluster(cluster)
        raise Rejection(
            400,
            f"format={call.query.param('format')} is not emulated: the emulator does not export "
            "clusters as blueprints; GET /api/v1/blueprints/{name} returns the blueprint used",
        )
    return views.cluster(call.ambari, call.base, cluster)


@route("POST", "/clusters/{cluster}")
def post_cluster(call: Call, cluster: str) -> Reply:
    return _accepted(call, call.ambari.create_cluster(cluster, call.body))


@route("DELETE", "/clusters/{cluster}")
def delete_cluster(call: Call, cluster: str) -> Reply:
    operations.delete_cluster(call.ambari, call.ambari.cluster(cluster))
    return Reply(200)


@route("GET", "/clusters/{cluster}/stack_versions")
def get_stack_versions(call: Call, cluster: str) -> Any:
    one = cluster_views.stack_version(call.ambari, call.base, cluster)
    href = f"{call.base}/api/v1/clusters/{cluster}/stack_versions"
    return views.Listing(href, [one], one.type, one.keys)


@route("GET", "/clusters/{cluster}/stack_versions/{id}")
def get_stack_version(call: Call, cluster: str, id: str) -> Any:
    if id != "1":
        raise Rejection(404, f"The requested resource doesn't exist: ClusterStackVersion {id}")
    return cluster_views.stack_version(call.ambari, call.base, cluster)


# --- cluster hosts --------------------------------------------------------------------------


@route("GET", "/clusters/{cluster}/hosts")
def get_cluster_hosts(call: Call, cluster: str) -> Any:
    return cluster_views.cluster_hosts(call.ambari, call.base, cluster)


def _add_hosts(call: Call, cluster: str, entries: list[Any]) -> Reply:
    c = call.ambari.cluster(cluster)
    if any(isinstance(e, dict) and "blueprint" in e for e in entries):
        return _accepted(call, call.ambari.scale_cluster(cluster, json.dumps(entries)))
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
    doc = _doc(call)
    if not isinstance(doc, (list, dict)):
        raise Rejection(400, "Invalid Request: Malformed Request Body.  Expected host entries")
    return _add_hosts(call, cluster, doc if isinstance(doc, list) else [doc])


@route("POST", "/clusters/{cluster}/hosts/{host}")
def post_cluster_host(call: Call, cluster: str, host: str) -> Reply:
    doc = _doc(call)
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
    doc = _doc(call)
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
    return _accepted(call, operations.set_states(call.ambari, c, targets, state, context))


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
    return _accepted(call, request)


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
    return _accepted(call, operations.set_states(call.ambari, c, targets, state, context))


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


# --- requests and tasks ---------------------------------------------------------------------


@route("GET", "/clusters/{cluster}/requests")
def get_requests(call: Call, cluster: str) -> Any:
    return views.requests(call.ambari, call.base, cluster)


@route("POST", "/clusters/{cluster}/requests")
def post_request(call: Call, cluster: str) -> Reply:
    c = call.ambari.cluster(cluster)
    return _accepted(call, operations.custom_command(call.ambari, c, _doc(call)))


@route("GET", "/clusters/{cluster}/requests/{id}")
def get_request(call: Call, cluster: str, id: str) -> Any:
    return views.request(call.ambari, call.base, cluster, _number(id, "Request"))


@route("GET", "/clusters/{cluster}/requests/{id}/tasks")
def get_tasks(call: Call, cluster: str, id: str) -> Any:
    return views.tasks(call.ambari, call.base, cluster, _number(id, "Request"))


@route("GET", "/clusters/{cluster}/requests/{id}/tasks/{task}")
def get_task(call: Call, cluster: str, id: str, task: str) -> Any:
    return views.task(
        call.ambari, call.base, cluster, _number(id, "Request"), _number(task, "Task")
    )


def _number(text: str, kind: str) -> int:
    if not text.isdigit():
        raise Rejection(400, f"Invalid {kind} id '{text}': ids are numbers")
    return int(text)


# --- hosts ----------------------------------------------------------------------------------


@route("GET", "/hosts")
def get_hosts(call: Call) -> Any:
    return views.hosts(call.ambari, call.base)


@route("GET", "/hosts/{host}")
def get_host(call: Call, host: str) -> Any:
    return views.host(call.ambari, call.base, host)


@route("DELETE", "/hosts/{host}")
def delete_host(call: Call, host: str) -> Reply:
    operations.delete_host(call.ambari, host.lower())
    return Reply(200)


# --- root services, stacks, users -----------------------------------------------------------


@route("GET", "/services")
def get_root_services(call: Call) -> Any:
    return catalog.root_services(call.ambari, call.base)


@route("GET", "/services/{service}")
def get_root_service(call: Call, service: str) -> Any:
    return catalog.root_service(call.ambari, call.base, service)


@route("GET", "/services/{service}/components")
def get_root_components(call: Call, service: str) -> Any:
    return catalog.root_components(call.ambari, call.base, service)


@route("GET", "/services/{service}/components/{component}")
def get_root_component(call: Call, service: str, component: str) -> Any:
    return catalog.root_component(call.ambari, call.base, service, component)


@route("GET", "/stacks")
def get_stacks(call: Call) -> Any:
    return catalog.stacks(call.ambari, call.base)


@route("GET", "/stacks/{stack}")
def get_stack(call: Call, stack: str) -> Any:
    return catalog.stack(call.ambari, call.base, stack)


@route("GET", "/stacks/{stack}/versions")
def get_versions(call: Call, stack: str) -> Any:
    return catalog.versions(call.ambari, call.base, stack)


@route("GET", "/stacks/{stack}/versions/{version}")
def get_version(call: Call, stack: str, version: str) -> Any:
    return catalog.version(call.ambari, call.base, stack, version)


@route("GET", "/stacks/{stack}/versions/{version}/services")
def get_stack_services(call: Call, stack: str, version: str) -> Any:
    return catalog.stack_services(call.ambari, call.base, stack, version)


@route("GET", "/stacks/{stack}/versions/{version}/services/{service}")
def get_stack_service(call: Call, stack: str, version: str, service: str) -> Any:
    return catalog.stack_service(call.ambari, call.base, stack, version, service)


@route("GET", "/stacks/{stack}/versions/{version}/services/{service}/components")
def get_stack_components(call: Call, stack: str, version: str, service: str) -> Any:
    return catalog.stack_components(call.ambari, call.base, stack, version, service)


@route("GET", "/stacks/{stack}/versions/{version}/services/{service}/components/{component}")
def get_stack_component(call: Call, stack: str, version: str, service: str, component: str) -> Any:
    return catalog.stack_component(call.ambari, call.base, stack, version, service, component)


@route("GET", "/users")
def get_users(call: Call) -> Any:
    return catalog.users(call.ambari, call.base)


@route("GET", "/users/{user}")
def get_user(call: Call, user: str) -> Any:
    return catalog.user(call.ambari, call.base, user)


@route("PUT", "/users/{user}")
def put_user(call: Call, user: str) -> Reply:
    catalog.change_password(call.ambari, user, _doc(call))
    return Reply(200)
