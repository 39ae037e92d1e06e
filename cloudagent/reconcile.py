"""One reconcile cycle, without I/O: Serf's member list in, the hosts file text out.

The Reconciler keeps the little state DNS semantics need between cycles (when each failed
member was first seen failed, which problems were already reported) and nothing else.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from cloudagent.dns.render import render_hosts
from cloudagent.dns.view import DnsView, build_view, next_expiry, track_failures
from cloudagent.members import Member, Membership, parse_members, parse_one

MAX_CACHE: Final = 100_000


@dataclass(frozen=True)
class Cycle:
    """What one cycle decided."""

    membership: Membership
    view: DnsView
    hosts_text: str
    new_problems: tuple[str, ...]
    failures_changed: bool
    next_deadline: float | None

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
        self, domain: str, grace: float, failed_since: Mapping[str, float] | None = None
    ) -> None:
        self.domain = domain
        self.grace = grace
        self.failed_since: dict[str, float] = dict(failed_since or {})
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
        membership = parse_members(raw_members, self._parse_cached)
        failed_since = track_failures(membership.members, self.failed_since, now)
        failures_changed = failed_since != self.failed_since
        self.failed_since = failed_since
        view = build_view(membership.members, failed_since, now, self.grace, self.domain)
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
        )
