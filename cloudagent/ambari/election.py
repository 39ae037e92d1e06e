"""Which server-role member acts as the cluster's Ambari server: a pure rule every node applies
alike to the membership it sees.

The rule (the same on every node, from Serf's member list and tags alone):

1. A *candidate* is a member tagged ``role=server`` that also carries ``ambari-since``: the
   UNIX time at which that node first ran as a server, written once into its state directory
   and kept across restarts. A member without a valid ``ambari-since`` (a bare ``serf agent``
   tagged ``role=server``, an older cloudagent) is never a candidate.
2. Candidates that are alive count; so does a candidate that currently *claims* to act
   (``ambari-acting=yes``) while it is failed but within the failed-member grace period, so a
   short partition or a restart does not move the server.
3. If any counted candidate claims to act, the acting server is the claimant with the smallest
   ``(ambari-since, name)``: a later member never displaces one that already acts, and after a
   partition heals exactly one of the two claimants keeps acting.
4. Otherwise the acting server is the alive candidate with the smallest ``(ambari-since,
   name)``: the longest-serving server, ties broken by name.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from cloudagent.members import Member, Status

SINCE = "ambari-since"
ACTING = "ambari-acting"
MAX_SINCE = 2**40  # far beyond any real epoch second; bounds what the network may send


def parse_since(value: str | None) -> int | None:
    """An ``ambari-since`` tag's value, or None when it is missing or malformed.

    >>> parse_since("1700000000"), parse_since("-1"), parse_since("1e9"), parse_since(None)
    (1700000000, None, None, None)
    """
    if value is None or not value.isascii() or not value.isdigit() or len(value) > 13:
        return None
    since = int(value)
    return since if since < MAX_SINCE else None


@dataclass(frozen=True)
class Election:
    """The outcome for one membership snapshot."""

    acting: Member | None
    candidates: tuple[str, ...]
    ignored: tuple[str, ...]  # role=server members that can never act (no valid ambari-since)

    def acting_name(self) -> str | None:
        """The acting server's member name, if there is one."""
        return self.acting.name if self.acting else None

    def is_acting(self, name: str) -> bool:
        """Whether member ``name`` is the acting server."""
        return self.acting is not None and self.acting.name == name

    def describe(self, me: str, domain: str) -> str:
        """One sentence for the log, from node ``me``'s point of view.

        >>> from cloudagent.members import Status
        >>> import ipaddress
        >>> a = Member("a", ipaddress.ip_address("10.0.0.1"), 7946, Status.ALIVE, {})
        >>> Election(a, ("a", "b"), ()).describe("b", "x")
        'standby: a.x is the acting Ambari server (candidates: a, b)'
        """
        if self.acting is None:
            return "no acting Ambari server: no alive server-role member with ambari-since"
        ignored = f"; ignored (no {SINCE} tag): {', '.join(self.ignored)}" if self.ignored else ""
        who = (
            "this node is" if self.acting.name == me else f"standby: {self.acting.fqdn(domain)} is"
        )
        return f"{who} the acting Ambari server (candidates: {', '.join(self.candidates)}){ignored}"


def elect(
    members: Iterable[Member], failed_since: Mapping[str, float], now: float, grace: float
) -> Election:
    """Apply the rule in the module docstring to one membership snapshot."""
    counted: list[tuple[int, str, bool, Member]] = []
    ignored: list[str] = []
    for member in members:
        if member.role != "server":
            continue
        since = parse_since(member.tags.get(SINCE))
        if since is None:
            ignored.append(member.name)
            continue
        claims = member.tags.get(ACTING) == "yes"
        in_grace = (
            member.status is Status.FAILED
            and now - failed_since.get(member.name, now) < grace
            and claims
        )
        if member.status is Status.ALIVE or in_grace:
            counted.append((since, member.name, claims, member))
    claimants = [c for c in counted if c[2]]
    pool = claimants or [c for c in counted if c[3].status is Status.ALIVE]
    winner = min(pool, key=lambda c: (c[0], c[1]))[3] if pool else None
    return Election(
        acting=winner,
        candidates=tuple(sorted(c[1] for c in counted)),
        ignored=tuple(sorted(ignored)),
    )
