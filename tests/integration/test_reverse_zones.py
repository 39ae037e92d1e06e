"""Reverse zones with the real dnsmasq: a departed member's address is NXDOMAIN, not REFUSED."""

from __future__ import annotations

import ipaddress

import dns.message
import dns.query
import dns.rcode
import dns.reversename

from cloudagent.dev.localcluster import LocalNode, wait_for
from cloudagent.dns.reverse import ROUTES, own_networks
from cloudagent.files import read_text
from tests.integration.conftest import MakeCluster


def ptr_rcode(observer: LocalNode, address: str) -> str:
    query = dns.message.make_query(dns.reversename.from_address(address), "PTR")
    reply = dns.query.udp(query, observer.address, port=observer.dns_port, timeout=2.0)
    return dns.rcode.to_text(reply.rcode())


def test_departed_and_unused_addresses_in_our_network_are_nxdomain(
    make_cluster: MakeCluster,
) -> None:
    cluster = make_cluster(3)
    nodes = cluster.nodes
    wait_for(
        lambda: all(cluster.resolves_everywhere(t, nodes) for t in nodes),
        timeout=20,
        what="all names resolving",
    )
    observer, leaver = nodes[0], nodes[2]
    assert ptr_rcode(observer, leaver.address) == "NOERROR"
    assert leaver.stop() == 0
    wait_for(lambda: cluster.gone_everywhere(leaver, nodes[:2]), timeout=10, what="leaver gone")
    # The departed member's address, and one nobody ever had, in the nodes' own /24.
    assert ptr_rcode(observer, leaver.address) == "NXDOMAIN"
    unused = str(ipaddress.IPv4Address(leaver.address) + 100)
    assert ptr_rcode(observer, unused) == "NXDOMAIN"
    # Outside our networks nothing is claimed: with no upstream, dnsmasq refuses.
    ours = own_networks(read_text(ROUTES) or "", observer.address)
    outside = next(
        a
        for a in ("198.51.100.7", "203.0.113.7", "100.64.9.9")
        if not any(ipaddress.IPv4Address(a) in n for n in ours)
    )
    assert ptr_rcode(observer, outside) == "REFUSED"
