"""Serf members parsed at the boundary into frozen, validated values.

Names, addresses and tags come from the network: Serf accepts any of them. A member whose
name or address is invalid is dropped with a reason; an invalid tag is dropped on its own.

Parsing happens in two steps. :func:`parse_entries` judges each member on its own (name,
address, status, port, tags); :func:`admit` then judges members against each other and the
cluster: names outside the domain, loopback addresses mixed with others, and two members
claiming one name after case folding. On a name conflict the senior member keeps the name
(first come keeps) and the other is dropped; who is senior is the caller's ``seniority``.
"""

from __future__ import annotations

import contextlib
import enum
import ipaddress
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from cloudagent import hostnames
from cloudagent.config import ROLES

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
MAX_TAG: Final = 512
BROADCAST: Final = ipaddress.IPv4Address("255.255.255.255")


class Status(enum.Enum):
    """Serf's member status."""

    ALIVE = "alive"
    LEAVING = "leaving"
    LEFT = "left"
    FAILED = "failed"
    NONE = "none"


@dataclass(frozen=True, slots=True)
class Member:
    """One valid Serf member. ``name`` is lower-cased and a valid host name; ``serf_name`` is
    the name exactly as Serf knows it (empty when it is ``name`` itself)."""

    name: str
    address: IPAddress
    port: int
    status: Status
    tags: Mapping[str, str] = field(default_factory=dict, hash=False, compare=True)
    serf_name: str = ""

    @property
    def key(self) -> str:
        """Serf's own name for this member: unique within Serf's member list."""
        return self.serf_name or self.name

    @property
    def canonical(self) -> bool:
        """True when Serf's name is already the name we serve (no case folding needed)."""
        return self.key == self.name

    @property
    def role(self) -> str | None:
        """The ``role`` tag (``server`` / ``agent``), if any."""
        return self.tags.get("role")

    def as_rpc(self) -> dict[str, object]:
        """An entry of Serf's ``members`` reply that parses back to this member."""
        return {
            "Name": self.key,
            "Addr": str(self.address),
            "Port": self.port,
            "Status": self.status.value,
            "Tags": dict(self.tags),
        }

    def fqdn(self, domain: str) -> str:
        """The name DNS serves for this member."""
        return hostnames.fqdn(self.name, domain)

    @classmethod
    def from_rpc(cls, raw: Mapping[str, object]) -> tuple[Member, list[str]]:
        """Parse one entry of Serf's ``members`` reply; returns the member and tag problems.

        Raises ValueError with the reason when the member must be dropped.
        """
        serf_name = raw.get("Name")
        if not isinstance(serf_name, str):
            raise ValueError("name is not a string")
        if not serf_name.isascii():
            # Python's lower() folds some non-ASCII letters onto ASCII ones (the Kelvin sign
            # becomes "k"), which would let a newcomer pose as an existing member.
            raise ValueError("invalid host name (not ASCII)")
        name = hostnames.normalise(serf_name)
        if problem := hostnames.hostname_problem(name):
            raise ValueError(f"invalid host name ({problem})")
        address = parse_address(raw.get("Addr"))
        if problem := address_problem(address):
            raise ValueError(f"unusable address {address} ({problem})")
        status_text = raw.get("Status")
        try:
            status = Status(status_text)
        except ValueError:
            raise ValueError(f"unknown status {status_text!r}") from None
        port = raw.get("Port")
        if not isinstance(port, int) or not 0 <= port < 65536:
            raise ValueError(f"invalid port {port!r}")
        tags, problems = _clean_tags(raw.get("Tags"))
        kept_name = "" if serf_name == name else serf_name
        return cls(name, address, port, status, tags, kept_name), problems


def address_problem(address: IPAddress) -> str | None:
    """Why nobody can reach a member at ``address``, or None.

    >>> [address_problem(ipaddress.ip_address(a)) for a in ("10.0.0.1", "0.0.0.0", "ff02::1")]
    [None, 'unspecified', 'multicast']
    """
    if address.is_unspecified:
        return "unspecified"
    if address.is_multicast:
        return "multicast"
    if address == BROADCAST:
        return "broadcast"
    return None


def parse_address(raw: object) -> IPAddress:
    """Serf sends ``Addr`` as the raw bytes of a Go ``net.IP`` (4 or 16 bytes).

    >>> parse_address(b"\\x7f\\x00\\x00\\x01")
    IPv4Address('127.0.0.1')
    >>> parse_address(bytes(10) + b"\\xff\\xff\\n\\x00\\x00\\x01")  # v4-mapped
    IPv4Address('10.0.0.1')
    """
    if isinstance(raw, bytes | bytearray) and len(raw) in (4, 16):
        if len(raw) == 4:
            return ipaddress.IPv4Address(bytes(raw))
        v6 = ipaddress.IPv6Address(bytes(raw))
        # Go stores IPv4 addresses in 16 bytes as v4-mapped; DNS must serve them as A records.
        return v6.ipv4_mapped or v6
    if isinstance(raw, str):
        try:
            parsed = ipaddress.ip_address(raw)
        except ValueError:
            pass
        else:
            if isinstance(parsed, ipaddress.IPv6Address) and parsed.ipv4_mapped:
                return parsed.ipv4_mapped
            return parsed
    raise ValueError(f"invalid address {raw!r}")


def _printable(text: str) -> bool:
    return text.isprintable() and len(text.encode()) <= MAX_TAG


def _clean_tags(raw: object) -> tuple[dict[str, str], list[str]]:
    if raw is None:
        return {}, []
    if not isinstance(raw, Mapping):
        return {}, [f"tags are not a map ({type(raw).__name__}); ignored"]
    tags: dict[str, str] = {}
    problems: list[str] = []
    for key, value in raw.items():
        if not (
            isinstance(key, str)
            and isinstance(value, str)
            and _printable(key)
            and _printable(value)
        ):
            problems.append(f"tag {key!r}={value!r} ignored (control characters or too long)")
        elif key == "role" and value not in ROLES:
            problems.append(f"tag {key!r}={value!r} ignored (not a role: {', '.join(ROLES)})")
        else:
            tags[key] = value
    return tags, problems


@dataclass(frozen=True)
class Membership:
    """An immutable snapshot: the valid members, and one line per thing dropped."""

    members: tuple[Member, ...]
    problems: tuple[str, ...] = ()

    def by_name(self) -> dict[str, Member]:
        """Members keyed by name."""
        return {m.name: m for m in self.members}


_RANK = {Status.ALIVE: 0, Status.LEAVING: 1, Status.FAILED: 2, Status.LEFT: 3, Status.NONE: 4}
GONE = frozenset({Status.LEFT, Status.NONE})
Seniority = Callable[[Member], Any]


def default_seniority(member: Member) -> tuple[Any, ...]:
    """Seniority without history: a name Serf already spells as we serve it beats a name we
    had to fold, then the better state, then Serf's name. Lower sorts first."""
    return (not member.canonical, _RANK[member.status], member.key)


def parse_one(raw: Mapping[str, object]) -> tuple[Member, list[str]] | str:
    """One member and its tag problems, or the reason it is dropped."""
    try:
        return Member.from_rpc(raw)
    except ValueError as exc:
        return str(exc)


def parse_entries(
    raw_members: Iterable[Mapping[str, object]],
    parse: Callable[[Mapping[str, object]], tuple[Member, list[str]] | str] = parse_one,
) -> tuple[list[Member], list[str]]:
    """Each member judged on its own: the valid ones, and one line per thing dropped."""
    members: list[Member] = []
    problems: list[str] = []
    for raw in raw_members:
        parsed = parse(raw)
        if isinstance(parsed, str):
            problems.append(f"member {raw.get('Name')!r} dropped: {parsed}")
            continue
        member, tag_problems = parsed
        problems.extend(f"member {member.key!r}: {p}" for p in tag_problems)
        members.append(member)
    return members, problems


def fingerprint(raw: Mapping[str, object]) -> int:
    """A hash of what the view reads from a Serf entry: equal entries hash equal.

    Serf encodes the Tags map in Go's map iteration order, which is random, so tags are
    sorted first. Two different entries collide with odds of 2**-64 (str and bytes hashes are
    keyed per process); the periodic full check would repair even that.
    """
    name, addr, port = raw.get("Name"), raw.get("Addr"), raw.get("Port")
    status, tags = raw.get("Status"), raw.get("Tags")
    if (
        type(name) is str
        and type(status) is str
        and type(addr) in (bytes, str)
        and type(port) is int  # not bool, nor a float that hashes like it
        and 0 <= port < 65536  # hash(-1) == hash(-2)
        and type(tags) is dict
        and all(type(k) is str and type(v) is str for k, v in tags.items())
    ):
        # The usual entry: a tuple hash reuses the hashes its strings carry already. An ASCII
        # str hashes like the same bytes, so the Addr's type counts.
        return hash((name, type(addr) is bytes, addr, port, status, *sorted(tags.items())))
    # Anything else: exact through repr, which tells 1 from 1.0 and True, and [] from {}.
    shown = tags
    if isinstance(tags, Mapping):
        items = list(tags.items())
        with contextlib.suppress(TypeError):  # keys of mixed types: order costs a re-apply
            items.sort()
        shown = ("map", items)
    return hash(repr((name, addr, port, status, shown)))


def _in_domain(fqdn: str, domain: str) -> bool:
    return fqdn.endswith("." + domain)


def screen(member: Member, domain: str | None, loopback: bool | None) -> str | None:
    """Why ``member`` cannot be served in this cluster at all (domain, loopback), or None."""
    if domain and not _in_domain(member.fqdn(domain), domain):
        return (
            f"member {member.key!r} dropped: {member.name} is outside the cluster domain {domain}"
        )
    if loopback is not None and member.address.is_loopback != loopback:
        where = "a loopback" if loopback else "a non-loopback"
        return (
            f"member {member.key!r} dropped: address {member.address} does not belong in "
            f"{where} cluster"
        )
    return None


def settle_name(
    fqdn: str, claimants: Iterable[Member], seniority: Seniority = default_seniority
) -> tuple[Member, list[str]]:
    """Who of the members claiming ``fqdn`` holds it, and one problem per member turned away.

    A member that has left never holds a name while another claims it.
    """
    ranked = sorted(claimants, key=lambda m: (m.status in GONE, seniority(m)))
    holder = ranked[0]
    return holder, [
        f"member {m.key!r} dropped: {fqdn} is already held by member {holder.key!r}"
        for m in ranked[1:]
    ]


def admit(
    members: Iterable[Member],
    *,
    domain: str | None = None,
    loopback: bool | None = None,
    seniority: Seniority = default_seniority,
) -> Membership:
    """Members judged against each other and the cluster.

    ``domain``: a dotted name outside it is dropped (bare names are served under it).
    ``loopback``: True when this node's own serf runs on loopback; members on the other kind
    of address are dropped, so a loopback cluster and a real one never mix. ``seniority``:
    on a name conflict (after case folding, or ``a`` against ``a.<domain>``) the member
    with the lowest value keeps the name (:func:`settle_name`).
    """
    problems: list[str] = []
    claims: dict[str, list[Member]] = {}
    for m in members:
        if problem := screen(m, domain, loopback):
            problems.append(problem)
            continue
        claims.setdefault(m.fqdn(domain) if domain else m.name, []).append(m)
    chosen: list[Member] = []
    for fqdn, claimants in claims.items():
        holder, turned_away = settle_name(fqdn, claimants, seniority)
        chosen.append(holder)
        problems.extend(turned_away)
    return Membership(tuple(sorted(chosen, key=lambda m: m.name)), tuple(problems))


def parse_members(
    raw_members: Iterable[Mapping[str, object]],
    parse: Callable[[Mapping[str, object]], tuple[Member, list[str]] | str] = parse_one,
    *,
    domain: str | None = None,
    loopback: bool | None = None,
    seniority: Seniority = default_seniority,
) -> Membership:
    """Turn Serf's ``members`` reply into a Membership; never raises for bad entries."""
    members, problems = parse_entries(raw_members, parse)
    admitted = admit(members, domain=domain, loopback=loopback, seniority=seniority)
    return Membership(admitted.members, tuple(problems) + admitted.problems)


def members_document(membership: Membership, domain: str) -> dict[str, Any]:
    """The JSON of ``cloudagent members --json`` and of the agent's ``/members``."""
    rows = [
        {
            "name": m.name,
            "fqdn": m.fqdn(domain),
            "address": str(m.address),
            "port": m.port,
            "role": m.role or "",
            "status": m.status.value,
            "tags": dict(m.tags),
        }
        for m in membership.members
    ]
    return {"members": rows, "dropped": list(membership.problems)}
