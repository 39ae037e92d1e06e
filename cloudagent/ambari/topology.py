"""Ambari's topology validation of a blueprint: the dependency pass and the cardinality pass
(BlueprintValidatorImpl in ambari-server). Counts are host groups, not hosts."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Final

from cloudagent.ambari.blueprint import Blueprint
from cloudagent.ambari.stack import Cardinality, Dependency

_DISABLE: Final = (
    ".  To disable topology validation and create the blueprint, add the following to the end"
    " of the url: '?validate_topology=false'"
)


class _Topology:
    """Ambari's BlueprintValidatorImpl passes over a mutable copy of the host groups."""

    def __init__(self, bp: Blueprint) -> None:
        self.bp = bp
        self.stack = bp.stack
        self.groups = {g: list(c) for g, c in bp.host_groups.items()}
        self.services = bp.services  # as listed, before anything is auto-added
        self.nn_ha = "dfs.nameservices" in bp.configurations.get("hdfs-site", {})
        self.existing_db = (bp.config("hive-env", "hive_database") or "").startswith("Existing")
        self.missing: dict[str, dict[str, list[str]]] = {}
        self.failures: set[str] = set()

    def holders(self, component: str) -> list[str]:
        return [g for g, comps in self.groups.items() if component in comps]

    def cardinality(self, name: str, value: str | None) -> Cardinality:
        # In NameNode HA the SECONDARY_NAMENODE must not be deployed at all.
        return Cardinality("0" if self.nn_ha and name == "SECONDARY_NAMENODE" else value)

    def count_ok(
        self, name: str, cardinality: Cardinality, auto: bool, co_locate: str | None
    ) -> bool:
        if cardinality.allows(len(self.holders(name))):
            return True
        if name == "MYSQL_SERVER" and self.existing_db:
            return True  # an existing database: Ambari does not manage MySQL
        if auto and cardinality.supports_auto_deploy and co_locate and self.holders(co_locate):
            target = self.groups[self.holders(co_locate)[0]]
            if name not in target:
                target.append(name)
            return True
        return False

    def dependency_pass(self) -> None:
        for group, comps in self.groups.items():
            for comp_name in list(comps):
                component = self.stack.components.get(comp_name)
                for dep in component.dependencies if component else ():
                    if not self.resolve(dep, comps):
                        by_comp = self.missing.setdefault(group, {})
                        by_comp.setdefault(comp_name, []).append(str(dep))

    def resolve(self, dep: Dependency, comps: list[str]) -> bool:
        target = self.stack.components.get(dep.name)
        if target is None or dep.conditional:
            return True  # not in this stack, or a config-conditional dependency
        if target.is_client and target.service not in self.services:
            return True
        if dep.scope == "cluster":
            return self.count_ok(dep.name, Cardinality("1+"), dep.auto_deploy, dep.co_locate)
        if dep.name in comps:
            return True
        if dep.auto_deploy:
            comps.append(dep.name)
            return True
        return False

    def cardinality_pass(self) -> None:
        for service in sorted(self.services):
            for component in self.stack.service_components(service):
                count = len(self.holders(component.name))
                if component.cardinality.is_all:
                    if count == len(self.groups):
                        continue
                    if component.auto_deploy:
                        for comps in self.groups.values():
                            if component.name not in comps:
                                comps.append(component.name)
                    else:
                        self.failures.add(f"{component.name}(actual={count}, required=ALL)")
                    continue
                cardinality = self.cardinality(component.name, component.cardinality.value)
                if not self.count_ok(
                    component.name, cardinality, component.auto_deploy, component.co_locate
                ):
                    self.failures.add(
                        f"{component.name}(actual={count}, required={cardinality.value})"
                    )

    def message(self) -> str | None:
        if not self.failures and not self.missing:
            return None
        message = "Cluster Topology validation failed."
        if self.failures:
            message += f"  Invalid service component count: [{', '.join(sorted(self.failures))}]"
        if self.missing:
            label = (
                "Component dependencies issues"
                if self.stack.ambari == "3.0"
                else "Unresolved component dependencies"
            )
            rendered = ", ".join(
                f"{group}={{{_render_missing(by_component)}}}"
                for group, by_component in sorted(self.missing.items())
            )
            message += f"  {label}: {{{rendered}}}"
        return message + _DISABLE


def validate_topology(bp: Blueprint) -> tuple[Blueprint, str | None]:
    """Ambari's dependency and cardinality passes. Returns the blueprint with auto-deployed
    components added, and the failure message (None when valid)."""
    topology = _Topology(bp)
    topology.dependency_pass()
    topology.cardinality_pass()
    result = dataclasses.replace(bp, host_groups={g: tuple(c) for g, c in topology.groups.items()})
    return result, topology.message()


def _render_missing(by_component: Mapping[str, list[str]]) -> str:
    return ", ".join(f"{comp}=[{', '.join(deps)}]" for comp, deps in sorted(by_component.items()))
