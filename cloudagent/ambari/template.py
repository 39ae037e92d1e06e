"""Cluster creation and scale-up templates, checked as Ambari checks them
(ProvisionClusterRequest and ScaleClusterRequest in ambari-server).

Pure: a template document and the registered blueprints in, a ClusterPlan (or a Rejection
with Ambari's status and message) out. The emulator uses it; so can any client pre-check.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from cloudagent.ambari.blueprint import Blueprint, Configs, Rejection, parse_configurations
from cloudagent.ambari.stack import ambari_table

CLUSTER_KEYS: Final = frozenset({
    "blueprint", "host_groups", "default_password", "configurations", "credentials",
    "config_recommendation_strategy", "provision_action", "repository_version",
    "repository_version_id", "security", "quicklinks_profile", "session_attributes",
})  # fmt: skip
STRATEGIES: Final = (
    "NEVER_APPLY", "ONLY_STACK_DEFAULTS_APPLY", "ALWAYS_APPLY",
    "ALWAYS_APPLY_DONT_OVERRIDE_CUSTOM_VALUES",
)  # fmt: skip
TEMPLATE: Final = (
    "Invalid Cluster Creation Template: "
    "org.apache.ambari.server.topology.InvalidTopologyTemplateException: "
)
TOPOLOGY: Final = (
    "Topology validation failed: org.apache.ambari.server.topology.InvalidTopologyException: "
)
ADD_HOSTS: Final = (
    "Invalid Add Hosts Template: "
    "org.apache.ambari.server.topology.InvalidTopologyTemplateException: "
)
PROVISIONING: Final = "An exception occurred during cluster provisioning: "


@dataclass(frozen=True)
class GroupRequest:
    """A template host group: named hosts, or a count of any eligible hosts."""

    name: str
    hosts: tuple[str, ...] = ()
    host_count: int = 0
    racks: Mapping[str, str] = field(default_factory=dict)  # host -> its rack_info, if given


@dataclass(frozen=True)
class ClusterPlan:
    """An accepted template: which blueprint, and which hosts go to which group."""

    blueprint: Blueprint
    groups: tuple[GroupRequest, ...]
    provision_action: str = "INSTALL_AND_START"
    configurations: Configs = field(default_factory=dict)

    @property
    def hosts(self) -> dict[str, str]:
        """Reserved host name -> host group."""
        return {h: g.name for g in self.groups for h in g.hosts}

    @property
    def racks(self) -> dict[str, str]:
        """Host name -> the ``rack_info`` the request gave it."""
        return {h: r for g in self.groups for h, r in g.racks.items()}


def _group(raw: Any, prefix: str = TEMPLATE) -> GroupRequest:
    if not isinstance(raw, dict) or not raw.get("name"):
        raise Rejection(400, prefix + "All host groups must contain a 'name' element")
    name = str(raw["name"])
    hosts = raw.get("hosts")
    count = raw.get("host_count")
    predicate = raw.get("host_predicate")
    if hosts and count is not None:
        raise Rejection(
            400,
            prefix + f"Host group '{name}' must not contain both a 'hosts' element and a "
            "'host_count' value",
        )
    if predicate is not None and count is None:
        raise Rejection(
            400,
            prefix + f"Host group '{name}' must not specify 'host_predicate' without 'host_count'",
        )
    if not hosts and count is None:
        raise Rejection(
            400,
            prefix + f"Host group '{name}' must contain at least one 'hosts/fqdn' or a "
            "'host_count' value",
        )
    fqdns = []
    racks: dict[str, str] = {}
    for host in hosts or []:
        fqdn = host.get("fqdn") if isinstance(host, dict) else None
        if not fqdn:
            raise Rejection(
                400, prefix + f"Host group '{name}' hosts element must include at least one fqdn"
            )
        fqdns.append(str(fqdn).lower())  # Ambari lower-cases host names
        if host.get("rack_info") is not None:  # since Ambari 2.2.1 (AMBARI-14600)
            racks[fqdns[-1]] = str(host["rack_info"])
    return GroupRequest(name, tuple(fqdns), int(count or 0), racks)


def _credentials(raw: Any) -> None:
    for credential in raw or []:
        for key in ("alias", "principal", "key", "type"):
            if not isinstance(credential, dict) or not credential.get(key):
                suffix = "property is missing." if key in ("alias", "principal") else "is missing."
                raise Rejection(400, TEMPLATE + f"credential.{key} {suffix}")
        kind = str(credential["type"]).upper()
        if kind not in ("PERSISTED", "TEMPORARY"):
            raise Rejection(
                400,
                TEMPLATE + f"credential.type [{credential['type']}] is invalid. acceptable "
                "values: [PERSISTED, TEMPORARY]",
            )


def _required_passwords(
    bp: Blueprint, plan_groups: Iterable[str], template_configs: Configs
) -> dict[str, dict[str, list[str]]]:
    missing: dict[str, dict[str, list[str]]] = {}
    for group in plan_groups:
        services = {
            bp.stack.components[c].service
            for c in bp.host_groups.get(group, ())
            if c in bp.stack.components
        }
        for service in sorted(services):
            for config_type, prop in bp.stack.required_passwords.get(service, ()):
                scopes = (
                    bp.configurations,
                    bp.group_configurations.get(group, {}),
                    template_configs,
                )
                if not any(prop in scope.get(config_type, {}) for scope in scopes):
                    missing.setdefault(group, {}).setdefault(config_type, []).append(prop)
    return missing


def _render_missing(missing: Mapping[str, Mapping[str, list[str]]]) -> str:
    def types(by_type: Mapping[str, list[str]]) -> str:
        return ", ".join(f"{t}=[{', '.join(props)}]" for t, props in sorted(by_type.items()))

    return "{" + ", ".join(f"{g}={{{types(t)}}}" for g, t in sorted(missing.items())) + "}"


def check_cluster_template(
    doc: Any,
    cluster: str,
    blueprints: Mapping[str, Blueprint],
    *,
    ambari: str = "2.6",
    existing_clusters: Iterable[str] = (),
) -> ClusterPlan:
    """Validate ``POST /clusters/{cluster}``; raise Rejection with Ambari's answer."""
    newer = ambari_table(ambari) not in ("1.7", "2.1", "2.4")  # 2.5+
    if not isinstance(doc, dict):
        raise Rejection(400, "Invalid Request: Malformed Request Body.  Expected a JSON object")
    unknown = {k for k in doc if k not in CLUSTER_KEYS and not k.startswith("Clusters")}
    if unknown:
        raise Rejection(
            400,
            f"The properties [{', '.join(sorted(unknown))}] specified in the request or "
            "predicate are not supported for the resource type Cluster.",
        )
    if "blueprint" not in doc:
        raise Rejection(400, "Stack information should be provided when creating a cluster")
    name = str(doc["blueprint"])
    bp = blueprints.get(name)
    if bp is None:
        raise Rejection(
            400,
            TEMPLATE + "The specified blueprint doesn't exist: org.apache.ambari.server."
            f"topology.NoSuchBlueprintException: No blueprint exists with the name '{name}'",
        )
    raw_groups = doc.get("host_groups")
    if not isinstance(raw_groups, list) or not raw_groups:
        raise Rejection(
            400, TEMPLATE + "'host_groups' element must be included in cluster create body"
        )
    groups = tuple(_group(g) for g in raw_groups)
    strategy = doc.get("config_recommendation_strategy", "NEVER_APPLY")
    if strategy not in STRATEGIES:
        raise Rejection(
            400, TEMPLATE + f"Config recommendation strategy is not supported: {strategy}"
        )
    action = doc.get("provision_action", "INSTALL_AND_START")
    if action not in ("INSTALL_AND_START", "INSTALL_ONLY", "START_ONLY"):
        raise Rejection(
            400, TEMPLATE + f"Invalid provision_action specified in the template: {action}"
        )
    _credentials(doc.get("credentials"))
    configs = parse_configurations(doc.get("configurations"))

    seen: dict[str, str] = {}
    twice = sorted({h for g in groups for h in g.hosts if seen.setdefault(h, g.name) != g.name})
    if twice:
        raise Rejection(
            400,
            TOPOLOGY
            + f"The following hosts are mapped to multiple host groups: [{', '.join(twice)}]. "
            "Be aware that host names are converted to lowercase, case differences do not matter "
            "in Ambari deployments.",
        )
    if not doc.get("default_password"):
        missing = _required_passwords(
            bp, [g.name for g in groups if g.name in bp.host_groups], configs
        )
        if missing:
            raise Rejection(
                400,
                TOPOLOGY + "Missing required password properties.  Specify a value for these "
                "properties in the cluster or host group configurations or include "
                f"'default_password' field in request. {_render_missing(missing)}",
            )
    services = bp.services
    hive_db = configs.get("hive-env", {}).get("hive_database") or bp.config(
        "hive-env", "hive_database", "New MySQL Database"
    )
    if (
        newer
        and "HIVE" in services
        and hive_db == "New MySQL Database"
        and not bp.groups_with("MYSQL_SERVER")
    ):
        raise Rejection(
            400,
            TOPOLOGY + "Component [MYSQL_SERVER] must explicitly be set in the blueprint when "
            "hive database is configured with the current settings. HIVE service validation "
            "failed.",
        )
    for group in groups:
        if group.name not in bp.host_groups:
            message = (
                f"Invalid host_group specified: {group.name}.  All request host groups must have a "
                "corresponding host group in the specified blueprint"
            )
            raise Rejection(500, PROVISIONING + message) if newer else Rejection(400, message)
    if cluster in set(existing_clusters):
        raise Rejection(
            500,
            PROVISIONING + "org.apache.ambari.server.AmbariException: Attempted to create a "
            f"Cluster which already exists, clusterName={cluster}",
        )
    return ClusterPlan(bp, groups, str(action), configs)


def check_scale_request(
    doc: Any,
    blueprints: Mapping[str, Blueprint],
    cluster_hosts: Iterable[str],
    cluster_blueprint: str,
) -> ClusterPlan:
    """Validate ``POST /clusters/{c}/hosts`` with blueprint host groups."""
    entries = doc if isinstance(doc, list) else [doc]
    if not entries or not all(isinstance(e, dict) for e in entries):
        raise Rejection(400, "Invalid Request: Malformed Request Body.  Expected host entries")
    names = {e.get("blueprint") for e in entries}
    if None in names or "" in names:
        raise Rejection(400, ADD_HOSTS + "Blueprint name must be specified for all host groups")
    if len(names) > 1:
        raise Rejection(
            400, ADD_HOSTS + "Currently, a scaling request may only refer to a single blueprint"
        )
    name = str(names.pop())
    bp = blueprints.get(name)
    if bp is None:
        raise Rejection(400, ADD_HOSTS + f"The specified blueprint doesn't exist: {name}")
    if name != cluster_blueprint:
        raise Rejection(
            400,
            TOPOLOGY + "Unable to retrieve cluster topology for cluster. This is most likely a "
            "result of trying to scale a cluster via the API which was created using the Ambari "
            "UI.",
        )
    in_cluster = set(cluster_hosts)
    groups: dict[str, list[str]] = {}
    racks: dict[str, dict[str, str]] = {}
    counts: dict[str, int] = {}
    for entry in entries:
        group = entry.get("host_group")
        if not group:
            raise Rejection(400, ADD_HOSTS + "A name must be specified for all host groups")
        if group not in bp.host_groups:
            raise Rejection(400, ADD_HOSTS + f"Invalid host group specified in request: {group}")
        host = entry.get("host_name") or entry.get("Hosts/host_name")
        if host and entry.get("host_count") is not None:
            raise Rejection(
                400,
                ADD_HOSTS + "Can't specify host_count or host_predicate if host_name is "
                f"specified in hostgroup: {group}",
            )
        if not host and entry.get("host_count") is None:
            raise Rejection(
                400,
                ADD_HOSTS + f"Must specify either host_name or host_count for hostgroup: {group}",
            )
        if host:
            host = str(host).lower()
            if host in in_cluster:
                raise Rejection(
                    400,
                    TOPOLOGY + f"Host {host} cannot be added, because it is already in the cluster",
                )
            groups.setdefault(group, []).append(host)
            # ScaleClusterRequest reads Hosts/rack_info, else rack_info.
            rack = entry.get("Hosts/rack_info", entry.get("rack_info"))
            if rack is not None:
                racks.setdefault(group, {})[host] = str(rack)
        else:
            counts[group] = counts.get(group, 0) + int(entry["host_count"])
    plan_groups = tuple(
        GroupRequest(g, tuple(h), racks=racks.get(g, {})) for g, h in groups.items()
    ) + tuple(GroupRequest(g, (), c) for g, c in counts.items())
    return ClusterPlan(bp, plan_groups)
