"""Which members DNS serves, under which names: pure functions of a membership snapshot.

Rules (DESIGN.md, "DNS semantics"): alive and leaving members are served; left ones are not;
failed ones are served for a grace period after we first saw them failed; an alive member
claiming the address of a failed one takes that address over (an address reused after a
crash). Otherwise first come keeps: of two members on one address, the senior one is served
(name and PTR) and the other not at all. One PTR per address.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from cloudagent import hostnames
from cloudagent.members import IPAddress, Member, Seniority, Status, default_seniority

SERVED = frozenset({Status.ALIVE, Status.LEAVING})


@dataclass(frozen=True, slots=True)
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


def in_grace(member: Member, failed_since: Mapping[str, float], now: float, grace: float) -> bool:
    """A failed member still served: fewer than ``grace`` seconds since first seen failed."""
    return member.status is Status.FAILED and now - failed_since.get(member.name, now) < grace


def settle_address(
    address: IPAddress, holders: Sequence[tuple[str, Member]], seniority: Seniority
) -> tuple[str, list[str], list[str]]:
    """Who of the candidates (FQDN, member) on ``address`` is served there.

    Returns the served FQDN, the notes for the log, and the candidates in grace that are not
    served after all (they lost the address).
    """
    ranked = sorted(holders, key=lambda h: (h[1].status not in SERVED, seniority(h[1])))
    notes: list[str] = []
    lost: list[str] = []
    if ranked[0][1].status in SERVED:
        # An address reused after a crash: the live member takes it from the failed one.
        for fqdn, m in ranked:
            if m.status not in SERVED:
                notes.append(f"{fqdn} (failed) lost {address} to a live member")
                lost.append(fqdn)
        ranked = [h for h in ranked if h[1].status in SERVED]
    holder = ranked[0][0]
    for fqdn, m in ranked[1:]:
        notes.append(f"member {m.key!r} not served: {address} is already held by {holder}")
        if m.status not in SERVED:
            lost.append(fqdn)
    return holder, notes, lost


def host_names(fqdn: str, short_is_unique: bool) -> tuple[str, ...]:
    """The names of one hosts line: the FQDN (PTR target) and, when unambiguous, its short name."""
    return (fqdn, hostnames.short(fqdn)) if short_is_unique else (fqdn,)


def address_key(address: IPAddress) -> tuple[int, int]:
    """The order of the hosts file: IPv4 before IPv6, then numerically."""
    return (address.version, int(address))


def build_view(
    members: Iterable[Member],
    failed_since: Mapping[str, float],
    now: float,
    grace: float,
    domain: str,
    *,
    seniority: Seniority = default_seniority,
) -> DnsView:
    """The DNS view of a membership at time ``now`` (seconds, any monotonic origin), from
    scratch. (``IncrementalView`` keeps the same view up to date change by change.)

    ``seniority`` orders members that claim one FQDN or one address: lowest first keeps it.
    """
    notes: list[str] = []
    candidates: list[tuple[str, Member]] = []
    grace_fqdns: list[str] = []
    for m in members:
        fqdn = m.fqdn(domain)
        if m.status in SERVED:
            candidates.append((fqdn, m))
        elif in_grace(m, failed_since, now, grace):
            candidates.append((fqdn, m))
            grace_fqdns.append(fqdn)

    # One FQDN, one member: "a" and "a.<domain>" would otherwise both claim a.<domain>.
    by_fqdn: dict[str, Member] = {}
    ranked = sorted(candidates, key=lambda c: (c[1].status not in SERVED, seniority(c[1])))
    for fqdn, m in ranked:
        if fqdn in by_fqdn:
            notes.append(f"{m.name} not served: {fqdn} is already served for {by_fqdn[fqdn].name}")
            continue
        by_fqdn[fqdn] = m

    by_address: defaultdict[IPAddress, list[tuple[str, Member]]] = defaultdict(list)
    for fqdn, m in by_fqdn.items():
        by_address[m.address].append((fqdn, m))

    served: list[tuple[IPAddress, str]] = []
    for address in sorted(by_address, key=address_key):
        holder, address_notes, lost = settle_address(address, by_address[address], seniority)
        notes.extend(address_notes)
        for fqdn in lost:
            grace_fqdns.remove(fqdn)
        served.append((address, holder))

    shorts = Counter(hostnames.short(fqdn) for _, fqdn in served)
    entries = [
        HostEntry(str(address), host_names(fqdn, shorts[hostnames.short(fqdn)] == 1))
        for address, fqdn in served
    ]
    return DnsView(tuple(entries), tuple(sorted(grace_fqdns)), tuple(notes))
