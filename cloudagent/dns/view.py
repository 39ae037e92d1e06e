"""Which members DNS serves, under which names: pure functions of a membership snapshot.

Rules (DESIGN.md, "DNS semantics"): alive and leaving members are served; left ones are not;
failed ones are served for a grace period after we first saw them failed; an alive member
claiming the address of a failed one takes that address over. One PTR per address.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from cloudagent import hostnames
from cloudagent.members import IPAddress, Member, Status

SERVED = frozenset({Status.ALIVE, Status.LEAVING})


@dataclass(frozen=True)
class HostEntry:
    """One line of the hosts file: an address and its names, the PTR target first."""

    address: str
    names: tuple[str, ...]


@dataclass(frozen=True)
class DnsView:
    """What DNS serves: entries sorted by address, plus facts for the cycle's log line."""

    entries: tuple[HostEntry, ...]
    in_grace: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()

    @property
    def names(self) -> frozenset[str]:
        """Every name served."""
        return frozenset(name for entry in self.entries for name in entry.names)

    def __len__(self) -> int:
        return len(self.entries)


def track_failures(
    members: Iterable[Member], failed_since: Mapping[str, float], now: float
) -> dict[str, float]:
    """When each currently failed member was first seen failed; others are forgotten.

    >>> import ipaddress
    >>> m = Member("a", ipaddress.ip_address("10.0.0.1"), 7946, Status.FAILED)
    >>> track_failures([m], {}, 5.0), track_failures([m], {"a": 1.0, "gone": 2.0}, 5.0)
    ({'a': 5.0}, {'a': 1.0})
    """
    return {m.name: failed_since.get(m.name, now) for m in members if m.status is Status.FAILED}


def next_expiry(failed_since: Mapping[str, float], grace: float, now: float) -> float | None:
    """The next moment a failed member's grace runs out, if any is still running."""
    pending = [t + grace for t in failed_since.values() if t + grace > now]
    return min(pending) if pending else None


def build_view(
    members: Iterable[Member],
    failed_since: Mapping[str, float],
    now: float,
    grace: float,
    domain: str,
) -> DnsView:
    """The DNS view of a membership at time ``now`` (seconds, any monotonic origin)."""
    notes: list[str] = []
    candidates: list[tuple[str, Member]] = []
    in_grace: list[str] = []
    for m in members:
        fqdn = m.fqdn(domain)
        if m.status in SERVED:
            candidates.append((fqdn, m))
        elif m.status is Status.FAILED and now - failed_since.get(m.name, now) < grace:
            candidates.append((fqdn, m))
            in_grace.append(fqdn)

    # One FQDN, one member: "a" and "a.<domain>" would otherwise both claim a.<domain>.
    by_fqdn: dict[str, Member] = {}
    for fqdn, m in sorted(candidates, key=lambda c: (c[1].status not in SERVED, c[1].name)):
        if fqdn in by_fqdn:
            notes.append(f"{m.name} not served: {fqdn} is already served for {by_fqdn[fqdn].name}")
            continue
        by_fqdn[fqdn] = m

    by_address: defaultdict[IPAddress, list[tuple[str, Member]]] = defaultdict(list)
    for fqdn, m in by_fqdn.items():
        by_address[m.address].append((fqdn, m))

    shorts = Counter(hostnames.short(fqdn) for fqdn in by_fqdn)
    entries: list[HostEntry] = []
    for address in sorted(by_address, key=lambda a: (a.version, int(a))):
        holders = by_address[address]
        if len(holders) > 1:
            holders = sorted(holders, key=lambda h: (h[1].status not in SERVED, h[0]))
            if any(m.status in SERVED for _, m in holders):
                for fqdn, m in holders:
                    if m.status not in SERVED:
                        notes.append(f"{fqdn} (failed) lost {address} to a live member")
                        in_grace.remove(fqdn)
                holders = [h for h in holders if h[1].status in SERVED]
            if len(holders) > 1:
                claimants = ", ".join(f for f, _ in holders)
                notes.append(f"{address} is claimed by {claimants}; PTR -> {holders[0][0]}")
        names: list[str] = []
        for fqdn, _ in holders:
            names.append(fqdn)
            alias = hostnames.short(fqdn)
            if shorts[alias] == 1:
                names.append(alias)
        entries.append(HostEntry(str(address), tuple(names)))
    return DnsView(tuple(entries), tuple(sorted(in_grace)), tuple(notes))
