"""Ambari's REST resources as a route table: (method, path pattern) -> handler.

A handler returns a Resource (GET of an instance), a Listing (GET of a collection) or a
Reply (anything else); the server applies the query string and renders the result.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cloudagent.ambari.blueprint import Rejection, parse_body
from cloudagent.emulator import catalog, cluster_views, operations, views
from cloudagent.emulator.model import Ambari, LogicalRequest
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


def body_doc(call: Call) -> Any:
    """The request body as JSON ({} when empty)."""
    return parse_body(call.body) if call.body.strip() else {}


def accepted(call: Call, request: LogicalRequest | None) -> Reply:
    """202 with the request to poll; 200 when nothing had to change."""
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
    return accepted(call, call.ambari.create_cluster(cluster, call.body))


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


# --- requests and tasks ---------------------------------------------------------------------


@route("GET", "/clusters/{cluster}/requests")
def get_requests(call: Call, cluster: str) -> Any:
    return views.requests(call.ambari, call.base, cluster)


@route("POST", "/clusters/{cluster}/requests")
def post_request(call: Call, cluster: str) -> Reply:
    c = call.ambari.cluster(cluster)
    return accepted(call, operations.custom_command(call.ambari, c, body_doc(call)))


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
    catalog.change_password(call.ambari, user, body_doc(call))
    return Reply(200)
