"""The server role's provisioning, one level-triggered step at a time.

Each step reads the state that matters (is the API up, does the cluster exist, which hosts
are alive in Serf and registered in Ambari) and does the next thing. Nothing is remembered
that Ambari cannot tell us again, so a restarted agent resumes: an existing cluster is
followed, never created twice. Runs beside the DNS loop, never in it.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from cloudagent.ambari.blueprint import Blueprint, Rejection
from cloudagent.ambari.client import AmbariClient, AmbariError, AmbariUnavailable
from cloudagent.ambari.compare import differences
from cloudagent.ambari.layout import Candidate, LayoutError, assign_hosts, worker_group
from cloudagent.ambari.settings import AmbariSettings
from cloudagent.ambari.template import check_cluster_template
from cloudagent.ambari.validate import check_blueprint
from cloudagent.errors import CloudagentError
from cloudagent.files import read_text, write_atomic
from cloudagent.members import Member, Membership, Status
from cloudagent.secret import Secret
from cloudagent.topology import member_rack

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ProvisionStatus:
    """Where provisioning stands; published through Serf tags for ``cloudagent status``."""

    # waiting-for-ambari, waiting-for-hosts, provisioning, scaling, completed, failed, error
    phase: str
    message: str
    cluster: str
    request: int | None = None
    progress: float | None = None
    ready_hosts: int = 0
    expected_hosts: int = 0

    def tags(self) -> dict[str, str]:
        """The Serf tags that publish this status (read by ``cloudagent status``)."""
        tags = {
            "ambari-phase": self.phase,
            "ambari-cluster": self.cluster,
            "ambari-hosts": f"{self.ready_hosts}/{self.expected_hosts}",
        }
        if self.request is not None:
            tags["ambari-request"] = str(self.request)
        if self.progress is not None:
            tags["ambari-progress"] = f"{self.progress:.0f}"
        return tags


@dataclass
class _Saved:
    cluster: str | None = None
    request: int | None = None
    scale_requests: list[int] = field(default_factory=list)
    scaled: dict[str, str] = field(default_factory=dict)


Layout = dict[str, list[str]]  # host group -> FQDNs


@dataclass(frozen=True)
class ClusterOrder:
    """What to provision: a blueprint as loaded (Cloudbreak's wrapper already removed) and
    the cluster to create from it. Build it with :meth:`from_settings`."""

    blueprint_name: str
    blueprint: Mapping[str, Any]
    cluster: str
    default_password: Secret | None = None
    ambari_version: str | None = None

    @classmethod
    def from_settings(cls, settings: AmbariSettings, cluster: str | None = None) -> ClusterOrder:
        """The order the settings describe; ``cluster`` overrides their cluster name."""
        return cls(
            settings.blueprint_name,
            settings.blueprint,
            cluster or settings.cluster,
            settings.default_password,
            settings.ambari_version,
        )

    @cached_property
    def checked(self) -> Blueprint:
        """The blueprint as Ambari will hold it (auto-deployed components added), validated
        once; raises CloudagentError with Ambari's own verdict when Ambari would refuse it."""
        verdict = check_blueprint(
            self.blueprint, url_name=self.blueprint_name, ambari=self.ambari_version
        )
        if not verdict.accepted or verdict.blueprint is None:
            raise CloudagentError(
                f"blueprint {self.blueprint_name!r} would be rejected by Ambari: "
                f"{verdict.status} {verdict.message}"
            )
        return verdict.blueprint


@dataclass(frozen=True)
class Submission:
    """What :func:`provision_cluster` did."""

    registration: str  # "registered" or "already registered (identical)"
    layout: Layout
    request: int


def provision_cluster(
    client: AmbariClient,
    order: ClusterOrder,
    place: Callable[[Blueprint], Layout],
    racks: Mapping[str, str] | None = None,
) -> Submission:
    """Validate the blueprint, lay the hosts out (``place``), check the cluster template as
    Ambari will, register the blueprint, create the cluster: what ``blueprint submit`` and the
    server role both do. Nothing is sent until both documents pass the offline checks.
    ``racks`` gives hosts their ``rack_info``.
    Raises CloudagentError (AmbariError for Ambari's answers, LayoutError for the layout)."""
    bp = order.checked
    layout = place(bp)
    password = order.default_password.reveal() if order.default_password else None
    template = cluster_template(order.blueprint_name, layout, password, racks)
    try:
        check_cluster_template(
            template, order.cluster, {order.blueprint_name: bp}, ambari=bp.stack.ambari
        )
    except Rejection as rejection:
        raise CloudagentError(
            f"cluster {order.cluster} would be rejected by Ambari: "
            f"{rejection.status} {rejection.message}"
        ) from None
    registration = register_blueprint(client, order.blueprint_name, order.blueprint, bp)
    request = client.create_cluster(order.cluster, template)
    return Submission(registration, layout, request)


def as_registered(bp: Blueprint, doc: Mapping[str, Any]) -> dict[str, Any]:
    """Our blueprint in the shape Ambari returns it (for the 409 comparison)."""
    return {
        "Blueprints": {"stack_name": bp.stack.name, "stack_version": bp.stack.version},
        "host_groups": [
            {"name": g, "components": [{"name": c} for c in comps]}
            for g, comps in bp.host_groups.items()
        ],
        "configurations": doc.get("configurations") or [],
    }


def register_blueprint(
    client: AmbariClient, name: str, doc: Mapping[str, Any], bp: Blueprint
) -> str:
    """Register the blueprint; an identical one already there is success."""
    try:
        client.post_blueprint(name, doc)
    except AmbariError as exc:
        if exc.status != 409:
            raise
        theirs = client.blueprint(name) or {}
        diffs = differences(as_registered(bp, doc), theirs)
        if diffs:
            raise AmbariError(
                f"blueprint {name!r} is already registered in Ambari with "
                f"different content ({'; '.join(diffs[:6])}); delete it "
                f"(DELETE /api/v1/blueprints/{name}) or use another name",
                status=409,
            ) from None
        return "already registered (identical)"
    return "registered"


def cluster_template(
    blueprint: str,
    layout: Mapping[str, list[str]],
    default_password: str | None,
    racks: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The cluster creation template for a layout; ``racks`` gives hosts their ``rack_info``
    (a per-host field of the template since Ambari 2.2.1, AMBARI-14600; older servers read
    only ``fqdn`` and ignore it)."""
    racks = racks or {}
    template: dict[str, Any] = {
        "blueprint": blueprint,
        "host_groups": [
            {"name": group, "hosts": [_host(h, racks.get(h)) for h in hosts]}
            for group, hosts in layout.items()
        ],
    }
    if default_password:
        template["default_password"] = default_password
    return template


def _host(fqdn: str, rack: str | None) -> dict[str, str]:
    return {"fqdn": fqdn} if rack is None else {"fqdn": fqdn, "rack_info": rack}


def racks_of(alive: Mapping[str, Member], hosts: Iterable[str]) -> dict[str, str]:
    """Each host's rack from its member's ``rack`` tag (an invalid tag: ``/default-rack``;
    the DNS loop has warned about it)."""
    return {h: member_rack(alive[h])[0] for h in hosts if h in alive}


class Provisioner:
    """Turns a blueprint into a cluster once the expected hosts are in."""

    def __init__(
        self,
        client: AmbariClient,
        settings: AmbariSettings,
        domain: str,
        server_fqdn: str,
        state_file: Path,
    ) -> None:
        self.client = client
        self.settings = settings
        self.domain = domain
        self.server_fqdn = server_fqdn
        self.state_file = state_file
        self.order = ClusterOrder.from_settings(settings)
        self.saved = self._load()

    def _load(self) -> _Saved:
        try:
            raw = json.loads(read_text(self.state_file) or "{}")
            return _Saved(**raw) if isinstance(raw, dict) else _Saved()
        except (ValueError, TypeError):
            log.warning("ignoring unreadable %s", self.state_file)
            return _Saved()

    def _save(self) -> None:
        write_atomic(self.state_file, json.dumps(self.saved.__dict__, indent=2) + "\n", mode=0o600)

    def _status(self, phase: str, message: str, **kwargs: Any) -> ProvisionStatus:
        return ProvisionStatus(
            phase,
            message,
            self.settings.cluster,
            expected_hosts=self.settings.expected_hosts,
            **kwargs,
        )

    def step(self, membership: Membership) -> ProvisionStatus:
        """Do the next thing; never raises for Ambari's answers (they become the status)."""
        try:
            return self._step(membership)
        except AmbariUnavailable as exc:
            return self._status("waiting-for-ambari", str(exc))
        except (AmbariError, LayoutError, CloudagentError) as exc:
            return self._status("error", str(exc))

    def _step(self, membership: Membership) -> ProvisionStatus:
        if not self.client.ready():
            return self._status(
                "waiting-for-ambari", f"waiting for the Ambari API at {self.client.base_url}"
            )
        alive = {m.fqdn(self.domain): m for m in membership.members if m.status is Status.ALIVE}
        registered = {h.name for h in self.client.hosts() if h.status == "HEALTHY"}
        ready = sorted(set(alive) & registered)
        if self.client.cluster(self.settings.cluster) is None:
            return self._create(alive, registered, ready)
        return self._follow(alive, ready)

    def _create(
        self, alive: Mapping[str, Any], registered: set[str], ready: list[str]
    ) -> ProvisionStatus:
        expected = self.settings.expected_hosts
        if len(ready) < expected:
            parts = [f"{len(ready)}/{expected} hosts alive in Serf and registered in Ambari"]
            if waiting := sorted(set(alive) - registered):
                parts.append(f"not registered yet: {', '.join(waiting)}")
            if strangers := sorted(registered - set(alive)):
                parts.append(
                    f"registered under a name no alive Serf member has: {', '.join(strangers)} "
                    "(an agent must report the FQDN its member is served under)"
                )
            return self._status("waiting-for-hosts", "; ".join(parts), ready_hosts=len(ready))
        candidates = [
            Candidate(h, alive[h].tags.get("hostgroup"), h == self.server_fqdn) for h in ready
        ]
        submitted = provision_cluster(
            self.client,
            self.order,
            lambda bp: assign_hosts(bp, candidates),
            racks_of(alive, ready),
        )
        request = submitted.request
        self.saved = _Saved(cluster=self.settings.cluster, request=request)
        self._save()
        log.info(
            "blueprint %s %s; cluster %s requested (request %d): %s",
            self.order.blueprint_name,
            submitted.registration,
            self.order.cluster,
            request,
            "; ".join(f"{g}: {', '.join(h)}" for g, h in submitted.layout.items()),
        )
        return self._status(
            "provisioning",
            f"cluster requested (request {request})",
            request=request,
            progress=0.0,
            ready_hosts=len(ready),
        )

    def _follow(self, alive: Mapping[str, Any], ready: list[str]) -> ProvisionStatus:
        cluster = self.settings.cluster
        if self.saved.cluster != cluster or self.saved.request is None:
            ids = self.client.request_ids(cluster)
            self.saved = _Saved(cluster=cluster, request=ids[0] if ids else None)
            self._save()
            log.info("cluster %s exists: resuming (request %s)", cluster, self.saved.request)
        if self.saved.request is None:
            return self._status("completed", f"cluster {cluster} exists (no request to follow)")
        main = self.client.request(cluster, self.saved.request)
        self._scale_up(alive, ready)
        base = {"request": main.id, "progress": main.progress, "ready_hosts": len(ready)}
        if main.failed:
            return self._status(
                "failed", f"request {main.id} {main.status}: {main.context}", **base
            )
        if not main.finished:
            return self._status("provisioning", f"request {main.id} {main.status}", **base)
        for scale_id in self.saved.scale_requests:
            scale = self.client.request(cluster, scale_id)
            if scale.failed:
                return self._status(
                    "failed",
                    f"scale-up request {scale.id} {scale.status}",
                    request=scale.id,
                    progress=scale.progress,
                    ready_hosts=len(ready),
                )
            if not scale.finished:
                return self._status(
                    "scaling",
                    f"{scale.context}: {scale.status}",
                    request=scale.id,
                    progress=scale.progress,
                    ready_hosts=len(ready),
                )
        return self._status("completed", f"cluster {cluster} provisioned", **base)

    def _scale_up(self, alive: Mapping[str, Any], ready: list[str]) -> None:
        """Hosts alive and registered after creation join with the blueprint scale-up call."""
        in_cluster = set(self.client.cluster_hosts(self.settings.cluster))
        new = [h for h in ready if h not in in_cluster and h not in self.saved.scaled]
        if not new:
            return
        bp = self.order.checked
        default_group = worker_group(bp)
        assignment: dict[str, str] = {}
        for host in new:
            group = alive[host].tags.get("hostgroup") or default_group
            if group is None or group not in bp.host_groups:
                log.error(
                    "cannot add %s: no host group for it (tag a hostgroup of %s)",
                    host,
                    ", ".join(bp.host_groups),
                )
                continue
            assignment[host] = group
        if not assignment:
            return
        request = self.client.add_hosts(
            self.settings.cluster,
            self.settings.blueprint_name,
            assignment,
            racks_of(alive, assignment),
        )
        self.saved.scale_requests.append(request)
        self.saved.scaled.update(assignment)
        self._save()
        log.info(
            "scale-up request %d: %s",
            request,
            ", ".join(f"{h} -> {g}" for h, g in sorted(assignment.items())),
        )
