"""Serf accepts any node name and tag value; none of it may reach a file or DNS."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable
from functools import partial

from cloudagent.dev.localcluster import LocalCluster, LocalNode, wait_for
from cloudagent.dns.query import DNSError
from tests.integration.conftest import MakeCluster

INJECTED = "6.6.6.6"
HOSTILE_NAMES = [
    "bad name.test",
    f"evil\naddress=/injected.test/{INJECTED}",
    "a..b",
    "x" * 70 + ".test",
    "-dash.test",
    "10.1.2.3",
]


def answers(node: LocalNode, name: str) -> list[str] | None:
    try:
        return node.dns.addresses(name)
    except DNSError:  # not in the view yet: outside the cluster domain, dnsmasq refuses
        return None


def extras_served(node: LocalNode, cluster: LocalCluster) -> bool:
    return answers(node, "tagged.cluster.internal") == [cluster.address(61)] and answers(
        node, "upper.cluster.internal"
    ) == [cluster.address(60)]


def warned_about_all(node: LocalNode) -> bool:
    log = node.log_file.read_text()
    return "tag 'role'=" in log and all(f"member {n!r} dropped" in log for n in HOSTILE_NAMES)


def test_hostile_names_and_tags_never_reach_a_file(
    make_cluster: MakeCluster, raw_serf: Callable[..., subprocess.Popen[bytes]]
) -> None:
    cluster: LocalCluster = make_cluster(3)
    nodes = cluster.nodes
    wait_for(
        lambda: all(cluster.resolves_everywhere(t, nodes) for t in nodes),
        timeout=20,
        what="cluster up",
    )
    seed = nodes[0].address
    for i, name in enumerate(HOSTILE_NAMES):
        raw_serf(name, cluster.address(40 + i), seed)
    # Valid after folding to lower case (nobody else holds it): served as upper.<domain>.
    raw_serf("UPPER", cluster.address(60), seed)
    # A valid name with a hostile tag: served, the tag ignored.
    raw_serf(
        "tagged.cluster.internal",
        cluster.address(61),
        seed,
        f"role=agent\naddress=/tagged.test/{INJECTED}",
        f"hostgroup=x\nserver={INJECTED}",
    )

    total = len(nodes) + 2  # only valid members are counted
    for node in nodes:
        wait_for(
            partial(extras_served, node, cluster),
            timeout=20,
            what=f"valid extra members served at {node.name}",
        )
        for target in nodes:
            assert node.dns.addresses(target.fqdn) == [target.address]
            assert node.dns.names(target.address) == [target.fqdn]
        assert node.dns.names(cluster.address(60)) == ["upper.cluster.internal"]
        assert answers(node, "injected.test") is None

    for node in nodes:
        hosts = (node.state_dir / "dns" / "hosts").read_text()
        conf = (node.state_dir / "dns" / "dnsmasq.conf").read_text()
        for text in (hosts, conf):
            assert INJECTED not in text
            assert not any(line.startswith("address=") for line in text.splitlines())
        entries = [line for line in hosts.splitlines() if not line.startswith("#")]
        assert len(entries) == len(nodes) + 2
        assert all(re.fullmatch(r"[0-9.]+( [a-z0-9.-]+)+", line) for line in entries), entries

    # A log line serves `tagged` at once (the fast path); its tags, and the warning about
    # them, come with the full read that follows.
    wait_for(
        partial(warned_about_all, nodes[0]),
        timeout=20,
        what="every hostile member and tag warned about",
    )
    log = nodes[0].log_file.read_text()
    for name in HOSTILE_NAMES:
        # One warning per dropped member while it lasts, quoted so it cannot forge log lines.
        assert log.count(f"member {name!r} dropped") == 1, name
    assert "tag 'role'=" in log and "ignored" in log
    assert not any(line.startswith("address=") for line in log.splitlines())
    rows = [line for line in log.splitlines() if "wrote hosts" in line]
    assert f"({total} members, {len(nodes) + 2} addresses)" in rows[-1]
