"""Parsers of single setting values: durations, TTLs, networks, endpoints, gossip keys and
resolv.conf nameservers. Pure: text in, a value or a ValueError with the reason out."""

from __future__ import annotations

import base64
import binascii
import ipaddress
import re
import secrets
from typing import Final

from cloudagent import hostnames
from cloudagent.endpoint import Endpoint
from cloudagent.secret import Secret

SERF_PORT: Final = 7946


def parse_duration(text: str) -> float:
    """Seconds from ``300``, ``300s``, ``250ms``, ``5m`` or ``1h``.

    >>> [parse_duration(t) for t in ("300", "2.5s", "250ms", "5m", "1h")]
    [300.0, 2.5, 0.25, 300.0, 3600.0]
    """
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*", text)
    if not match:
        raise ValueError(f"{text!r} is not a duration (examples: 300, 30s, 5m, 250ms)")
    value, unit = float(match.group(1)), match.group(2) or "s"
    return value * {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}[unit]


def parse_ttl(text: str) -> int:
    """A DNS TTL in whole seconds (0 to one day).

    >>> parse_ttl("30"), parse_ttl("0")
    (30, 0)
    """
    if not text.strip().isdigit() or int(text) > 86400:
        raise ValueError(f"{text!r} is not a TTL; use whole seconds from 0 to 86400")
    return int(text)


def parse_networks(text: str) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    nets = tuple(
        ipaddress.ip_network(p.strip(), strict=False) for p in text.split(",") if p.strip()
    )
    if any(n.prefixlen == 0 for n in nets):
        raise ValueError("a /0 network breaks dnsmasq's zone; name the cluster's networks")
    return nets


def parse_endpoint(text: str, default_port: int | None = None) -> Endpoint:
    """``host``, ``host:port``, ``[v6]:port`` or a bare IPv6 address.

    >>> parse_endpoint("10.0.0.1", 7946), parse_endpoint("[::1]:53")
    (Endpoint(host='10.0.0.1', port=7946), Endpoint(host='::1', port=53))
    """
    text = text.strip()
    host, port_text = text, None
    if text.startswith("["):
        host, sep, rest = text[1:].partition("]")
        if not sep or (rest and not rest.startswith(":")):
            raise ValueError(f"{text!r}: expected [address]:port")
        port_text = rest[1:] or None
    elif text.count(":") == 1:
        host, port_text = text.split(":")
    if not host:
        raise ValueError(f"{text!r}: no host")
    if port_text is None:
        if default_port is None:
            raise ValueError(f"{text!r}: a port is required (host:port)")
        return Endpoint(host, default_port)
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise ValueError(f"{text!r}: port must be a number from 1 to 65535")
    return Endpoint(host, int(port_text))


def ip_endpoint(text: str, default_port: int | None) -> Endpoint:
    endpoint = parse_endpoint(text, default_port)
    try:
        ipaddress.ip_address(endpoint.host)
    except ValueError:
        raise ValueError(f"{text!r}: {endpoint.host!r} is not an IP address") from None
    return endpoint


def placeholder_domain(domain: str) -> str | None:
    """Why ``domain`` cannot be a cluster's DNS domain although it is a valid name.

    >>> placeholder_domain("localdomain"), placeholder_domain("cluster.internal")
    ('is the placeholder of an unconfigured host', None)
    """
    last = domain.rpartition(".")[2]
    if last == "local":
        return "is reserved for multicast DNS (RFC 6762): resolvers send it elsewhere"
    if last == "localhost":
        return "is reserved for the loopback host (RFC 6761)"
    if domain == "localdomain":
        return "is the placeholder of an unconfigured host"
    return None


def join_endpoint(text: str) -> Endpoint:
    """A SERF_JOIN_IP entry: an IP address or a host name, with an optional port."""
    endpoint = parse_endpoint(text, SERF_PORT)
    host = endpoint.host
    try:
        ipaddress.ip_address(host)
    except ValueError:
        problem = hostnames.hostname_problem(hostnames.normalise(host))
    else:
        problem = None
    if problem:
        raise ValueError(f"{text.strip()!r} is neither an IP address nor a host name ({problem})")
    return endpoint


def advertise_address(text: str) -> str:
    """An address peers can reach this node at; serf refuses the others at start."""
    address = ipaddress.ip_address(text)
    if (
        address.is_unspecified
        or address.is_multicast
        or (address.version == 6 and address.is_loopback)
        or address == ipaddress.IPv4Address("255.255.255.255")
    ):
        raise ValueError(f"{text!r} cannot be advertised to peers; give this node's own address")
    return str(address)


def encrypt_key(text: str) -> Secret:
    """A validated Serf gossip key (base64 of 16, 24 or 32 bytes)."""
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("is not valid base64 (generate one with: serf keygen)") from None
    if len(raw) not in (16, 24, 32):
        raise ValueError(f"decodes to {len(raw)} bytes; it must be 16, 24 or 32 (serf keygen)")
    return Secret(text)


def new_gossip_key() -> Secret:
    """A fresh gossip key: 32 random bytes in base64, as ``serf keygen`` makes them."""
    return Secret(base64.b64encode(secrets.token_bytes(32)).decode())


def resolv_conf_upstreams(text: str, exclude: Endpoint) -> tuple[Endpoint, ...]:
    """Nameservers from resolv.conf text, without our own listen address (which would loop)
    and without loopback resolvers: in a container those are us, or Docker's embedded DNS,
    which forwards to the ``--dns`` server, us again.

    >>> text = "nameserver 10.0.0.2\\nnameserver 127.0.0.11\\nnameserver 127.0.0.1\\n"
    >>> resolv_conf_upstreams(text, Endpoint("127.0.0.1", 53))
    (Endpoint(host='10.0.0.2', port=53),)
    """
    found = []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0] == "nameserver":
            try:
                address = str(ipaddress.ip_address(parts[1].split("%")[0]))
            except ValueError:
                continue
            endpoint = Endpoint(address, 53)
            if endpoint != exclude and not endpoint.is_loopback:
                found.append(endpoint)
    return tuple(found)
