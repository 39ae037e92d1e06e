"""Offline blueprint validation with Ambari's verdicts, in Ambari's order of checks.

structure -> duplicate name -> configuration -> topology (BlueprintResourceProvider and
BlueprintValidatorImpl in ambari-server).
This module holds the parsed blueprint and the structure and configuration checks; the
topology passes are in topology.py and the verdict in validate.py. All pure.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from cloudagent.ambari.stack import (
    DEFAULT_AMBARI,
    Stack,
    ambari_table,
    find_stack,
)

TOP_LEVEL: Final = frozenset({"Blueprints", "host_groups", "configurations", "settings"})
BLUEPRINTS_KEYS: Final = frozenset({"blueprint_name", "stack_name", "stack_version", "security"})
GROUP_KEYS: Final = frozenset({"name", "components", "configurations", "cardinality"})
PROVISION_ACTIONS: Final = ("INSTALL_AND_START", "INSTALL_ONLY", "START_ONLY")
_SECRET = re.compile(r"SECRET:[^:]+:-?\d+:.+")

Configs = dict[str, dict[str, str]]


class Rejection(Exception):
    """A request Ambari would refuse: HTTP status and Ambari's message."""

    def __init__(self, status: int, message: str) -> None:
        self.status = status
        self.message = message
        super().__init__(f"{status}: {message}")


@dataclass(frozen=True)
class Blueprint:
    """A structurally valid blueprint (host groups after any auto-deploy additions)."""

    name: str
    stack: Stack
    host_groups: Mapping[str, tuple[str, ...]]
    configurations: Configs = field(default_factory=dict)
    group_configurations: Mapping[str, Configs] = field(default_factory=dict)
    cardinality_hints: Mapping[str, str] = field(default_factory=dict)
    security_type: str = "NONE"
    document: Mapping[str, Any] = field(default_factory=dict, repr=False)

    @property
    def services(self) -> set[str]:
        """Services with at least one component listed."""
        return {
            self.stack.components[c].service
            for comps in self.host_groups.values()
            for c in comps
            if c in self.stack.components
        }

    def groups_with(self, component: str) -> list[str]:
        """Host groups that contain ``component``."""
        return [g for g, comps in self.host_groups.items() if component in comps]

    def config(self, config_type: str, name: str, default: str | None = None) -> str | None:
        """A blueprint-level configuration value."""
        return self.configurations.get(config_type, {}).get(name, default)


def parse_body(text: str) -> Any:
    """The request body as Ambari's parser sees it."""
    if not text.strip():
        raise Rejection(400, "Request body for Blueprint create request is empty")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise Rejection(
            400,
            "Invalid Request: Malformed Request Body.  An exception occurred parsing the request "
            f"body: {exc}",
        ) from None


def unwrap_cloudbreak(doc: Any) -> Mapping[str, Any] | None:
    """The inner blueprint of Cloudbreak's ``{"blueprint": {...}, "inputs": ...}`` wrapper."""
    if isinstance(doc, dict) and isinstance(doc.get("blueprint"), dict) and "Blueprints" not in doc:
        inner: Mapping[str, Any] = doc["blueprint"]
        return inner
    return None


def server_error(ambari: str, incident: str) -> str:
    """The body message of an uncaught server exception (AmbariErrorHandler)."""
    if ambari_table(ambari) in ("2.7", "3.0"):
        return (
            f"Internal server error, please refer the exception by {incident} in the server log "
            "file"
        )
    return "Server Error"


def parse_configurations(value: Any) -> Configs:
    """Ambari's two configuration formats (V1 flat, V2 properties/properties_attributes)."""
    if value is None:
        return {}
    if not isinstance(value, list):
        raise Rejection(400, "Configurations property must be a List of Maps")
    configs: Configs = {}
    for element in value:
        if not isinstance(element, dict):
            raise Rejection(400, "Configuration elements must be Maps")
        if len(element) != 1:
            raise Rejection(400, "Configuration Maps must hold a single configuration type each")
        ((config_type, body),) = element.items()
        if not isinstance(body, dict):
            raise Rejection(400, "Configuration format provided in Blueprint is not supported")
        if {"properties", "properties_attributes"} & set(body):
            if set(body) - {"properties", "properties_attributes"}:
                raise Rejection(400, "Configuration format provided in Blueprint is not supported")
            properties = body.get("properties") or {}
        else:
            properties = body
        if not isinstance(properties, dict) or any(
            isinstance(v, dict | list) for v in properties.values()
        ):
            raise Rejection(400, "Configuration format provided in Blueprint is not supported")
        configs.setdefault(config_type, {}).update({str(k): str(v) for k, v in properties.items()})
    return configs


def _security_type(blueprints: Mapping[str, Any]) -> str:
    security = blueprints.get("security")
    if security is None:
        return "NONE"
    if not isinstance(security, dict) or "type" not in security:
        raise Rejection(400, "Type missing from security block.")
    kind = str(security["type"])
    if kind not in ("NONE", "KERBEROS"):
        raise Rejection(400, f"Invalid security type specified: {kind}")
    if "kerberos_descriptor" in security and "kerberos_descriptor_reference" in security:
        raise Rejection(
            400,
            "Usage of properties : kerberos_descriptor and kerberos_descriptor_reference at the "
            "same time, is not allowed.",
        )
    return kind


def _unsupported(keys: set[str], kind: str) -> None:
    if keys:
        raise Rejection(
            400,
            f"The properties [{', '.join(sorted(keys))}] specified in the request or predicate "
            f"are not supported for the resource type {kind}.",
        )


def _host_groups(
    groups_raw: Any, stack: Stack
) -> tuple[dict[str, tuple[str, ...]], dict[str, str]]:
    if not isinstance(groups_raw, list) or not groups_raw:
        raise Rejection(400, "At least one host group must be specified in a blueprint")
    host_groups: dict[str, tuple[str, ...]] = {}
    hints: dict[str, str] = {}
    for group in groups_raw:
        if not isinstance(group, dict) or not group.get("name"):
            raise Rejection(400, "Every host group must include a non-null 'name' property")
        group_name = str(group["name"])
        components = group.get("components")
        if not isinstance(components, list) or not components:
            raise Rejection(400, f"Host group '{group_name}' must contain at least one component")
        names: list[str] = []
        for component in components:
            if not isinstance(component, dict) or not component.get("name"):
                raise Rejection(
                    400, f"Host group '{group_name}' contains a component with no 'name' property"
                )
            comp_name = str(component["name"])
            action = component.get("provision_action")
            if action is not None and action not in PROVISION_ACTIONS:
                raise Rejection(
                    400,
                    "No enum constant org.apache.ambari.server.controller.internal."
                    f"ProvisionAction.{action}",
                )
            if comp_name != "AMBARI_SERVER" and comp_name not in stack.components:
                raise Rejection(
                    400,
                    f"The component '{comp_name}' in host group '{group_name}' is not valid for "
                    "the specified stack",
                )
            if comp_name not in names:  # components are a set: duplicates collapse
                names.append(comp_name)
        # Groups live in a map by name: a repeated name silently replaces the earlier group.
        host_groups[group_name] = tuple(names)
        if group.get("cardinality") is not None:
            hints[group_name] = str(group["cardinality"])
    return host_groups, hints


def check_structure(
    doc: Any,
    url_name: str | None,
    ambari: str | None,
    stack_override: tuple[str, str] | None,
    incident: str,
) -> Blueprint:
    """Parse a blueprint body as Ambari does, in its order; raise Rejection with Ambari's answer."""
    if not isinstance(doc, dict):
        raise Rejection(400, "Invalid Request: Malformed Request Body.  Expected a JSON object")
    unknown = set(doc) - TOP_LEVEL
    blueprints = doc.get("Blueprints")
    if isinstance(blueprints, dict):
        unknown |= {f"Blueprints/{k}" for k in set(blueprints) - BLUEPRINTS_KEYS}
    _unsupported(unknown, "Blueprint")
    configurations = parse_configurations(doc.get("configurations"))
    groups_raw = doc.get("host_groups")
    group_configs: dict[str, Configs] = {}
    for group in groups_raw if isinstance(groups_raw, list) else []:
        if isinstance(group, dict):
            group_configs[str(group.get("name"))] = parse_configurations(
                group.get("configurations")
            )
    stack_name, stack_version = stack_override or (None, None)
    if not isinstance(blueprints, dict):
        # Ambari dereferences the missing block while reading the security settings (NPE).
        raise Rejection(500, server_error(ambari or "2.6", incident))
    security = _security_type(blueprints)
    name = blueprints.get("blueprint_name") or url_name
    if not name:
        raise Rejection(400, "Blueprint name must be provided")
    if stack_override is None:
        stack_name, stack_version = blueprints.get("stack_name"), blueprints.get("stack_version")
    version = ambari or DEFAULT_AMBARI.get(str(stack_name), "2.6")
    stack = find_stack(
        None if stack_name is None else str(stack_name),
        None if stack_version is None else str(stack_version),
        version,
    )
    if stack is None:
        raise Rejection(
            400,
            "Specified stack doesn't exist: org.apache.ambari.server.stack.NoSuchStackException: "
            f"The requested stack doesn't exist. Name='{_null(stack_name)}' "
            f"Version='{_null(stack_version)}'",
        )
    host_groups, hints = _host_groups(groups_raw, stack)
    return Blueprint(
        name=str(name),
        stack=stack,
        host_groups=host_groups,
        configurations=configurations,
        group_configurations=group_configs,
        cardinality_hints=hints,
        security_type=security,
        document=doc,
    )


def _null(value: Any) -> str:
    return "null" if value is None else str(value)


def check_configuration(bp: Blueprint) -> None:
    """Ambari's configuration checks of a parsed blueprint; raise Rejection with its answer."""
    secrets = []
    for scope in [bp.configurations, *bp.group_configurations.values()]:
        for config_type, props in scope.items():
            secrets += [
                f"  Config:{config_type} Property:{prop}\n"
                for prop, value in props.items()
                if _SECRET.fullmatch(value)
            ]
    if secrets:
        raise Rejection(
            400,
            "Blueprint configuration validation failed: Secret references are not allowed in "
            "blueprints, replace following properties with real passwords:\n" + "".join(secrets),
        )
    codecs = bp.config("core-site", "io.compression.codecs") or ""
    if bp.stack.ambari in ("2.6", "2.7", "3.0") and "com.hadoop.compression.lzo" in codecs:
        raise Rejection(
            400,
            "Blueprint configuration validation failed: Your Ambari server has not been configured "
            "to download LZO GPL software. Please refer to documentation to configure Ambari "
            "before proceeding.",
        )
    hive_db = bp.config("hive-env", "hive_database") or ""
    if bp.groups_with("MYSQL_SERVER") and hive_db.startswith("Existing"):
        raise Rejection(
            400,
            "Blueprint configuration validation failed: Incorrect configuration: MYSQL_SERVER "
            "component is available but hive using existing db!",
        )
