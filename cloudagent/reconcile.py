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
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from cloudagent.arrivals import Arrivals
from cloudagent.dns.render import render_hosts
from cloudagent.dns.view import DnsView, build_view, next_expiry, track_failures
from cloudagent.members import (
    Member,
    Membership,
    admit,
    default_seniority,
    parse_entries,
    parse_one,
)

MAX_CACHE: Final = 100_000


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
    """What one cycle decided."""

    membership: Membership
    view: DnsView
    hosts_text: str
    new_problems: tuple[str, ...]
    failures_changed: bool
    next_deadline: float | None
    arrivals_changed: bool = False

    def summary(self, written: bool) -> str:
        """The cycle's sentence for the log."""
        grace = f", {len(self.view.in_grace)} failed in grace" if self.view.in_grace else ""
        counts = f"{len(self.membership.members)} members, {len(self.view)} addresses{grace}"
        if written:
            return f"wrote hosts ({counts}), reloaded dnsmasq"
        return f"hosts unchanged ({counts})"


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
        remembered: Mapping[str, FailedMember] | None = None,
    ) -> None:
        self.domain = domain
        self.grace = grace
        self.failed_since: dict[str, float] = dict(failed_since or {})
        self.arrivals = arrivals or Arrivals()
        # This node's serf name; None (tests, tools) skips the self and loopback rules.
        self.self_name = self_name
        # Failed members persisted by an earlier run: served until their grace ends unless
        # serf reports them itself (a restarted serf may never hear of a dead node).
        self.remembered: dict[str, FailedMember] = dict(remembered or {})
        for name, member in self.remembered.items():
            self.failed_since.setdefault(name, member.since)
        self._reported: frozenset[str] = frozenset()
        self._last: tuple[DnsView, str] | None = None
        self._parsed: dict[Any, tuple[Member, list[str]] | str] = {}

    def _parse_cached(self, raw: Mapping[str, object]) -> tuple[Member, list[str]] | str:
        """Member.from_rpc, remembered: most of a large membership is the same every cycle."""
        tags = raw.get("Tags")
        key = (
            raw.get("Name"),
            raw.get("Addr"),
            raw.get("Port"),
            raw.get("Status"),
            tuple(tags.items()) if isinstance(tags, dict) else tags,
        )
        try:
            return self._parsed[key]
        except KeyError:
            pass
        except TypeError:  # an unhashable value from the network: parse it, do not cache it
            return parse_one(raw)
        if len(self._parsed) > 4 * MAX_CACHE:
            self._parsed.clear()
        result = self._parsed[key] = parse_one(raw)
        return result

    def step(self, raw_members: Iterable[Mapping[str, object]], now: float) -> Cycle:
        """Decide the hosts file for the membership Serf reports at wall-clock time ``now``."""
        raw = list(raw_members)
        known = {entry.get("Name") for entry in raw}
        raw += [
            member.as_rpc(name)
            for name, member in self.remembered.items()
            if name not in known and member.address is not None and member.since + self.grace > now
        ]
        entries, dropped = parse_entries(raw, self._parse_cached)
        arrivals = self.arrivals.record(entries, now)
        arrivals_changed = arrivals is not self.arrivals
        self.arrivals = arrivals
        admitted = admit(
            entries,
            domain=self.domain,
            loopback=self._loopback(entries),
            seniority=self._name_seniority,
        )
        membership = Membership(admitted.members, tuple(dropped) + admitted.problems)
        failed_since = track_failures(membership.members, self.failed_since, now)
        self.remembered = {
            m.name: FailedMember(
                failed_since[m.name], str(m.address), m.port, tuple(m.tags.items())
            )
            for m in membership.members
            if m.name in failed_since
        }
        failures_changed = failed_since != self.failed_since
        self.failed_since = failed_since
        view = build_view(
            membership.members,
            failed_since,
            now,
            self.grace,
            self.domain,
            seniority=self._address_seniority,
        )
        problems = frozenset(membership.problems + view.notes)
        # Report each problem once while it lasts, not once per cycle.
        new_problems = tuple(sorted(problems - self._reported))
        self._reported = problems
        if self._last is None or self._last[0] != view:
            self._last = (view, render_hosts(view))
        return Cycle(
            membership=membership,
            view=view,
            hosts_text=self._last[1],
            new_problems=new_problems,
            failures_changed=failures_changed,
            next_deadline=next_expiry(failed_since, self.grace, now),
            arrivals_changed=arrivals_changed,
        )

    def _loopback(self, entries: list[Member]) -> bool | None:
        """Whether this node's serf runs on loopback (then only loopback members are served,
        else none); None when we do not know who we are."""
        if self.self_name is None:
            return None
        me = next((m for m in entries if m.key == self.self_name), None)
        return me is not None and me.address.is_loopback

    def _name_seniority(self, member: Member) -> tuple[object, ...]:
        mine = member.key == self.self_name
        return (not mine, self.arrivals.order(member), *default_seniority(member))

    def _address_seniority(self, member: Member) -> tuple[object, ...]:
        mine = member.key == self.self_name
        return (not mine, self.arrivals.address_order(member), *default_seniority(member))
