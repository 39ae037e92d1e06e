"""Read-mostly resources: stacks, the AMBARI root service (server version) and users."""

from __future__ import annotations

import functools
import json
from importlib import resources
from typing import Any

from cloudagent.ambari.blueprint import Rejection
from cloudagent.ambari.stack import Stack, ambari_table, find_stack
from cloudagent.emulator.model import Ambari
from cloudagent.emulator.query import Resource
from cloudagent.emulator.views import API, Listing

STACK_KEYS = ("Stacks/stack_name",)
VERSION_KEYS = ("Versions/stack_name", "Versions/stack_version")
SERVICE_KEYS = (
    "StackServices/stack_name",
    "StackServices/stack_version",
    "StackServices/service_name",
)
COMPONENT_KEYS = (*SERVICE_KEYS[:2], "StackServiceComponents/service_name",
                  "StackServiceComponents/component_name")  # fmt: skip
ROOT_KEYS = ("RootService/service_name",)
ROOT_COMPONENT_KEYS = ("RootServiceComponents/service_name", "RootServiceComponents/component_name")
USER_KEYS = ("Users/user_name",)


@functools.cache
def _stack_ids(table: str) -> tuple[str, ...]:
    text = resources.files("cloudagent.ambari").joinpath("stackdata", f"ambari-{table}.json")
    data: dict[str, Any] = json.loads(text.read_text(encoding="utf-8"))
    return tuple(data["stacks"])


def _versions(ambari: Ambari, name: str) -> list[str]:
    found = [
        i.partition("-")[2]
        for i in _stack_ids(ambari_table(ambari.version))
        if i.startswith(f"{name}-")
    ]
    if not found:
        raise Rejection(404, f"The requested resource doesn't exist: Stack data, stackName={name}")
    return found


def _stack(ambari: Ambari, name: str, version: str) -> Stack:
    stack = find_stack(name, version, ambari.version)
    if stack is None:
        raise Rejection(
            404,
            "The requested resource doesn't exist: Stack data, "
            f"stackName={name}, stackVersion={version}",
        )
    return stack


def stacks(ambari: Ambari, base: str) -> Listing:
    names = dict.fromkeys(i.partition("-")[0] for i in _stack_ids(ambari_table(ambari.version)))
    return Listing(
        f"{base}{API}/stacks", [stack(ambari, base, n) for n in names], "Stack", STACK_KEYS
    )


def stack(ambari: Ambari, base: str, name: str) -> Resource:
    href = f"{base}{API}/stacks/{name}"
    return Resource(
        "Stack",
        {
            "href": href,
            "Stacks": {"stack_name": name},
            "versions": [
                {
                    "href": f"{href}/versions/{v}",
                    "Versions": {"stack_name": name, "stack_version": v},
                }
                for v in _versions(ambari, name)
            ],
        },
        STACK_KEYS,
    )


def versions(ambari: Ambari, base: str, name: str) -> Listing:
    items = [version(ambari, base, name, v) for v in _versions(ambari, name)]
    return Listing(f"{base}{API}/stacks/{name}/versions", items, "StackVersion", VERSION_KEYS)


def version(ambari: Ambari, base: str, name: str, number: str) -> Resource:
    stack_ = _stack(ambari, name, number)
    href = f"{base}{API}/stacks/{name}/versions/{number}"
    names = sorted({c.service for c in stack_.components.values()})
    return Resource(
        "StackVersion",
        {
            "href": href,
            "Versions": {"active": True, "stack_name": name, "stack_version": number},
            "services": [
                {
                    "href": f"{href}/services/{s}",
                    "StackServices": {
                        "service_name": s,
                        "stack_name": name,
                        "stack_version": number,
                    },
                }
                for s in names
            ],
        },
        VERSION_KEYS,
    )


def stack_services(ambari: Ambari, base: str, name: str, number: str) -> Listing:
    stack_ = _stack(ambari, name, number)
    names = sorted({c.service for c in stack_.components.values()})
    href = f"{base}{API}/stacks/{name}/versions/{number}/services"
    items = [stack_service(ambari, base, name, number, s) for s in names]
    return Listing(href, items, "StackService", SERVICE_KEYS)


def stack_service(ambari: Ambari, base: str, name: str, number: str, service: str) -> Resource:
    stack_ = _stack(ambari, name, number)
    members = stack_.service_components(service)
    if not members:
        raise Rejection(
            404,
            "The requested resource doesn't exist: Stack service data, "
            f"stackName={name}, stackVersion={number}, serviceName={service}",
        )
    href = f"{base}{API}/stacks/{name}/versions/{number}/services/{service}"
    keys = {"stack_name": name, "stack_version": number}
    return Resource(
        "StackService",
        {
            "href": href,
            "StackServices": {**keys, "service_name": service},
            "components": [
                {
                    "href": f"{href}/components/{c.name}",
                    "StackServiceComponents": {
                        **keys,
                        "service_name": service,
                        "component_name": c.name,
                    },
                }
                for c in members
            ],
        },
        SERVICE_KEYS,
    )


def stack_components(ambari: Ambari, base: str, name: str, number: str, service: str) -> Listing:
    members = stack_service(ambari, base, name, number, service).doc["components"]
    href = f"{base}{API}/stacks/{name}/versions/{number}/services/{service}/components"
    items = [
        stack_component(
            ambari, base, name, number, service, m["StackServiceComponents"]["component_name"]
        )
        for m in members
    ]
    return Listing(href, items, "StackServiceComponent", COMPONENT_KEYS)


def stack_component(  # noqa: PLR0917 - the path segments of the resource
    ambari: Ambari, base: str, name: str, number: str, service: str, component: str
) -> Resource:
    entry = _stack(ambari, name, number).components.get(component)
    if entry is None or entry.service != service:
        raise Rejection(
            404,
            "The requested resource doesn't exist: Stack service component data, "
            f"stackName={name}, stackVersion={number}, serviceName={service}, "
            f"componentName={component}",
        )
    href = f"{base}{API}/stacks/{name}/versions/{number}/services/{service}/components/{component}"
    return Resource(
        "StackServiceComponent",
        {
            "href": href,
            "StackServiceComponents": {
                "auto_deploy_enabled": entry.auto_deploy,
                "cardinality": entry.cardinality.value,
                "component_category": entry.category,
                "component_name": component,
                "custom_commands": [],
                "is_client": entry.is_client,
                "is_master": entry.is_master,
                "service_name": service,
                "stack_name": name,
                "stack_version": number,
            },
            "dependencies": [],
        },
        COMPONENT_KEYS,
    )


def root_service(ambari: Ambari, base: str, name: str) -> Resource:
    if name != "AMBARI":
        raise Rejection(
            404, f"The requested resource doesn't exist: Root service not found, serviceName={name}"
        )
    href = f"{base}{API}/services/AMBARI"
    return Resource(
        "RootService",
        {
            "href": href,
            "RootService": {"service_name": name},
            "components": [
                {
                    "href": f"{href}/components/AMBARI_SERVER",
                    "RootServiceComponents": {
                        "component_name": "AMBARI_SERVER",
                        "service_name": name,
                    },
                }
            ],
        },
        ROOT_KEYS,
    )


def root_services(ambari: Ambari, base: str) -> Listing:
    return Listing(
        f"{base}{API}/services", [root_service(ambari, base, "AMBARI")], "RootService", ROOT_KEYS
    )


def root_component(ambari: Ambari, base: str, service: str, name: str) -> Resource:
    """``RootServiceComponents/component_version`` is where clients read the server version."""
    root_service(ambari, base, service)
    if name != "AMBARI_SERVER":
        raise Rejection(
            404,
            "The requested resource doesn't exist: Root service component not found, "
            f"serviceName={service}, componentName={name}",
        )
    return Resource(
        "RootServiceComponent",
        {
            "href": f"{base}{API}/services/{service}/components/{name}",
            "RootServiceComponents": {
                "component_name": name,
                "component_version": ambari.version,
                "properties": {},
                "server_clock": int(ambari.clock()),
                "service_name": service,
            },
            "hostComponents": [],
        },
        ROOT_COMPONENT_KEYS,
    )


def root_components(ambari: Ambari, base: str, service: str) -> Listing:
    root_service(ambari, base, service)
    return Listing(
        f"{base}{API}/services/{service}/components",
        [root_component(ambari, base, service, "AMBARI_SERVER")],
        "RootServiceComponent",
        ROOT_COMPONENT_KEYS,
    )


def user(ambari: Ambari, base: str, name: str) -> Resource:
    if name != "admin":
        raise Rejection(404, f"The requested resource doesn't exist: User {name} not found")
    return Resource(
        "User",
        {
            "href": f"{base}{API}/users/{name}",
            "Users": {
                "active": True,
                "admin": True,
                "groups": [],
                "ldap_user": False,
                "user_name": name,
                "user_type": "LOCAL",
            },
            "privileges": [],
        },
        USER_KEYS,
    )


def users(ambari: Ambari, base: str) -> Listing:
    return Listing(f"{base}{API}/users", [user(ambari, base, "admin")], "User", USER_KEYS)


def change_password(ambari: Ambari, name: str, doc: Any) -> None:
    """``PUT /users/{u}`` with ``Users/password`` and ``Users/old_password``.

    ``old_password`` is the password of the user making the change (the acting admin);
    a wrong one fails in Users.modifyPassword with an AmbariException, which the resource
    provider reports as a system exception (apache/ambari, security/authorization/Users.java).
    """
    user(ambari, "", name)
    body = doc.get("Users", {}) if isinstance(doc, dict) else {}
    if isinstance(doc, dict):
        body = {**body, **{k.split("/", 1)[1]: v for k, v in doc.items() if k.startswith("Users/")}}
    unknown = sorted(
        f"Users/{k}"
        for k in body
        if k not in {"password", "old_password", "active", "admin", "user_name"}
    )
    if unknown:
        raise Rejection(
            400,
            f"The properties [{', '.join(unknown)}] specified in the request or predicate are "
            "not supported for the resource type User.",
        )
    if "password" not in body:
        return
    with ambari.lock:
        if body.get("old_password") != ambari.password:
            raise Rejection(500, "An internal system exception occurred: Wrong password provided")
        ambari.password = str(body["password"])
