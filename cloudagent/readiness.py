"""What ``cloudagent wait`` waits for, as a pure decision: an observation in, the gaps out."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from cloudagent.members import Member, Status


@dataclass(frozen=True)
class Want:
    """The readiness a caller asks for (``--members``, ``--role``, ``--service``)."""

    members: int = 1
    roles: tuple[str, ...] = ()
    services: tuple[str, ...] = ()


@dataclass(frozen=True)
class Observation:
    """One look at this node: serf's members and what its own dnsmasq answers.

    ``served`` holds the alive members whose FQDN the local dnsmasq resolves to their address;
    ``services`` says, per service name, whether ``<service>.<domain>`` has an A record.
    """

    fqdn: str
    me: Member | None
    forward: Sequence[str] | None  # A records of our FQDN at our dnsmasq
    reverse: Sequence[str] | None  # PTR names of our address at our dnsmasq
    served: tuple[Member, ...] = ()
    services: Mapping[str, bool] = field(default_factory=dict)


def missing(want: Want, seen: Observation) -> list[str]:
    """What still keeps this node from being ready; empty when ready.

    >>> from ipaddress import ip_address
    >>> me = Member("n1", ip_address("10.0.0.1"), 7946, Status.ALIVE, {"role": "server"})
    >>> seen = Observation("n1.x", me, ["10.0.0.1"], ["n1.x"], (me,), {"namenode": False})
    >>> missing(Want(2, ("server",), ("namenode",)), seen)
    ['1 of 2 members served', 'service namenode (no A record for namenode.<domain>)']
    """
    gaps: list[str] = []
    if seen.me is None or seen.me.status is not Status.ALIVE:
        gaps.append(f"{seen.fqdn} not alive in serf")
    else:
        address = str(seen.me.address)
        if list(seen.forward or []) != [address]:
            gaps.append(f"{seen.fqdn} -> {_show(seen.forward)}, want {address}")
        if list(seen.reverse or []) != [seen.fqdn]:
            gaps.append(f"{address} -> {_show(seen.reverse)}, want {seen.fqdn}")
    if len(seen.served) < want.members:
        gaps.append(f"{len(seen.served)} of {want.members} members served")
    served_roles = {m.role for m in seen.served}
    gaps += [f"role {role} (no served member)" for role in want.roles if role not in served_roles]
    gaps += [
        f"service {name} (no A record for {name}.<domain>)"
        for name in want.services
        if not seen.services.get(name)
    ]
    return gaps


def _show(answer: Sequence[str] | None) -> str:
    return ",".join(answer) if answer else "NXDOMAIN"
