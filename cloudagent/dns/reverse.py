"""The reverse zones this node's dnsmasq answers for itself: those of the networks it is in.

Without them, a PTR query for an address no member holds (a departed member's, say) is passed
upstream, and with no upstream dnsmasq answers REFUSED; resolvers then try the next server or
report an error instead of "no such name". Serving the zones of our own networks locally makes
such a query NXDOMAIN, as it is for a name in the cluster domain.
"""

from __future__ import annotations

import ipaddress
import math
import socket
import struct
from collections.abc import Iterable
from pathlib import Path
from typing import Final

from cloudagent.files import read_text

ROUTES: Final = Path("/proc/net/route")
_RTF_UP: Final = 0x1
_RTF_GATEWAY: Final = 0x2


def _address(hex_text: str) -> ipaddress.IPv4Address:
    # /proc/net/route prints the address as a number in host byte order.
    return ipaddress.IPv4Address(socket.inet_ntoa(struct.pack("=I", int(hex_text, 16))))


def connected_networks(route_text: str) -> list[ipaddress.IPv4Network]:
    """The directly connected IPv4 networks in /proc/net/route (no default, no gateway routes).

    >>> routes = (
    ...     "Iface\\tDestination\\tGateway\\tFlags\\tRefCnt\\tUse\\tMetric\\tMask\\n"
    ...     "eth0\\t00000000\\t010011AC\\t0003\\t0\\t0\\t0\\t00000000\\t0\\t0\\t0\\n"
    ...     "eth0\\t000011AC\\t00000000\\t0001\\t0\\t0\\t0\\t0000FFFF\\t0\\t0\\t0\\n")
    >>> connected_networks(routes) if struct.pack("=I", 1) == b"\\x01\\x00\\x00\\x00" else None
    [IPv4Network('172.17.0.0/16')]
    """
    found: list[ipaddress.IPv4Network] = []
    for line in route_text.splitlines()[1:]:
        fields = line.split()
        if len(fields) < 8:
            continue
        try:
            flags = int(fields[3], 16)
            destination, mask = _address(fields[1]), _address(fields[7])
            network = ipaddress.IPv4Network(f"{destination}/{mask}", strict=False)
        except (ValueError, struct.error):
            continue
        if flags & _RTF_UP and not flags & _RTF_GATEWAY and network.prefixlen > 0:
            found.append(network)
    return found


def reverse_zones(networks: Iterable[ipaddress.IPv4Network]) -> tuple[str, ...]:
    """The in-addr.arpa zones that cover exactly these networks (a prefix that is not a
    multiple of 8 becomes the zones of its parts, so no address outside is claimed).

    >>> reverse_zones([ipaddress.IPv4Network("172.18.0.0/16")])
    ('18.172.in-addr.arpa',)
    >>> reverse_zones([ipaddress.IPv4Network("10.0.4.0/23"), ipaddress.IPv4Network("10.0.4.0/24")])
    ('4.0.10.in-addr.arpa', '5.0.10.in-addr.arpa')
    """
    zones: set[str] = set()
    for network in networks:
        octets = math.ceil(network.prefixlen / 8)
        for part in network.subnets(new_prefix=octets * 8):
            labels = str(part.network_address).split(".")[:octets]
            zones.add(".".join(reversed(labels)) + ".in-addr.arpa")
    return tuple(sorted(zones, key=lambda z: tuple(reversed(z.split(".")))))


def own_networks(route_text: str, gossip_host: str) -> list[ipaddress.IPv4Network]:
    """This node's networks: the connected ones, and for a node bound to one loopback address
    (the demo and the tests) the /24 around it, since loopback is not in the route table.

    >>> own_networks("", "127.9.3.1"), own_networks("", "0.0.0.0")
    ([IPv4Network('127.9.3.0/24')], [])
    """
    networks = connected_networks(route_text)
    try:
        address = ipaddress.ip_address(gossip_host)
    except ValueError:
        return networks
    if isinstance(address, ipaddress.IPv4Address) and address.is_loopback:
        networks.append(ipaddress.IPv4Network(f"{address}/24", strict=False))
    return networks


def local_reverse_zones(gossip_host: str, routes: Path = ROUTES) -> tuple[str, ...]:
    """The reverse zones to serve locally, read from this machine's route table at start."""
    return reverse_zones(own_networks(read_text(routes) or "", gossip_host))
