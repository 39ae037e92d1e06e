"""Reverse zones from this node's networks."""

from __future__ import annotations

import ipaddress
import struct
from pathlib import Path

from cloudagent.dns.render import render_dnsmasq_conf
from cloudagent.dns.reverse import connected_networks, own_networks, reverse_zones
from cloudagent.endpoint import Endpoint


def _hex(address: str) -> str:
    return f"{struct.unpack('=I', ipaddress.IPv4Address(address).packed)[0]:08X}"


def route_table(*rows: tuple[str, str, str, int]) -> str:
    head = "Iface\tDestination\tGateway\tFlags\tRefCnt\tUse\tMetric\tMask\tMTU\tWindow\tIRTT\n"
    return head + "".join(
        f"eth0\t{_hex(dest)}\t{_hex(gw)}\t{flags:04X}\t0\t0\t0\t{_hex(mask)}\t0\t0\t0\n"
        for dest, gw, mask, flags in rows
    )


def test_connected_networks_skip_default_and_gateway_routes() -> None:
    text = route_table(
        ("0.0.0.0", "172.18.0.1", "0.0.0.0", 3),
        ("172.18.0.0", "0.0.0.0", "255.255.0.0", 1),
        ("10.9.0.0", "172.18.0.1", "255.255.0.0", 3),
        ("192.168.7.0", "0.0.0.0", "255.255.255.0", 0),  # down
    )
    assert connected_networks(text + "garbage line\n") == [ipaddress.IPv4Network("172.18.0.0/16")]


def test_zones_cover_exactly_the_network() -> None:
    nets = [ipaddress.IPv4Network("10.1.16.0/20"), ipaddress.IPv4Network("192.0.2.8/30")]
    zones = reverse_zones(nets)
    assert len(zones) == 16 + 4
    assert "16.1.10.in-addr.arpa" in zones and "31.1.10.in-addr.arpa" in zones
    assert "11.2.0.192.in-addr.arpa" in zones and "8.2.0.192.in-addr.arpa" in zones


def test_loopback_nodes_serve_their_slash_24() -> None:
    assert own_networks("", "127.169.4.2") == [ipaddress.IPv4Network("127.169.4.0/24")]
    assert reverse_zones(own_networks("", "127.169.4.2")) == ("4.169.127.in-addr.arpa",)


def test_zones_are_local_in_dnsmasq_conf() -> None:
    text = render_dnsmasq_conf(
        listen=Endpoint("127.0.0.1", 53),
        hosts_file=Path("/h"),
        domain="c.internal",
        upstreams=[Endpoint("10.0.0.2", 53)],
        user=None,
        reverse_zones=("18.172.in-addr.arpa",),
    )
    assert "local=/18.172.in-addr.arpa/\n" in text
    assert "local=/c.internal/\n" in text
