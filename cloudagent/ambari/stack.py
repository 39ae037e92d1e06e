"""Stack definitions as Ambari resolves them: components, cardinality, dependencies.

The tables ship inside the package (``stackdata/``, built by scripts/build_stacks.py from the
reference data), one per Ambari version whose stack definitions differ.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from typing import Any, Final

AMBARI_TABLES: Final = ("1.7", "2.1", "2.4", "2.6", "2.7", "3.0")
DEFAULT_AMBARI: Final = {"HDP": "2.6", "BIGTOP": "3.0"}


@dataclass(frozen=True)
class Cardinality:
    """``1``, ``1+``, ``0-1``, ``ALL`` or no constraint (None).

    >>> [Cardinality("1+").allows(n) for n in (0, 1, 5)], Cardinality("1-2").allows(3)
    ([False, True, True], False)
    """

    value: str | None

    @property
    def is_all(self) -> bool:
        """True for ``ALL``: the component goes on every host."""
        return self.value == "ALL"

    def allows(self, count: int) -> bool:
        """Whether ``count`` host groups satisfy it (ALL is checked by the caller)."""
        if self.value is None or self.is_all:
            return True
        if match := re.fullmatch(r"(\d+)\+", self.value):
            return count >= int(match.group(1))
        if match := re.fullmatch(r"(\d+)-(\d+)", self.value):
            return int(match.group(1)) <= count <= int(match.group(2))
        if self.value.isdigit():
            return count == int(self.value)
        return True

    @property
    def supports_auto_deploy(self) -> bool:
        """True when auto-deploy may place one instance (or ALL)."""
        return self.is_all or self.allows(1)


@dataclass(frozen=True)
class Dependency:
    """A component's ``<dependency>`` on another component."""

    name: str
    service: str
    scope: str
    auto_deploy: bool = False
    co_locate: str | None = None
    conditional: bool = False

    def __str__(self) -> str:
        # Ambari's DependencyInfo.toString(), as it appears in validation messages.
        return (
            f"DependencyInfo[name={self.service}/{self.name}, scope={self.scope}, "
            f"auto-deploy={str(self.auto_deploy).lower()}]"
        )


@dataclass(frozen=True)
class Component:
    """One stack component."""

    name: str
    service: str
    category: str | None
    cardinality: Cardinality
    auto_deploy: bool = False
    co_locate: str | None = None
    dependencies: tuple[Dependency, ...] = ()

    @property
    def is_client(self) -> bool:
        """True for a CLIENT component."""
        return self.category == "CLIENT"

    @property
    def is_master(self) -> bool:
        """True for a MASTER component."""
        return self.category == "MASTER"


@dataclass(frozen=True)
class Stack:
    """A stack version (``HDP-2.6``) as one Ambari version defines it."""

    name: str
    version: str
    ambari: str
    components: Mapping[str, Component] = field(repr=False)
    required_passwords: Mapping[str, tuple[tuple[str, str], ...]] = field(repr=False)

    @property
    def id(self) -> str:
        """``NAME-VERSION``, as Ambari writes a stack."""
        return f"{self.name}-{self.version}"

    def service_components(self, service: str) -> list[Component]:
        """Every component of ``service``, in name order."""
        return sorted(
            (c for c in self.components.values() if c.service == service), key=lambda c: c.name
        )


def ambari_table(version: str) -> str:
    """Which bundled table answers for an Ambari version.

    >>> [ambari_table(v) for v in ("1.7.0", "2.0", "2.2.2", "2.5", "2.6.2.2", "2.7.9", "3.0")]
    ['1.7', '2.1', '2.4', '2.6', '2.6', '2.7', '3.0']
    """
    parts = re.findall(r"\d+", version)[:2]
    if len(parts) < 2:
        raise ValueError(f"{version!r} is not an Ambari version (examples: 2.6, 2.7.9, 3.0)")
    major_minor = (int(parts[0]), int(parts[1]))
    for table, upto in (
        ("1.7", (1, 7)), ("2.1", (2, 1)), ("2.4", (2, 4)), ("2.6", (2, 6)), ("2.7", (2, 7)),
    ):  # fmt: skip
        if major_minor <= upto:
            return table
    return "3.0"


@functools.cache
def _table(table: str) -> dict[str, Any]:
    text = resources.files("cloudagent.ambari").joinpath("stackdata", f"ambari-{table}.json")
    data: dict[str, Any] = json.loads(text.read_text(encoding="utf-8"))
    return data


def _component(name: str, raw: Mapping[str, Any]) -> Component:
    return Component(
        name=name,
        service=raw["service"],
        category=raw.get("category"),
        cardinality=Cardinality(raw.get("cardinality")),
        auto_deploy=bool(raw.get("auto_deploy")),
        co_locate=raw.get("co_locate"),
        dependencies=tuple(Dependency(**d) for d in raw.get("dependencies", ())),
    )


@functools.cache
def find_stack(name: str | None, version: str | None, ambari: str) -> Stack | None:
    """The stack ``name-version`` as Ambari ``ambari`` knows it, or None."""
    table = ambari_table(ambari)
    raw = _table(table)["stacks"].get(f"{name}-{version}")
    if raw is None or name is None or version is None:
        return None
    return Stack(
        name=name,
        version=version,
        ambari=table,
        components={n: _component(n, c) for n, c in raw["components"].items()},
        required_passwords={
            s: tuple((t, p) for t, p in props) for s, props in raw["required_passwords"].items()
        },
    )
