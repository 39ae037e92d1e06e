"""A ZooKeeper ensemble from Serf membership, without I/O: members in, ``zoo.cfg`` text out.

Every ZooKeeper node runs the agent with ``CLOUDAGENT_ZK_ID=N`` and gossips the tag ``zk=N``.
The ensemble is the set of ``server.N=<fqdn>:2888:3888`` lines those tags give; peers are named
by FQDN only, so a peer that comes back with a new address is found again through DNS.

ZooKeeper reads its server list once, at start (3.8 can change it at run time with the
``reconfig`` command, but only with ``reconfigEnabled=true`` and an authenticated super user,
and a joining server must still start with a list that names the running ensemble). So the
list here is static and the service is restarted when it changes, with two rules against
restart storms:

* the service starts only when the expected number of ids (``CLOUDAGENT_ZK_ENSEMBLE``) is known,
  so an ensemble that forms one member at a time restarts nobody;
* an id stays in the list when its member leaves or fails: a stopped peer is a missing vote,
  not a smaller ensemble, and taking it out would restart every server twice for one restart
  of one peer. Only a new id, or an id that moves to another name, changes the list.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final, Literal

from cloudagent import hostnames
from cloudagent.members import Membership, Status

TAG: Final = "zk"
MAX_ID: Final = 255  # the ids a tag may carry: myid is a byte in many tools' eyes; keep it small
PEER_PORT: Final = 2888
ELECTION_PORT: Final = 3888
CLIENT_PORT: Final = 2181
# Four-letter words are off by default since 3.5.3 except srvr; these are the read-only ones
# operators and health checks use (ZooKeeper admin guide, "4lw.commands.whitelist").
FOUR_LETTER_WORDS: Final = "srvr,stat,ruok,mntr,conf,isro"
_SERVER_LINE = re.compile(r"^server\.(\d+)=([^:\s]+):\d+:\d+")

Action = Literal["wait", "start", "restart", "keep"]


def parse_id(text: str) -> int:
    """A ZooKeeper server id from a tag or variable: a whole number from 1 to 255.

    >>> parse_id("3"), parse_id(" 12 ")
    (3, 12)
    >>> parse_id("0")
    Traceback (most recent call last):
    ...
    ValueError: '0' is not a ZooKeeper id (a whole number from 1 to 255)
    """
    stripped = text.strip()
    if not (stripped.isascii() and stripped.isdigit()) or not 1 <= int(stripped) <= MAX_ID:
        raise ValueError(f"{text!r} is not a ZooKeeper id (a whole number from 1 to {MAX_ID})")
    return int(stripped)


def render_zoo_cfg(servers: Mapping[int, str], data_dir: Path) -> str:
    """``zoo.cfg`` for this ensemble (ids sorted; every value validated before it gets here).

    >>> print(render_zoo_cfg({2: "zk2.x", 1: "zk1.x"}, Path("/d")), end="")  # doctest: +ELLIPSIS
    # Written by cloudagent ...
    ...
    dataDir=/d
    ...
    server.1=zk1.x:2888:3888
    server.2=zk2.x:2888:3888
    """
    lines = [
        "# Written by cloudagent from the Serf members tagged zk=N; edits are overwritten.",
        "tickTime=2000",
        "initLimit=10",
        "syncLimit=5",
        f"dataDir={data_dir}",
        f"clientPort={CLIENT_PORT}",
        f"4lw.commands.whitelist={FOUR_LETTER_WORDS}",
        # Bind the quorum and election ports on every interface: the address our own name has
        # at start may not be the one peers reach after a restart with a new address.
        "quorumListenOnAllIPs=true",
        # The AdminServer's Jetty would take port 8080, which the Ambari server uses.
        "admin.enableServer=false",
        *(
            f"server.{sid}={fqdn}:{PEER_PORT}:{ELECTION_PORT}"
            for sid, fqdn in sorted(servers.items())
        ),
    ]
    return "\n".join(lines) + "\n"


def servers_in(cfg_text: str | None) -> dict[int, str]:
    """The ``server.N`` lines of a zoo.cfg we wrote before (the list survives restarts).

    >>> servers_in("tickTime=2000\\nserver.1=a.x:2888:3888\\nserver.300=b.x:2888:3888\\n")
    {1: 'a.x'}
    """
    found: dict[int, str] = {}
    for line in (cfg_text or "").splitlines():
        match = _SERVER_LINE.match(line.strip())
        if not match:
            continue
        name = hostnames.normalise(match.group(2))
        sid = int(match.group(1))
        if 1 <= sid <= MAX_ID and hostnames.hostname_problem(name) is None:
            found[sid] = name
    return found


@dataclass(frozen=True)
class ZkStep:
    """What one membership snapshot means for the ZooKeeper service."""

    servers: Mapping[int, str]
    cfg_text: str
    action: Action
    new_problems: tuple[str, ...] = field(default=())

    def summary(self) -> str:
        """The step's sentence for the log."""
        ids = ", ".join(f"{sid}={name}" for sid, name in sorted(self.servers.items()))
        what = {
            "wait": "waiting for the ensemble",
            "start": "starting ZooKeeper",
            "restart": "server list changed; restarting ZooKeeper",
            "keep": "ensemble unchanged",
        }[self.action]
        return f"zookeeper: {what} ({len(self.servers)} servers: {ids})"


class Ensemble:
    """Turns successive memberships into the server list and when to (re)start ZooKeeper."""

    def __init__(
        self,
        my_id: int,
        my_fqdn: str,
        domain: str,
        data_dir: Path,
        *,
        expected: int | None = None,
        known: Mapping[int, str] | None = None,
    ) -> None:
        self.my_id = my_id
        self.my_fqdn = my_fqdn
        self.domain = domain
        self.data_dir = data_dir
        self.expected = expected or 1
        self.servers: dict[int, str] = {**(known or {}), my_id: my_fqdn}
        self.running: dict[int, str] | None = None  # the list the running service started with
        self._reported: frozenset[str] = frozenset()

    def step(self, membership: Membership) -> ZkStep:
        """The server list for this snapshot, and what to do with the service."""
        claims, problems = _claims(membership, self.domain)
        alive = {m.fqdn(self.domain) for m in membership.members if m.status is Status.ALIVE}
        servers = dict(self.servers)
        for sid, names in sorted(claims.items()):
            holder = servers.get(sid)
            if sid == self.my_id:
                others = sorted(n for n in names if n != self.my_fqdn)
                problems += [
                    f"member {n!r} claims zk={sid}, this node's id; ignored" for n in others
                ]
                continue
            if holder in names:
                chosen = holder
            elif holder is not None and holder in alive:
                chosen = holder  # first come keeps: an alive holder is never displaced
            else:
                chosen = min(names)  # a new id, or a departed holder's id taken over
            servers[sid] = chosen
            problems += [
                f"member {n!r} claims zk={sid}, held by {chosen}; ignored"
                for n in sorted(names)
                if n != chosen
            ]
        self.servers = servers
        fresh = frozenset(problems)
        new_problems = tuple(sorted(fresh - self._reported))
        self._reported = fresh
        action: Action
        if self.running is None:
            action = "start" if len(servers) >= self.expected else "wait"
        else:
            action = "keep" if servers == self.running else "restart"
        if action in ("start", "restart"):
            self.running = dict(servers)
        return ZkStep(servers, render_zoo_cfg(servers, self.data_dir), action, new_problems)


def _claims(membership: Membership, domain: str) -> tuple[dict[int, set[str]], list[str]]:
    """Which alive members claim which id; a bad tag is a problem, never an exception."""
    claims: dict[int, set[str]] = {}
    problems: list[str] = []
    for member in membership.members:
        raw = member.tags.get(TAG)
        if raw is None or member.status is not Status.ALIVE:
            continue
        try:
            sid = parse_id(raw)
        except ValueError as exc:
            problems.append(f"member {member.name!r}: tag zk ignored: {exc}")
            continue
        fqdn = member.fqdn(domain)
        if not fqdn.endswith(f".{domain}"):  # peers must be names our DNS serves
            problems.append(f"member {member.name!r}: tag zk ignored: {fqdn} is outside {domain}")
            continue
        claims.setdefault(sid, set()).add(fqdn)
    return claims, problems


def myid_text(my_id: int) -> str:
    """The ``myid`` file ZooKeeper reads from its data directory.

    >>> myid_text(3)
    '3\\n'
    """
    return f"{my_id}\n"


def ids(servers: Iterable[int]) -> str:
    """Ids for a log line.

    >>> ids([3, 1])
    '1, 3'
    """
    return ", ".join(str(s) for s in sorted(servers))
