"""The DNS view kept up to date change by change: the cost of a cycle grows with the number
of changed members, not with the size of the cluster.

The same rules as :func:`cloudagent.members.admit` and :func:`cloudagent.dns.view.build_view`
(they share :func:`screen`, :func:`settle_name`, :func:`settle_address`), applied only where a
change can matter:

1. a changed member is parsed and screened again, and the FQDNs it claimed and claims now are
   marked dirty;
2. each dirty FQDN gets its holder again (first come keeps); where the holder changed, the old
   and new holder's addresses are marked dirty, and failure times follow the holder;
3. a failed holder whose grace ran out (or began again after a clock step) marks its address;
4. each dirty address gets its served FQDN again; a short name that became unique or shared
   marks the addresses that carry it;
5. the lines of the marked addresses are replaced in an address-ordered table, and the hosts
   text is the join of that table.

Decisions about unchanged members stay valid because their seniority does not change: the
arrival record only changes for members that changed. ``Reconciler`` checks this state
against a rebuild from scratch periodically and repairs it if they ever differ.
"""

from __future__ import annotations

import bisect
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from typing import Final, TypeAlias, TypeVar

from cloudagent import hostnames
from cloudagent.dns.render import HOSTS_HEADER, host_line
from cloudagent.dns.view import (
    SERVED,
    DnsView,
    HostEntry,
    address_key,
    host_names,
    in_grace,
    settle_address,
)
from cloudagent.members import (
    IPAddress,
    Member,
    Membership,
    Seniority,
    Status,
    fingerprint,
    parse_entries,
    screen,
    settle_name,
)

Raw = Mapping[str, object]
Parse = Callable[[Raw], tuple[Member, list[str]] | str]
NO_PROBLEMS: Final[tuple[str, ...]] = ()
_K = TypeVar("_K")
_V = TypeVar("_V")
Multi: TypeAlias = _V | set[_V]  # one value, or a set of several


class IncrementalView:
    """One node's DNS view, with the indexes that let a change be applied on its own."""

    def __init__(
        self,
        *,
        domain: str,
        grace: float,
        loopback: bool | None,
        parse: Parse,
        name_seniority: Seniority,
        address_seniority: Seniority,
    ) -> None:
        self.domain = domain
        self.grace = grace
        self.loopback = loopback
        self._parse = parse
        self._name_seniority = name_seniority
        self._address_seniority = address_seniority
        # Serf's name -> fingerprint of its last entry (to find what changed), and the entry
        # itself only when its parsed member cannot stand in for it (dropped, or a tag was):
        # a decoded entry costs ~900 bytes, 45 MB at 50 000 members.
        self.fingerprints: dict[str, int] = {}
        self._kept: dict[str, Member | Raw] = {}
        self.loose: tuple[Raw, ...] = ()  # entries without a usable name (always dropped)
        self.failed_since: dict[str, float] = {}
        self._eligible: dict[str, Member] = {}  # key -> member that passed the screen
        self._member_problems: dict[str, tuple[str, ...]] = {}
        # Indexes map to one value, or to a set when several share the key (rare): a set per
        # entry would cost ~200 bytes each, 30 MB at 50 000 members.
        self._claims: dict[str, Multi[str]] = {}  # FQDN -> keys of the members claiming it
        self.holders: dict[str, Member] = {}  # FQDN -> the member holding it
        self._name_problems: dict[str, tuple[str, ...]] = {}
        self._grace: dict[str, bool] = {}  # FQDN of a failed holder -> still in grace
        self._at: dict[IPAddress, Multi[str]] = {}  # address -> FQDNs held there
        self._served: dict[IPAddress, str] = {}
        self._notes: dict[IPAddress, tuple[str, ...]] = {}
        self._in_grace: dict[IPAddress, tuple[str, ...]] = {}
        self._shorts: Counter[str] = Counter()
        self._short_at: dict[str, Multi[IPAddress]] = {}
        self._keys: list[tuple[int, int]] = []  # address order
        self._lines: list[str] = []  # the hosts line of each address, same order
        self._problems: Counter[str] = Counter()
        self._loose_problems: tuple[str, ...] = ()
        self.text = HOSTS_HEADER
        self.now = 0.0  # the time of the last change applied

    # --- the outcome ------------------------------------------------------------------------

    @property
    def problems(self) -> frozenset[str]:
        """Every problem that holds now (dropped members, conflicts, notes)."""
        return frozenset(self._problems)

    @property
    def members_count(self) -> int:
        """How many members are admitted (hold their name)."""
        return len(self.holders)

    @property
    def addresses_count(self) -> int:
        """How many addresses are served."""
        return len(self._lines)

    def in_grace_names(self) -> tuple[str, ...]:
        """FQDNs of failed members still served."""
        return tuple(sorted(f for names in self._in_grace.values() for f in names))

    def membership_factory(self) -> Callable[[], Membership]:
        """A function that builds this moment's Membership when (and only if) it is needed."""
        holders = list(self.holders.values())
        member_problems = list(self._member_problems.values())
        name_problems = list(self._name_problems.values())
        loose = self._loose_problems

        def build() -> Membership:
            problems = [p for ps in member_problems for p in ps]
            problems += loose
            problems += [p for ps in name_problems for p in ps]
            members = tuple(sorted(holders, key=lambda m: m.name))
            return Membership(members, tuple(problems))

        return build

    def view_factory(self) -> Callable[[], DnsView]:
        """A function that builds this moment's DnsView when (and only if) it is needed."""
        lines = list(self._lines)
        in_grace_names = self.in_grace_names()
        notes = tuple(n for ns in self._notes.values() for n in ns)

        def build() -> DnsView:
            entries = []
            for line in lines:
                address, *names = line.split()
                entries.append(HostEntry(address, tuple(names)))
            return DnsView(tuple(entries), in_grace_names, notes)

        return build

    def entry(self, key: str) -> Raw | None:
        """Serf's last entry for ``key``, or one that parses to the same member and problems."""
        kept = self._kept.get(key)
        return kept.as_rpc() if isinstance(kept, Member) else kept

    def changes(self, keyed: Mapping[str, Raw]) -> dict[str, Raw | None]:
        """Serf's entries (by name) that differ from the ones applied last; None: gone."""
        old = self.fingerprints.get
        changed: dict[str, Raw | None] = {
            name: raw for name, raw in keyed.items() if old(name) != fingerprint(raw)
        }
        for gone in self.fingerprints.keys() - keyed.keys():
            changed[gone] = None
        return changed

    def parsed(self, raw: Raw) -> tuple[Member, list[str]] | str:
        """``raw`` parsed, reusing the member parsed when the same entry was applied: parsing
        is not incremental, so the full check need not pay for it twice (21 MB at 50 000)."""
        name = raw.get("Name")
        if isinstance(name, str):
            kept = self._kept.get(name)
            if isinstance(kept, Member) and self.fingerprints[name] == fingerprint(raw):
                return kept, []
        return self._parse(raw)

    def entries(self) -> list[Raw]:
        """Every entry applied, as :meth:`entry` gives them (the nameless ones last)."""
        kept = self._kept.values()
        return [*(k.as_rpc() if isinstance(k, Member) else k for k in kept), *self.loose]

    # --- changes ----------------------------------------------------------------------------

    def apply(
        self,
        changed: Mapping[str, Raw | None],
        loose: Iterable[Raw],
        now: float,
        prior_failed: Mapping[str, float],
        record: Callable[[list[Member]], None],
    ) -> bool:
        """Apply the members that changed (None: gone from Serf's list) at time ``now``.

        ``prior_failed``: when each member was first seen failed, before this cycle.
        ``record`` is told the valid changed members before any seniority is asked.
        Returns True when the hosts text changed.
        """
        self.now = now
        self._set_loose(tuple(loose))
        dirty_names, valid = self._members(changed)
        record(valid)
        dirty_addresses = self._names(dirty_names, now, prior_failed)
        dirty_addresses |= self._grace_flips(now)
        dirty_lines = self._addresses(dirty_addresses)
        return self._rewrite(dirty_lines)

    def _count(self, problems: Iterable[str], sign: int) -> None:
        for p in problems:
            left = self._problems[p] + sign
            if left > 0:
                self._problems[p] = left
            else:
                del self._problems[p]

    def _set_loose(self, loose: tuple[Raw, ...]) -> None:
        if loose == self.loose:
            return
        self.loose = loose
        self._count(self._loose_problems, -1)
        # An entry whose name is not a string is always dropped: only its problem counts.
        _, problems = parse_entries(loose, self._parse)
        self._loose_problems = tuple(problems)
        self._count(self._loose_problems, 1)

    def _members(self, changed: Mapping[str, Raw | None]) -> tuple[set[str], list[Member]]:
        dirty: set[str] = set()
        valid: list[Member] = []
        for key, raw in changed.items():
            self._count(self._member_problems.pop(key, NO_PROBLEMS), -1)
            old = self._eligible.pop(key, None)
            if old is not None:
                fqdn = old.fqdn(self.domain)
                _discard(self._claims, fqdn, key)
                dirty.add(fqdn)
            if raw is None:
                self.fingerprints.pop(key, None)
                self._kept.pop(key, None)
                continue
            self.fingerprints[key] = fingerprint(raw)
            parsed = self._parse(raw)
            if isinstance(parsed, str):
                self._kept[key] = raw
                problems = [f"member {key!r} dropped: {parsed}"]
            else:
                member, tag_problems = parsed
                self._kept[key] = raw if tag_problems else member
                valid.append(member)
                problems = [f"member {key!r}: {p}" for p in tag_problems]
                if problem := screen(member, self.domain, self.loopback):
                    problems.append(problem)
                else:
                    self._eligible[key] = member
                    fqdn = member.fqdn(self.domain)
                    _add(self._claims, fqdn, key)
                    dirty.add(fqdn)
            if problems:
                self._member_problems[key] = tuple(problems)
                self._count(problems, 1)
        return dirty, valid

    def _names(
        self, dirty: set[str], now: float, prior_failed: Mapping[str, float]
    ) -> set[IPAddress]:
        addresses: set[IPAddress] = set()
        for fqdn in dirty:
            old = self.holders.pop(fqdn, None)
            self._count(self._name_problems.pop(fqdn, NO_PROBLEMS), -1)
            new = None
            keys = _values(self._claims, fqdn)
            if keys:
                new, problems = settle_name(
                    fqdn, [self._eligible[k] for k in keys], self._name_seniority
                )
                self.holders[fqdn] = new
                if problems:
                    self._name_problems[fqdn] = tuple(problems)
                    self._count(problems, 1)
            if old == new:
                continue
            if old is not None:
                self.failed_since.pop(old.name, None)
                self._grace.pop(fqdn, None)
                _discard(self._at, old.address, fqdn)
                addresses.add(old.address)
            if new is not None:
                if new.status is Status.FAILED:
                    self.failed_since[new.name] = prior_failed.get(new.name, now)
                    self._grace[fqdn] = in_grace(new, self.failed_since, now, self.grace)
                _add(self._at, new.address, fqdn)
                addresses.add(new.address)
        return addresses

    def _grace_flips(self, now: float) -> set[IPAddress]:
        flipped: set[IPAddress] = set()
        for fqdn, was in self._grace.items():
            member = self.holders[fqdn]
            if in_grace(member, self.failed_since, now, self.grace) != was:
                self._grace[fqdn] = not was
                flipped.add(member.address)
        return flipped

    def _addresses(self, dirty: set[IPAddress]) -> set[IPAddress]:
        lines: set[IPAddress] = set()
        for address in dirty:
            self._count(self._notes.pop(address, NO_PROBLEMS), -1)
            self._in_grace.pop(address, None)
            old = self._served.pop(address, None)
            candidates = [
                (fqdn, self.holders[fqdn])
                for fqdn in _values(self._at, address)
                if self.holders[fqdn].status in SERVED or self._grace.get(fqdn, False)
            ]
            new = None
            if candidates:
                new, notes, lost = settle_address(address, candidates, self._address_seniority)
                self._served[address] = new
                if notes:
                    self._notes[address] = tuple(notes)
                    self._count(notes, 1)
                kept = tuple(f for f, m in candidates if m.status not in SERVED and f not in lost)
                if kept:
                    self._in_grace[address] = kept
            lines.add(address)
            if old != new:
                for fqdn, sign in ((old, -1), (new, 1)):
                    if fqdn is not None:
                        lines |= self._short(hostnames.short(fqdn), address, sign)
        return lines

    def _short(self, short: str, address: IPAddress, sign: int) -> set[IPAddress]:
        """Count a short name in or out; the addresses whose alias may change with it."""
        self._shorts[short] += sign
        if sign > 0:
            _add(self._short_at, short, address)
        else:
            _discard(self._short_at, short, address)
        if self._shorts[short] <= 0:
            del self._shorts[short]
        return set(_values(self._short_at, short))

    def _rewrite(self, dirty: set[IPAddress]) -> bool:
        changed = False
        for address in dirty:
            key = address_key(address)
            i = bisect.bisect_left(self._keys, key)
            present = i < len(self._keys) and self._keys[i] == key
            fqdn = self._served.get(address)
            if fqdn is None:
                if present:
                    del self._keys[i]
                    del self._lines[i]
                    changed = True
                continue
            unique = self._shorts[hostnames.short(fqdn)] == 1
            line = host_line(str(address), host_names(fqdn, unique))
            if not present:
                self._keys.insert(i, key)
                self._lines.insert(i, line)
                changed = True
            elif self._lines[i] != line:
                self._lines[i] = line
                changed = True
        if changed:
            self.text = "".join([HOSTS_HEADER, *self._lines])  # one copy of the text, not two
        return changed


def _values(index: dict[_K, Multi[_V]], key: _K) -> tuple[_V, ...]:
    found = index.get(key)
    if found is None:
        return ()
    return tuple(found) if isinstance(found, set) else (found,)


def _add(index: dict[_K, Multi[_V]], key: _K, value: _V) -> None:
    found = index.get(key)
    if found is None:
        index[key] = value
    elif isinstance(found, set):
        found.add(value)
    elif found != value:
        index[key] = {found, value}


def _discard(index: dict[_K, Multi[_V]], key: _K, value: _V) -> None:
    found = index.get(key)
    if isinstance(found, set):
        found.discard(value)
        if len(found) == 1:
            index[key] = next(iter(found))
    elif found == value:
        del index[key]
