"""Is the blueprint Ambari already has the one we would register? (a 409 is then success)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def _configs(raw: Any) -> dict[str, dict[str, str]]:
    result: dict[str, dict[str, str]] = {}
    for element in raw or []:
        if not isinstance(element, dict):
            continue
        for config_type, body in element.items():
            props = body.get("properties", body) if isinstance(body, dict) else {}
            if isinstance(props, dict):
                result.setdefault(config_type, {}).update({k: str(v) for k, v in props.items()})
    return result


def _groups(doc: Mapping[str, Any]) -> dict[str, set[str]]:
    return {
        str(g.get("name")): {str(c.get("name")) for c in g.get("components") or []}
        for g in doc.get("host_groups") or []
        if isinstance(g, dict)
    }


def differences(ours: Mapping[str, Any], theirs: Mapping[str, Any]) -> list[str]:
    """What differs between our blueprint (after Ambari's auto-deploy additions, when known)
    and the registered one. Empty when they are the same blueprint.

    >>> a = {"Blueprints": {"stack_name": "HDP", "stack_version": "2.6"},
    ...      "host_groups": [{"name": "m", "components": [{"name": "NAMENODE"}]}]}
    >>> differences(a, a)
    []
    >>> b = {"Blueprints": {"stack_name": "HDP", "stack_version": "2.5"},
    ...      "host_groups": [{"name": "m", "components": [{"name": "DATANODE"}]}]}
    >>> differences(a, b)
    ['stack HDP-2.6 here, HDP-2.5 in Ambari', "host group 'm': +NAMENODE -DATANODE"]
    """
    found: list[str] = []
    mine, reg = ours.get("Blueprints") or {}, theirs.get("Blueprints") or {}
    stack_a = f"{mine.get('stack_name')}-{mine.get('stack_version')}"
    stack_b = f"{reg.get('stack_name')}-{reg.get('stack_version')}"
    if stack_a != stack_b:
        found.append(f"stack {stack_a} here, {stack_b} in Ambari")
    groups_a, groups_b = _groups(ours), _groups(theirs)
    for name in sorted(set(groups_a) | set(groups_b)):
        if name not in groups_b:
            found.append(f"host group {name!r} only here")
        elif name not in groups_a:
            found.append(f"host group {name!r} only in Ambari")
        elif groups_a[name] != groups_b[name]:
            plus = " ".join(f"+{c}" for c in sorted(groups_a[name] - groups_b[name]))
            minus = " ".join(f"-{c}" for c in sorted(groups_b[name] - groups_a[name]))
            found.append(f"host group {name!r}: {' '.join(x for x in (plus, minus) if x)}")
    configs_a, configs_b = (
        _configs(ours.get("configurations")),
        _configs(theirs.get("configurations")),
    )
    for config_type in sorted(set(configs_a) | set(configs_b)):
        a, b = configs_a.get(config_type, {}), configs_b.get(config_type, {})
        for prop in sorted(set(a) | set(b)):
            if a.get(prop) != b.get(prop) and not str(b.get(prop, "")).startswith("SECRET:"):
                found.append(
                    f"{config_type}/{prop}: {a.get(prop)!r} here, {b.get(prop)!r} in Ambari"
                )
    return found
