"""Rack awareness for Hadoop, from the membership: rack paths and the topology table.

Every member gossips its rack in the ``rack`` tag (``CLOUDAGENT_RACK``). The agent turns the
membership into a table in the format of Hadoop's ``TableMapping``
(``net.topology.table.file.name``): one ``host rack`` line per line, whitespace between the two
columns, ``#`` starting a comment, and any host not in the table on ``/default-rack``
(``NetworkTopology.DEFAULT_RACK``). ``cloudagent topology`` answers from the same table under
Hadoop's ``ScriptBasedMapping`` contract (``net.topology.script.file.name``).
Sources: Hadoop's RackAwareness.md and the TableMapping, ScriptBasedMapping and NetworkTopology
classes in github.com/apache/hadoop (hadoop-common, org.apache.hadoop.net).

Pure and light: ``cloudagent topology`` imports this module on a NameNode's hot path, so at
run time it imports nothing but ``typing`` and ``collections.abc``.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from cloudagent.dns.view import DnsView
    from cloudagent.members import Member

DEFAULT_RACK: Final = "/default-rack"
RACK_TAG: Final = "rack"
TABLE_NAME: Final = "topology.table"
MAX_RACK: Final = 255
MAX_LABEL: Final = 63
_LABEL_CHARS: Final = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")
TABLE_HEADER: Final = (
    "# Written by cloudagent from the Serf membership. Hadoop TableMapping format\n"
    "# (net.topology.table.file.name): one 'host rack' line per member name and address.\n"
)


def table_path(state_dir: str | os.PathLike[str]) -> str:
    """Where the agent keeps the table: ``<state dir>/topology.table``."""
    return os.path.join(state_dir, TABLE_NAME)


def rack_problem(text: str) -> str | None:
    """Why ``text`` is not a rack path (``/`` then labels joined by ``/``), or None.

    Labels are letters, digits, ``.``, ``_`` and ``-``, so a rack never breaks the table's
    two whitespace-separated columns nor a shell that echoes it.

    >>> rack_problem("/dc1/host-a") is None, rack_problem("dc1"), rack_problem("/a//b")
    (True, 'does not start with /', 'has an empty label')
    """
    if not text.startswith("/"):
        return "does not start with /"
    if len(text) > MAX_RACK:
        return f"is longer than {MAX_RACK} characters"
    for label in text[1:].split("/"):
        if not label:
            return "has an empty label"
        if len(label) > MAX_LABEL:
            return f"has a label longer than {MAX_LABEL} characters"
        if not set(label) <= _LABEL_CHARS:
            return f"label {label!r} has characters other than letters, digits, '.', '_', '-'"
    return None


def parse_rack(text: str) -> str:
    """A valid rack path (surrounding blanks removed); raises ValueError saying why not.

    >>> parse_rack(" /dc1/rack-2 ")
    '/dc1/rack-2'
    """
    rack = text.strip()
    if problem := rack_problem(rack):
        raise ValueError(f"{rack!r} {problem}; use a path such as /dc1/rack1")
    return rack


def rack_from_hostname(name: str) -> str:
    """A one-label rack named after a machine (a Docker engine's host name).

    >>> rack_from_hostname("ip-10-0-0-7.ec2.internal"), rack_from_hostname("my box")
    ('/ip-10-0-0-7.ec2.internal', '/my-box')
    """
    label = "".join(c if c in _LABEL_CHARS else "-" for c in name.strip())[:MAX_LABEL]
    return f"/{label}" if label else DEFAULT_RACK


def member_rack(member: Member) -> tuple[str, str | None]:
    """The member's rack and, when its ``rack`` tag is unusable, why it was ignored."""
    tag = member.tags.get(RACK_TAG)
    if tag is None:
        return DEFAULT_RACK, None
    if problem := rack_problem(tag):
        return DEFAULT_RACK, (
            f"member {member.name!r}: rack tag {tag!r} ignored ({problem}); "
            f"it is served on {DEFAULT_RACK}"
        )
    return tag, None


def table_rows(
    view: DnsView, members: Iterable[Member], domain: str
) -> tuple[list[tuple[str, str]], list[str]]:
    """Rows ``(host, rack)`` for every address and name DNS serves, and the rack problems.

    Each FQDN takes the rack of the member it is served for, and its short alias follows it;
    an address takes the rack of its PTR target (the entry's first name). Order follows the
    hosts file.
    """
    members = tuple(members)
    if not any(RACK_TAG in m.tags for m in members):  # the common case: one rack for all
        plain: list[tuple[str, str]] = []
        for entry in view.entries:
            if entry.names:
                plain.append((entry.address, DEFAULT_RACK))
                plain += [(name, DEFAULT_RACK) for name in entry.names]
        return plain, []
    # Members sorted by name, first one kept: the tie-break build_view uses for one FQDN.
    owners: dict[tuple[str, str], Member] = {}
    for m in sorted(members, key=lambda m: m.name):
        owners.setdefault((str(m.address), m.fqdn(domain)), m)
    racks: dict[str, str] = {}
    problems: list[str] = []
    rows: list[tuple[str, str]] = []
    for entry in view.entries:
        names: list[tuple[str, str]] = []
        rack = DEFAULT_RACK
        for name in entry.names:
            owner = owners.get((entry.address, name))
            if owner is not None:
                if owner.name not in racks:
                    racks[owner.name], problem = member_rack(owner)
                    if problem:
                        problems.append(problem)
                rack = racks[owner.name]
            names.append((name, rack))
        if names:
            rows.append((entry.address, names[0][1]))
            rows += names
    if problem := depth_problem(racks.values()):
        problems.append(problem)
    return rows, problems


def depth_problem(racks: Iterable[str]) -> str | None:
    """Hadoop's NetworkTopology puts every DataNode at one depth and refuses one whose rack has
    another number of labels ("You cannot have a rack and a non-rack node at the same level").

    >>> depth_problem(["/a", "/b"]) is None, depth_problem(["/a", "/dc1/b", "/c"])[:40]
    (True, 'racks of different depths (/a, /dc1/b): ')
    """
    by_depth: dict[int, str] = {}
    for rack in sorted(set(racks)):
        by_depth.setdefault(rack.count("/"), rack)
    if len(by_depth) < 2:
        return None
    examples = ", ".join(by_depth[d] for d in sorted(by_depth))
    return (
        f"racks of different depths ({examples}): Hadoop refuses DataNodes on a rack whose "
        "depth differs from the first one; give every node a rack with as many labels"
    )


def render_table(rows: Iterable[tuple[str, str]]) -> str:
    """The table file's text.

    >>> print(render_table([("10.0.0.1", "/r1"), ("a.x", "/r1")]), end="")
    # Written by cloudagent from the Serf membership. Hadoop TableMapping format
    # (net.topology.table.file.name): one 'host rack' line per member name and address.
    10.0.0.1 /r1
    a.x /r1
    """
    # One join: header + join would copy the whole text once more (5 MB at 50 000 members).
    return "".join([TABLE_HEADER, *(f"{host} {rack}\n" for host, rack in rows)])


def parse_table(text: str) -> dict[str, str]:
    """Host -> rack, read as Hadoop's TableMapping reads its file: lines trimmed, blank and
    ``#`` lines skipped, lines without exactly two whitespace-separated columns ignored.

    >>> parse_table("# c\\n10.0.0.1  /r1\\n\\nbad line here\\na.x\\t/r2\\n")
    {'10.0.0.1': '/r1', 'a.x': '/r2'}
    """
    table: dict[str, str] = {}
    for line in text.splitlines():
        columns = line.split()
        if len(columns) == 2 and not columns[0].startswith("#"):
            table[columns[0]] = columns[1]
    return table


def resolve(table: Mapping[str, str], hosts: Sequence[str]) -> list[str]:
    """One rack per host, in order; unknown hosts are on ``/default-rack``.

    Host names are matched without regard to case or a trailing dot.

    >>> resolve({"a.x": "/r1", "10.0.0.1": "/r1"}, ["A.X.", "10.0.0.1", "nosuch"])
    ['/r1', '/r1', '/default-rack']
    """
    return [
        table.get(host) or table.get(host.rstrip(".").lower()) or DEFAULT_RACK for host in hosts
    ]
