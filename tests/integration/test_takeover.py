"""First come keeps: bare serf agents that join a running cluster cannot take the names or the
addresses (PTR) its members hold, nor be served outside the cluster domain; each offending
newcomer is warned about once, and a newcomer's own valid records are served."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable

from cloudagent.dev.localcluster import LocalCluster, LocalNode, wait_for
from cloudagent.dns.query import DNSError
from tests.integration.conftest import MakeCluster

RawSerf = Callable[..., subprocess.Popen[bytes]]
DOMAIN = "cluster.internal"


def answers(node: LocalNode, name: str) -> list[str] | None:
    try:
        return node.dns.addresses(name)
    except DNSError:  # outside the cluster domain with no upstream: dnsmasq refuses
        return None


def ptr(node: LocalNode, address: str) -> list[str] | None:
    try:
        return node.dns.names(address)
    except DNSError:  # an address nobody serves: no local reverse zone, no upstream
        return None


def log_of(node: LocalNode) -> str:
    return node.log_file.read_text(encoding="utf-8", errors="replace")


def warnings_about(node: LocalNode, serf_name: str) -> list[str]:
    return [
        line
        for line in log_of(node).splitlines()
        if " WARNING " in line and f"member {serf_name!r}" in line
    ]


def originals_intact(cluster: LocalCluster) -> None:
    for observer in cluster.nodes:
        for target in cluster.nodes:
            assert observer.dns.addresses(target.fqdn) == [target.address], observer.name
            assert observer.dns.names(target.address) == [target.fqdn], observer.name


def test_newcomers_cannot_take_names_or_addresses(
    make_cluster: MakeCluster, raw_serf: RawSerf
) -> None:
    cluster: LocalCluster = make_cluster(3, prefix="k")
    nodes = cluster.nodes
    wait_for(
        lambda: all(cluster.resolves_everywhere(t, nodes) for t in nodes),
        timeout=30,
        what="cluster up",
    )
    seed = nodes[0].address
    k2 = nodes[1]
    attackers = {
        # Serf sees a different name; folded to lower case it is k2's.
        "K2": cluster.address(50),
        # The Kelvin sign: Python folds it to "k", so this would pose as k3.
        "\u212a3": cluster.address(51),
        # A name outside the cluster domain: local answers would shadow the real upstream.
        "www.example.com": cluster.address(52),
        # The dotted spelling of k1's name.
        f"k1.{DOMAIN}": cluster.address(53),
    }
    for name, address in attackers.items():
        raw_serf(name, address, seed)
    # k2's own address, on another port: it would have won the PTR by name order ("a" < "k").
    raw_serf("aaa-ptr", k2.address, seed, port=7950, rpc_port=7380)
    # A valid newcomer with a role outside the known ones: served, the claim ignored.
    raw_serf("fresh", cluster.address(54), seed, "role=leader")
    offenders = [*attackers, "aaa-ptr", "fresh"]

    fresh = f"fresh.{DOMAIN}"
    for node in nodes:
        wait_for(
            lambda node=node: answers(node, fresh) == [cluster.address(54)],  # type: ignore[misc]
            timeout=30,
            what=f"the valid newcomer served at {node.name}",
        )
        wait_for(
            lambda node=node: all(warnings_about(node, o) for o in offenders),  # type: ignore[misc]
            timeout=30,
            what=f"every offender reported at {node.name}",
        )
    # Several more cycles (one per second or faster): reported once while it lasts.
    time.sleep(3)

    originals_intact(cluster)
    for node in nodes:
        assert node.dns.names(cluster.address(54)) == [fresh]
        assert answers(node, f"aaa-ptr.{DOMAIN}") is None
        assert answers(node, "www.example.com") is None
        for unserved in (50, 51, 52, 53):
            assert ptr(node, cluster.address(unserved)) is None
        hosts = (node.state_dir / "dns" / "hosts").read_text()
        assert "aaa-ptr" not in hosts and "example.com" not in hosts
        for offender in offenders:
            assert len(warnings_about(node, offender)) == 1, (node.name, offender)
        log = log_of(node)
        assert f"member 'K2' dropped: k2.{DOMAIN} is already held by member 'k2'" in log
        assert "member '\u212a3' dropped: invalid host name (not ASCII)" in log
        assert f"outside the cluster domain {DOMAIN}" in log
        assert f"member 'aaa-ptr' not served: {k2.address} is already held by {k2.fqdn}" in log
        assert "tag 'role'='leader' ignored" in log
