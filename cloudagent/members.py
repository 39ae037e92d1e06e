"""Serf members parsed at the boundary into frozen, validated values.

Names, addresses and tags come from the network: Serf accepts any of them. A member whose
name or address is invalid is dropped with a reason; an invalid tag is dropped on its own.
"""

from __future__ import annotations

import enum
import ipaddress
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Final

from cloudagent import hostnames

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
MAX_TAG: Final = 512


class Status(enum.Enum):
    """Serf's member status."""

    ALIVE = "alive"
    LEAVING = "leaving"
    LEFT = "left"
    FAILED = "failed"
    NONE = "none"


@dataclass(frozen=True)
class Member:
    """One valid Serf member. ``name`` is lower-cased and a valid host name."""

    name: str
    address: IPAddress
    port: int
    status: Status
    tags: Mapping[str, str] = field(default_factory=dict, hash=False, compare=True)

    @property
    def role(self) -> str | None:
        """The ``role`` tag (``server`` / ``agent``), if any."""
        return self.tags.get("role")

    def fqdn(self, domain: str) -> str:
        """The name DNS serves for this member."""
        return hostnames.fqdn(self.name, domain)

    @classmethod
    def from_rpc(cls, raw: Mapping[str, object]) -> tuple[Member, list[str]]:
        """Parse one entry of Serf's ``members`` reply; returns the member and tag problems.

        Raises ValueError with the reason when the member must be dropped.
        """
        name = raw.get("Name")
        if not isinstance(name, str):
            raise ValueError("name is not a string")
        name = hostnames.normalise(name)
        if problem := hostnames.hostname_problem(name):
            raise ValueError(f"invalid host name ({problem})")
        address = parse_address(raw.get("Addr"))
        status_text = raw.get("Status")
        try:
            status = Status(status_text)
        except ValueError:
            raise ValueError(f"unknown status {status_text!r}") from None
        port = raw.get("Port")
        if not isinstance(port, int) or not 0 <= port < 65536:
            raise ValueError(f"invalid port {port!r}")
        tags, problems = _clean_tags(raw.get("Tags"))
        return cls(name, address, port, status, tags), problems


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
        if (
            isinstance(key, str)
            and isinstance(value, str)
            and _printable(key)
            and _printable(value)
        ):
            tags[key] = value
        else:
            problems.append(f"tag {key!r}={value!r} ignored (control characters or too long)")
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


def parse_one(raw: Mapping[str, object]) -> tuple[Member, list[str]] | str:
    """One member and its tag problems, or the reason it is dropped."""
    try:
        return Member.from_rpc(raw)
    except ValueError as exc:
        return str(exc)


def parse_members(
    raw_members: Iterable[Mapping[str, object]],
    parse: Callable[[Mapping[str, object]], tuple[Member, list[str]] | str] = parse_one,
) -> Membership:
    """Turn Serf's ``members`` reply into a Membership; never raises for bad entries.

    Two members whose names differ only in case fold to one name: the one in the better state
    (alive first) is kept and the other reported.
    """
    chosen: dict[str, Member] = {}
    problems: list[str] = []
    for raw in raw_members:
        parsed = parse(raw)
        if isinstance(parsed, str):
            problems.append(f"member {raw.get('Name')!r} dropped: {parsed}")
            continue
        member, tag_problems = parsed
        label = repr(raw.get("Name"))
        problems.extend(f"member {label}: {p}" for p in tag_problems)
        previous = chosen.get(member.name)
        if previous is not None:
            keep, drop = sorted((previous, member), key=lambda m: (_RANK[m.status], str(m.address)))
            chosen[member.name] = keep
            problems.append(
                f"member {label} dropped: same name as another member after folding to lower case"
                f" ({drop.status.value} {drop.address} lost to {keep.status.value} {keep.address})"
            )
            continue
        chosen[member.name] = member
    members = tuple(sorted(chosen.values(), key=lambda m: m.name))
    return Membership(members, tuple(problems))
