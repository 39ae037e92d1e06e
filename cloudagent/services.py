"""Services a node offers: the ``CLOUDAGENT_SERVICES`` format and the ``services`` Serf tag.

Format (the variable and the tag alike): comma-separated ``name:port[/tcp|/udp]``, protocol tcp
by default, e.g. ``namenode:8020,webhdfs:50070,zookeeper:2181``. A name is one DNS label
(RFC 1123: ``a-z``, ``0-9`` and ``-``, not at either end, at most 63 characters).

The tag comes from other members, so it is untrusted: a bad entry is dropped with a reason,
the good entries of the same tag are kept. The Ambari server role implies ``ambari:8080``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Final

TAG: Final = "services"
PROTOCOLS: Final = ("tcp", "udp")
# Serf gossips all tags of a member in at most 512 bytes of metadata (memberlist's MetaMaxSize);
# keep room for the role and the ambari-* tags.
MAX_TEXT: Final = 300
AMBARI: Final = "ambari"
AMBARI_PORT: Final = 8080
_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")


@dataclass(frozen=True, order=True)
class Service:
    """One offered service: a DNS label, a port and a transport protocol."""

    name: str
    port: int
    protocol: str = "tcp"

    def __str__(self) -> str:
        suffix = "" if self.protocol == "tcp" else f"/{self.protocol}"
        return f"{self.name}:{self.port}{suffix}"


def parse_item(text: str) -> Service:
    """One ``name:port[/proto]`` item; ValueError says what is wrong.

    >>> parse_item("zookeeper:2181"), str(parse_item("DNS:53/udp"))
    (Service(name='zookeeper', port=2181, protocol='tcp'), 'dns:53/udp')
    >>> parse_item("web hdfs:50070")
    Traceback (most recent call last):
    ValueError: 'web hdfs:50070': name must be a DNS label (a-z, 0-9, '-', at most 63)
    """
    name, sep, rest = text.strip().partition(":")
    port_text, slash, protocol = rest.partition("/")
    name, protocol = name.lower(), (protocol.lower() if slash else "tcp")
    if not sep:
        raise ValueError(f"{text!r}: expected name:port[/tcp|/udp]")
    if not _LABEL.fullmatch(name):
        raise ValueError(f"{text!r}: name must be a DNS label (a-z, 0-9, '-', at most 63)")
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise ValueError(f"{text!r}: port must be a number from 1 to 65535")
    if protocol not in PROTOCOLS:
        raise ValueError(f"{text!r}: protocol must be tcp or udp")
    return Service(name, int(port_text), protocol)


def parse_services(text: str) -> tuple[tuple[Service, ...], list[str]]:
    """Every valid item of a services text, sorted, and one reason per item dropped.

    >>> parse_services("namenode:8020, webhdfs:50070,bad")
    ((Service(name='namenode', port=8020, protocol='tcp'), \
Service(name='webhdfs', port=50070, protocol='tcp')), ["'bad': expected name:port[/tcp|/udp]"])
    """
    if len(text) > MAX_TEXT:
        return (), [f"longer than {MAX_TEXT} characters"]
    found: dict[tuple[str, str], Service] = {}
    problems: list[str] = []
    for item in text.split(","):
        if not item.strip():
            continue
        try:
            service = parse_item(item)
        except ValueError as exc:
            problems.append(str(exc))
            continue
        key = (service.name, service.protocol)
        if key in found and found[key] != service:
            problems.append(f"{item.strip()!r}: {found[key]} is already declared")
            continue
        found[key] = service
    return tuple(sorted(found.values())), problems


def load_services(text: str) -> tuple[Service, ...]:
    """``CLOUDAGENT_SERVICES`` for this node: strict, every problem in one ValueError."""
    services, problems = parse_services(text)
    if problems:
        raise ValueError("; ".join(problems) + " (format: name:port[/tcp|/udp],...)")
    return services


def format_services(services: Iterable[Service]) -> str:
    """The tag value for these services.

    >>> format_services([Service("dns", 53, "udp"), Service("namenode", 8020)])
    'dns:53/udp,namenode:8020'
    """
    return ",".join(str(s) for s in sorted(services))


def offered(tags: Mapping[str, str]) -> tuple[tuple[Service, ...], list[str]]:
    """What a member offers, from its tags: the ``services`` tag, plus ``ambari`` for the
    server role (8080 unless the tag names another port). Returns the reasons items were
    dropped; ``ambari`` declared by a member that is not a server is one of them.

    >>> offered({"role": "server"})
    ((Service(name='ambari', port=8080, protocol='tcp'),), [])
    >>> offered({"role": "agent", "services": "ambari:80,zk:2181"})
    ((Service(name='zk', port=2181, protocol='tcp'),), ["'ambari:80': only the server role \
offers ambari"])
    """
    services, problems = parse_services(tags.get(TAG, ""))
    server = tags.get("role") == "server"
    kept = []
    for service in services:
        if service.name == AMBARI and not server:
            problems.append(f"{str(service)!r}: only the server role offers {AMBARI}")
            continue
        kept.append(service)
    if server and not any(s.name == AMBARI and s.protocol == "tcp" for s in kept):
        kept.append(Service(AMBARI, AMBARI_PORT))
    return tuple(sorted(kept)), problems
