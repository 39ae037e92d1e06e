"""Who was here first: the order in which this node first saw each member, and each member
at its address. Pure values; the daemon keeps them in the state directory across restarts.

Why our own record and not Serf's: Serf's ``members`` reply carries no join time and no
Lamport time, and its order is not an order at all (the agent copies its members out of a Go
map, whose iteration order is randomised; hashicorp/serf ``serf.go``, ``Members``). So each
node numbers the members in the order it first sees them. The number is a counter, not a
clock reading, so a clock step cannot make a newcomer look older; it is saved after every
change and loaded at start, so a restart keeps it. Members first seen in the same cycle
share a number; the caller breaks such ties (see ``Reconciler``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Final

from cloudagent.members import Member

# A member absent from Serf's list is remembered this long, so a member that comes back
# after an outage (or after our serf restarted without its snapshot) keeps its seniority.
# Serf itself forgets failed and left members after 24 h (reconnect_timeout, tombstone_timeout).
FORGET_AFTER: Final = 48 * 3600.0
# last_seen is refreshed at this granularity so the file is not rewritten every cycle.
SEEN_EVERY: Final = 3600.0


@dataclass(frozen=True, slots=True)
class Arrival:
    """When (as a sequence number) a member was first seen, and first seen at its address."""

    order: int
    address: str
    address_order: int
    last_seen: float


@dataclass(frozen=True)
class Arrivals:
    """The arrival record of every member this node has seen recently."""

    members: Mapping[str, Arrival] = field(default_factory=dict)
    next_order: int = 1

    def record(self, members: Iterable[Member], now: float) -> Arrivals:
        """The record after a cycle that saw ``members`` at wall-clock time ``now``.

        >>> import ipaddress
        >>> from cloudagent.members import Status
        >>> a = Member("a", ipaddress.ip_address("10.0.0.1"), 7946, Status.ALIVE)
        >>> b = Member("b", ipaddress.ip_address("10.0.0.2"), 7946, Status.ALIVE)
        >>> first = Arrivals().record([a], 0.0)
        >>> later = first.record([a, b], 1.0)
        >>> later.order(a), later.order(b), later.record([a, b], 2.0) == later
        (1, 2, True)
        """
        seen, new = self._judge(members, now)
        for key, known in self.members.items():
            if key not in seen and now - known.last_seen < FORGET_AFTER:
                seen[key] = known
        result = Arrivals(seen, self.next_order + 1 if new else self.next_order)
        return self if result == self else result

    def note(self, changed: Iterable[Member], now: float) -> Arrivals:
        """The record after a cycle in which only ``changed`` members differ from the last one.

        Each of them is judged as :meth:`record` would; nobody else is refreshed or forgotten
        here (an incremental cycle does not look at them). The periodic full cycle calls
        :meth:`record`, which does both, so a member is forgotten at most one full-check
        period later than ``FORGET_AFTER``.
        """
        seen, new = self._judge(changed, now)
        if not seen or all(self.members.get(k) is a for k, a in seen.items()):
            return self
        merged = dict(self.members)
        merged.update(seen)
        return Arrivals(merged, self.next_order + 1 if new else self.next_order)

    def _judge(self, members: Iterable[Member], now: float) -> tuple[dict[str, Arrival], bool]:
        seen: dict[str, Arrival] = {}
        new = False
        for m in members:
            address = str(m.address)
            known = self.members.get(m.key)
            if known is None:
                seen[m.key] = Arrival(self.next_order, address, self.next_order, now)
                new = True
            elif known.address != address:
                seen[m.key] = replace(
                    known, address=address, address_order=self.next_order, last_seen=now
                )
                new = True
            elif now - known.last_seen >= SEEN_EVERY:
                seen[m.key] = replace(known, last_seen=now)
            else:
                seen[m.key] = known
        return seen, new

    def order(self, member: Member) -> int:
        """When ``member`` was first seen (lower is earlier); unknown members come last."""
        known = self.members.get(member.key)
        return known.order if known is not None else self.next_order

    def address_order(self, member: Member) -> int:
        """When ``member`` was first seen at its current address."""
        known = self.members.get(member.key)
        if known is None or known.address != str(member.address):
            return self.next_order
        return known.address_order

    def to_json(self) -> str:
        """The record as the daemon saves it."""
        doc = {
            "next_order": self.next_order,
            "members": {
                key: [a.order, a.address, a.address_order, a.last_seen]
                for key, a in sorted(self.members.items())
            },
        }
        # Without ``indent``: json then uses its C encoder, ~5x faster at 10k members.
        return json.dumps(doc, separators=(",", ":")) + "\n"

    @classmethod
    def from_json(cls, text: str) -> Arrivals:
        """Parse a saved record; raises ValueError when it is not one."""
        doc: Any = json.loads(text)
        if not isinstance(doc, dict) or not isinstance(doc.get("members"), dict):
            raise ValueError("not an arrivals record")
        members: dict[str, Arrival] = {}
        for key, row in doc["members"].items():
            if (
                isinstance(row, list)
                and len(row) == 4
                and isinstance(row[0], int)
                and isinstance(row[1], str)
                and isinstance(row[2], int)
                and isinstance(row[3], int | float)
            ):
                members[str(key)] = Arrival(row[0], row[1], row[2], float(row[3]))
        highest = max((max(a.order, a.address_order) for a in members.values()), default=0)
        next_order = doc.get("next_order")
        if not isinstance(next_order, int):
            next_order = 0
        return cls(members, max(next_order, highest + 1))
