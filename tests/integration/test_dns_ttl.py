"""CLOUDAGENT_DNS_TTL on the answers of the real dnsmasq, read with dig."""

from __future__ import annotations

import subprocess

from cloudagent.dev.localcluster import LocalNode, wait_for
from cloudagent.dns.query import DNSError
from tests.integration.conftest import MakeCluster


def dig(node: LocalNode, *query: str) -> str:
    argv = ["dig", f"@{node.address}", "-p", str(node.dns_port), "+noall", "+answer", "+comments"]
    return subprocess.run([*argv, *query], capture_output=True, text=True, check=True).stdout


def serves_itself(node: LocalNode) -> bool:
    try:
        return node.dns.addresses(node.fqdn) == [node.address]
    except DNSError:
        return False


def answer_ttl(text: str) -> int:
    line = next(x for x in text.splitlines() if x and not x.startswith(";") and "\tIN\t" in x)
    return int(line.split()[1])


def test_answers_carry_the_configured_ttl_and_unknown_names_are_nxdomain(
    make_cluster: MakeCluster,
) -> None:
    default = make_cluster(1).nodes[0]
    tuned = make_cluster(1, extra_env={"CLOUDAGENT_DNS_TTL": "30"}).nodes[0]
    wait_for(lambda: serves_itself(default) and serves_itself(tuned), 30, what="resolving")
    assert answer_ttl(dig(default, default.fqdn, "A")) == 0
    assert answer_ttl(dig(tuned, tuned.fqdn, "A")) == 30
    assert answer_ttl(dig(tuned, "-x", tuned.address)) == 30
    missing = dig(tuned, f"nosuch.{tuned.domain}", "A")
    assert "status: NXDOMAIN" in missing
