"""One reconcile cycle, without I/O: Serf's member list in, the hosts file text out.

The Reconciler keeps the little state DNS semantics need between cycles (when each failed
member was first seen failed, who arrived first, which problems were already reported) and
nothing else.

First come keeps. When two members claim one name (after case folding) or one address, the
senior one keeps it, ranked by:
1. this node itself (it knows its own name and address for certain);
2. the order in which this node first saw each member (``Arrivals``: a counter saved in
   the state directory, so it survives restarts; for an address, first seen *at* it);
3. for members first seen in the same cycle (a node with no history): a name Serf already
   spells in lower case before one we had to fold, then the better state, then the name.
A newcomer that conflicts is not served and is warned about once while the conflict lasts.

Cost per change, not per member: each cycle compares Serf's list with the last one and hands
only the changed members to an ``IncrementalView``. Every ``check_every`` seconds the whole
view is also built from scratch (``admit``, ``build_view``, ``render_hosts``: the reference);
if the two ever differ, that is logged as an error and the incremental state is rebuilt.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final

from cloudagent.arrivals import Arrivals
from cloudagent.dns.incremental import IncrementalView, Parse, Raw
from cloudagent.dns.render import render_hosts
from cloudagent.dns.view import DnsView, build_view, next_expiry, track_failures
from cloudagent.members import (
    Member,
    Membership,
    Status,
    admit,
    default_seniority,
    parse_address,
    parse_entries,
    parse_one,
)
from cloudagent.services import TAG as SERVICES_TAG

log = logging.getLogger(__name__)

CHECK_EVERY: Final = 60.0  # seconds between full rebuilds that check the incremental view


@dataclass(frozen=True)
class MemberEvent:
    """A change Serf's log named: ``EventMember<kind>: <name> <address>``."""

    kind: str  # join, leave, failed
    name: str
    address: str


@dataclass(frozen=True)
class FailedMember:
    """A member seen failed, as persisted: when it failed and where it was, so a restarted
    agent keeps serving it for the rest of its grace even before its new serf hears of it."""

    since: float
    address: str | None = None
    port: int = 0
    tags: tuple[tuple[str, str], ...] = ()

    def as_rpc(self, name: str) -> dict[str, object]:
        """The member as a serf ``members`` entry (validated again like any other)."""
        return {
            "Name": name,
            "Addr": self.address,
            "Port": self.port,
            "Status": "failed",
            "Tags": dict(self.tags),
        }


@dataclass(frozen=True)
class Cycle:
    """What one cycle decided. ``membership`` and ``view`` are built only when asked for."""

    hosts_text: str
    new_problems: tuple[str, ...]
    failures_changed: bool
    next_deadline: float | None
    arrivals_changed: bool
    members_count: int
    addresses_count: int
    in_grace: tuple[str, ...]
    membership_of: Callable[[], Membership] = field(repr=False, compare=False)
    view_of: Callable[[], DnsView] = field(repr=False, compare=False)

    @functools.cached_property
    def membership(self) -> Membership:
        """The admitted members and the problems found."""
        return self.membership_of()

    @functools.cached_property
    def view(self) -> DnsView:
        """What DNS serves."""
        return self.view_of()

    def summary(self, written: bool) -> str:
        """The cycle's sentence for the log."""
        grace = f", {len(self.in_grace)} failed in grace" if self.in_grace else ""
        counts = f"{self.members_count} members, {self.addresses_count} addresses{grace}"
        if written:
            return f"wrote hosts ({counts}), reloaded dnsmasq"
        return f"hosts unchanged ({counts})"


@dataclass(frozen=True)
class Rebuild:
    """One cycle computed from scratch (the reference the incremental view is checked by)."""

    arrivals: Arrivals
    failed_since: dict[str, float]
    membership: Membership
    view: DnsView
    text: str
    problems: frozenset[str]


class Reconciler:
    """Turns successive membership snapshots into hosts file texts."""

    def __init__(
        self,
        domain: str,
        grace: float,
        failed_since: Mapping[str, float] | None = None,
        *,
        arrivals: Arrivals | None = None,
        self_name: str | None = None,
        check_every: float = CHECK_EVERY,
        remembered: Mapping[str, FailedMember] | None = None,
    ) -> None:
        self.domain = domain
        self.grace = grace
        self.failed_since: dict[str, float] = dict(failed_since or {})
        self.arrivals = arrivals or Arrivals()
        # This node's serf name; None (tests, tools) skips the self and loopback rules.
        self.self_name = self_name
        self.check_every = check_every
        self.repairs = 0  # how often the incremental view differed from the reference
        # Failed members persisted by an earlier run: served until their grace ends unless
        # serf reports them itself (a restarted serf may never hear of a dead node).
        self.remembered: dict[str, FailedMember] = dict(remembered or {})
        for name, member in self.remembered.items():
            self.failed_since.setdefault(name, member.since)
        self._reported: frozenset[str] = frozenset()
        self._view: IncrementalView | None = None
        self._checked: float | None = None

    # --- cycles ---------------------------------------------------------------------------

    def step(self, raw_members: Iterable[Mapping[str, object]], now: float) -> Cycle:
        """Decide the hosts file for the membership Serf reports at wall-clock time ``now``."""
        raws = list(raw_members)
        # Both remembering steps cost a pass over the members only while some member is
        # failed: a healthy cluster's cycle stays proportional to its changes.
        if self.remembered:
            known = {entry.get("Name") for entry in raws}
            raws += [
                member.as_rpc(name)
                for name, member in self.remembered.items()
                if name not in known
                and member.address is not None
                and member.since + self.grace > now
            ]
        cycle = self._step(raws, now)
        if self.failed_since or self.remembered:
            self._remember(raws)
        return cycle

    def _remember(self, raws: Iterable[Raw]) -> None:
        """Keep where each failed member was, so a restart serves it for the rest of its grace."""
        view = self._view
        entry: Callable[[str], Raw | None] = (
            view.entry
            if view is not None
            else {name: raw for raw in raws if isinstance(name := raw.get("Name"), str)}.get
        )
        remembered: dict[str, FailedMember] = {}
        for name, since in self.failed_since.items():
            raw = entry(name)
            try:
                address = str(parse_address(raw.get("Addr"))) if raw is not None else None
            except ValueError:
                address = None
            if raw is None or address is None:
                remembered[name] = self.remembered.get(name) or FailedMember(since)
                continue
            port = raw.get("Port")
            tags = raw.get("Tags")
            remembered[name] = FailedMember(
                since,
                address,
                port if isinstance(port, int) else 0,
                tuple(
                    (k, v)
                    for k, v in (tags.items() if isinstance(tags, dict) else ())
                    if isinstance(k, str) and isinstance(v, str)
                ),
            )
        self.remembered = remembered

    def _step(self, raws: list[Raw], now: float) -> Cycle:
        keyed: dict[str, Raw] = {}
        loose: list[Raw] = []
        for raw in raws:
            name = raw.get("Name")
            if isinstance(name, str):
                keyed[name] = raw
            else:
                loose.append(raw)
        if len(keyed) + len(loose) != len(raws):
            # Two entries with one name: Serf never sends that, so do not try to be clever.
            self._view = None
            return self._from_reference(self.rebuild(raws, now), now)
        loopback = self._loopback(keyed.get(self.self_name) if self.self_name else None)
        view = self._view
        if view is None or view.loopback != loopback:
            view = self._view = self._new_view(loopback)
            changed: dict[str, Raw | None] = dict(keyed)
        else:
            changed = view.changes(keyed)
        due = self._checked is None or not 0 <= now - self._checked < self.check_every
        before = (self.arrivals, self.failed_since, self._reported)
        cycle = self._incremental(view, changed, loose, now)
        if due:
            self._checked = now
            return self._check(raws, now, before, cycle)
        return cycle

    def apply_event(self, event: MemberEvent, now: float) -> Cycle | None:
        """Apply the one member a Serf log line named, before the full read that confirms it.

        The member is validated like any other. A departure applies only to the member we
        know under that name at that address: a log line is text, and a member name with a
        line break in it could otherwise fake a departure of someone else. None when the
        event cannot be applied (no snapshot yet, unknown member, unparsable address).
        """
        view = self._view
        if view is None or event.name == self.self_name:
            # Our own entry decides the loopback rule: leave it to the full read.
            return None
        try:
            address = parse_address(event.address)
        except ValueError:
            return None
        old = view.entry(event.name)
        if event.kind == "join":
            base = dict(old) if old is not None else {"Name": event.name, "Port": 0, "Tags": {}}
            raw: dict[str, object] = {**base, "Addr": str(address), "Status": "alive"}
        else:
            if old is None:
                return None
            try:
                if parse_address(old.get("Addr")) != address:
                    return None
            except ValueError:
                return None
            tags = old.get("Tags")
            if isinstance(tags, Mapping) and (SERVICES_TAG in tags or tags.get("role") == "server"):
                # Its service names are in a second file that only the full read writes:
                # leave the departure to it, so host and service names go in one reload.
                return None
            status = Status.LEFT if event.kind == "leave" else Status.FAILED
            raw = {**old, "Status": status.value}
        return self._incremental(view, {event.name: raw}, view.loose, now)

    # --- the incremental path -------------------------------------------------------------

    def _new_view(self, loopback: bool | None) -> IncrementalView:
        return IncrementalView(
            domain=self.domain,
            grace=self.grace,
            loopback=loopback,
            parse=parse_one,
            name_seniority=self._name_seniority,
            address_seniority=self._address_seniority,
        )

    def _incremental(
        self,
        view: IncrementalView,
        changed: Mapping[str, Raw | None],
        loose: Iterable[Raw],
        now: float,
    ) -> Cycle:
        prior = self.failed_since
        arrivals_before = self.arrivals

        def record(valid: list[Member]) -> None:
            self.arrivals = self.arrivals.note(valid, now)

        # A new view's failed holders take their times from ``prior`` (known, or loaded).
        view.apply(changed, loose, now, prior, record)
        failed_since = dict(view.failed_since)
        failures_changed = failed_since != prior
        self.failed_since = failed_since
        problems = view.problems
        new_problems = tuple(sorted(problems - self._reported))
        self._reported = problems
        return Cycle(
            hosts_text=view.text,
            new_problems=new_problems,
            failures_changed=failures_changed,
            next_deadline=next_expiry(failed_since, self.grace, now),
            arrivals_changed=self.arrivals is not arrivals_before,
            members_count=view.members_count,
            addresses_count=view.addresses_count,
            in_grace=view.in_grace_names(),
            membership_of=view.membership_factory(),
            view_of=view.view_factory(),
        )

    # --- the reference: everything from scratch -------------------------------------------

    def rebuild(self, raws: Sequence[Raw], now: float, parse: Parse = parse_one) -> Rebuild:
        """The cycle for ``raws`` built from scratch, as the reference; no state changes."""
        entries, dropped = parse_entries(raws, parse)
        arrivals = self.arrivals.record(entries, now)
        saved, self.arrivals = self.arrivals, arrivals  # the seniority functions read it
        try:
            me = next((m for m in entries if m.key == self.self_name), None)
            loopback = None
            if self.self_name is not None:
                loopback = me is not None and me.address.is_loopback
            admitted = admit(
                entries, domain=self.domain, loopback=loopback, seniority=self._name_seniority
            )
            membership = Membership(admitted.members, tuple(dropped) + admitted.problems)
            failed_since = track_failures(membership.members, self.failed_since, now)
            view = build_view(
                membership.members,
                failed_since,
                now,
                self.grace,
                self.domain,
                seniority=self._address_seniority,
            )
        finally:
            self.arrivals = saved
        problems = frozenset(membership.problems + view.notes)
        return Rebuild(arrivals, failed_since, membership, view, render_hosts(view), problems)

    def _from_reference(self, ref: Rebuild, now: float) -> Cycle:
        arrivals_changed = ref.arrivals is not self.arrivals
        failures_changed = ref.failed_since != self.failed_since
        self.arrivals = ref.arrivals
        self.failed_since = ref.failed_since
        new_problems = tuple(sorted(ref.problems - self._reported))
        self._reported = ref.problems
        return Cycle(
            hosts_text=ref.text,
            new_problems=new_problems,
            failures_changed=failures_changed,
            next_deadline=next_expiry(ref.failed_since, self.grace, now),
            arrivals_changed=arrivals_changed,
            members_count=len(ref.membership.members),
            addresses_count=len(ref.view),
            in_grace=ref.view.in_grace,
            membership_of=lambda: ref.membership,
            view_of=lambda: ref.view,
        )

    def _check(
        self,
        raws: list[Raw],
        now: float,
        before: tuple[Arrivals, dict[str, float], frozenset[str]],
        cycle: Cycle,
    ) -> Cycle:
        """Build the same cycle from scratch and compare; repair the incremental view if not."""
        after = (self.arrivals, self.failed_since)
        self.arrivals, self.failed_since, _ = before
        ref = self.rebuild(raws, now, self._view.parsed if self._view else parse_one)
        self.arrivals, self.failed_since = after
        differences = [
            what
            for what, same in (
                ("hosts text", ref.text == cycle.hosts_text),
                ("problems", ref.problems == self._reported),
                ("failure times", ref.failed_since == self.failed_since),
            )
            if not same
        ]
        # The full record also refreshes when present members were last seen: keep it.
        self.arrivals = ref.arrivals
        if not differences:
            return cycle
        self.repairs += 1
        log.error(
            "BUG: the incremental DNS view differs from a full rebuild (%s) at %d members; "
            "serving the full rebuild and rebuilding the incremental view. Please report it.",
            ", ".join(differences),
            len(raws),
        )
        self._view = None  # the next cycle builds it again from scratch
        self.arrivals, self.failed_since, self._reported = before
        return self._from_reference(ref, now)

    def verify(self) -> bool:
        """Whether the incremental view equals a rebuild from scratch of the snapshot it holds,
        at the time of its last change (the periodic check, on demand; the reference is
        idempotent on its own outcome)."""
        view = self._view
        if view is None:
            return True
        ref = self.rebuild(view.entries(), view.now)
        return (
            ref.text == view.text
            and ref.problems == view.problems
            and ref.failed_since == view.failed_since
        )

    def _loopback(self, raw: Raw | None) -> bool | None:
        """Whether this node's serf runs on loopback (then only loopback members are served,
        else none); None when we do not know who we are."""
        if self.self_name is None:
            return None
        parsed = parse_one(raw) if raw is not None else None
        return isinstance(parsed, tuple) and parsed[0].address.is_loopback

    def _name_seniority(self, member: Member) -> tuple[object, ...]:
        mine = member.key == self.self_name
        return (not mine, self.arrivals.order(member), *default_seniority(member))

    def _address_seniority(self, member: Member) -> tuple[object, ...]:
        mine = member.key == self.self_name
        return (not mine, self.arrivals.address_order(member), *default_seniority(member))
