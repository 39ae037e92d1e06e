"""Which host goes to which blueprint host group: a pure, deterministic function.

Rules: a ``hostgroup`` Serf tag wins; the server's own host goes to the group holding
AMBARI_SERVER, else to the first group with master components; every group gets a host; the
rest go to the group that can take any number of hosts (workers). Cardinality of every
component, counted in hosts, is checked before anything is sent.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from cloudagent.ambari.blueprint import Blueprint
from cloudagent.errors import CloudagentError


class LayoutError(CloudagentError):
    """The hosts cannot be laid out on the blueprint's host groups."""


@dataclass(frozen=True)
class Candidate:
    """A host available for the cluster."""

    fqdn: str
    hostgroup: str | None = None  # from the member's ``hostgroup`` tag
    is_server: bool = False


def _max_hosts(value: str | None) -> int | None:
    if value is None or value == "ALL" or value.endswith("+"):
        return None
    if match := re.fullmatch(r"(\d+)-(\d+)", value):
        return int(match.group(2))
    return int(value) if value.isdigit() else None


def _min_hosts(value: str | None) -> int:
    if value is None or value == "ALL":
        return 0
    match = re.match(r"(\d+)", value)
    return int(match.group(1)) if match else 0


def group_capacity(bp: Blueprint, group: str) -> int | None:
    """How many hosts a group can take (None: any number)."""
    limits = [
        _max_hosts(bp.stack.components[c].cardinality.value)
        for c in bp.host_groups[group]
        if c in bp.stack.components
    ]
    bounded = [limit for limit in limits if limit is not None]
    hint = bp.cardinality_hints.get(group, "")
    if hint.isdigit() and not bounded and int(hint) == 1 and _has_master(bp, group):
        bounded.append(1)
    return min(bounded) if bounded else None


def _has_master(bp: Blueprint, group: str) -> bool:
    return any(
        bp.stack.components[c].is_master for c in bp.host_groups[group] if c in bp.stack.components
    )


def worker_group(bp: Blueprint) -> str | None:
    """The group that takes any number of hosts, preferring the one with most slave components."""
    open_groups = [g for g in bp.host_groups if group_capacity(bp, g) is None]
    if not open_groups:
        return None

    def slaves(group: str) -> int:
        comps = bp.stack.components
        return sum(1 for c in bp.host_groups[group] if c in comps and comps[c].category == "SLAVE")

    return max(open_groups, key=lambda g: (slaves(g), -list(bp.host_groups).index(g)))


def assign_hosts(bp: Blueprint, candidates: Sequence[Candidate]) -> dict[str, list[str]]:
    """Host group -> hosts, for every group of the blueprint; raises LayoutError."""
    groups = list(bp.host_groups)
    assigned: dict[str, list[str]] = {g: [] for g in groups}
    capacity = {g: group_capacity(bp, g) for g in groups}
    hosts = sorted(candidates, key=lambda c: (not c.is_server, c.fqdn))
    free: list[Candidate] = []
    for host in hosts:
        if host.hostgroup is not None:
            if host.hostgroup not in assigned:
                raise LayoutError(
                    f"{host.fqdn} has hostgroup tag {host.hostgroup!r}, which blueprint "
                    f"{bp.name!r} does not have; its groups: {', '.join(groups)}"
                )
            assigned[host.hostgroup].append(host.fqdn)
        else:
            free.append(host)

    def room(group: str) -> bool:
        cap = capacity[group]
        return cap is None or len(assigned[group]) < cap

    if free and free[0].is_server:
        server = free.pop(0)
        home = bp.groups_with("AMBARI_SERVER") or [g for g in groups if _has_master(bp, g)]
        target = next((g for g in home if room(g)), None)
        (assigned[target] if target else []).append(server.fqdn)
        if target is None:
            free.insert(0, server)
    # Every group needs a host; bounded groups (masters) first, in blueprint order.
    for group in sorted(groups, key=lambda g: (capacity[g] is None, groups.index(g))):
        if not assigned[group] and free:
            assigned[group].append(free.pop(0).fqdn)
    workers = worker_group(bp)
    for host in free:
        target = workers if workers is not None else next((g for g in groups if room(g)), None)
        if target is None:
            raise LayoutError(
                f"{len(free)} host(s) left over: every host group of blueprint {bp.name!r} takes a "
                f"bounded number of hosts ({_capacities(capacity)})"
            )
        assigned[target].append(host.fqdn)
    _check(bp, assigned, capacity, len(candidates))
    return {g: sorted(h) for g, h in assigned.items()}


def _capacities(capacity: Mapping[str, int | None]) -> str:
    return ", ".join(f"{g}: {'any' if c is None else c}" for g, c in capacity.items())


def _check(
    bp: Blueprint, assigned: Mapping[str, list[str]], capacity: Mapping[str, int | None], total: int
) -> None:
    empty = [g for g, hosts in assigned.items() if not hosts]
    if empty:
        raise LayoutError(
            f"host group(s) {', '.join(empty)} of blueprint {bp.name!r} get no host: {total} "
            f"host(s) for {len(assigned)} groups; set EXPECTED_HOST_COUNT to at least "
            f"{len(assigned)} or choose a blueprint with fewer groups"
        )
    for group, hosts in assigned.items():
        cap = capacity[group]
        if cap is not None and len(hosts) > cap:
            raise LayoutError(
                f"host group {group!r} can take {cap} host(s) but {len(hosts)} are tagged for it: "
                f"{', '.join(sorted(hosts))}"
            )
    for name, component in bp.stack.components.items():
        count = sum(len(h) for g, h in assigned.items() if name in bp.host_groups[g])
        if count and count < _min_hosts(component.cardinality.value):
            raise LayoutError(
                f"{name} needs at least {_min_hosts(component.cardinality.value)} hosts "
                f"(cardinality {component.cardinality.value}) but the layout gives it {count}"
            )
