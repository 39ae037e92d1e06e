"""Ambari's verdict on registering a blueprint: structure -> duplicate name -> configuration
-> topology, in Ambari's order (BlueprintResourceProvider, then BlueprintValidatorImpl, in
ambari-server)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cloudagent.ambari.blueprint import Blueprint, Rejection, check_configuration, check_structure
from cloudagent.ambari.topology import validate_topology


@dataclass(frozen=True)
class Verdict:
    """What Ambari answers to ``POST /blueprints/{name}``."""

    status: int
    message: str = ""
    blueprint: Blueprint | None = None

    @property
    def accepted(self) -> bool:
        """True when Ambari would answer 201 Created."""
        return self.status == 201

    def describe(self) -> str:
        """One line: accepted, or the status and Ambari's message."""
        return (
            "accepted (201 Created)" if self.accepted else f"rejected: {self.status} {self.message}"
        )


def check_blueprint(
    doc: Any,
    *,
    url_name: str | None = None,
    ambari: str | None = None,
    validate_topology_: bool = True,
    stack_override: tuple[str, str] | None = None,
    exists: Callable[[str], bool] | None = None,
    incident: str = "0",
) -> Verdict:
    """Ambari's verdict on registering ``doc`` (already parsed JSON)."""
    try:
        bp = check_structure(doc, url_name, ambari, stack_override, incident)
        if exists is not None and exists(bp.name):
            raise Rejection(
                409,
                f"Attempted to create a Blueprint which already exists, blueprint_name={bp.name}",
            )
        check_configuration(bp)
        if validate_topology_:
            bp, failure = validate_topology(bp)
            if failure:
                raise Rejection(400, failure)
    except Rejection as rejection:
        return Verdict(rejection.status, rejection.message)
    return Verdict(201, "", bp)
