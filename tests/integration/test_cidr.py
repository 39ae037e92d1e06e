"""CLOUDAGENT_ADVERTISE_CIDR on a host with two interfaces, built in network namespaces.

Private addresses exist only inside the namespaces this test creates; their names start with
the branch's prefix and they are always deleted."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from cloudagent.dev.localcluster import require_programs, wait_for

PREFIX = f"ops{os.getpid() % 10000}"


def ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True)


@pytest.fixture
def two_homed() -> Iterator[str]:
    """A namespace with eth-a 10.168.1.2/24 and eth-b 10.169.2.2/24 (peers in a second one)."""
    node, peer = f"{PREFIX}-node", f"{PREFIX}-peer"
    ip("netns", "add", node)
    try:
        ip("netns", "add", peer)
        for name, address in (("a", "10.168.1.2/24"), ("b", "10.169.2.2/24")):
            ip("-n", node, "link", "add", f"eth-{name}", "type", "veth", "peer", "name",
               f"p-{name}", "netns", peer)  # fmt: skip
            ip("-n", node, "addr", "add", address, "dev", f"eth-{name}")
            ip("-n", node, "link", "set", f"eth-{name}", "up")
            ip("-n", peer, "link", "set", f"p-{name}", "up")
        ip("-n", node, "link", "set", "lo", "up")
        yield node
    finally:
        subprocess.run(["ip", "netns", "del", peer], capture_output=True, check=False)
        subprocess.run(["ip", "netns", "del", node], capture_output=True, check=False)


def node_env(state: Path, cidr: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CLOUDAGENT_", "SERF_"))}
    env.update(
        CLOUDAGENT_NODE_NAME="multi",
        MYDOMAIN="cluster.internal",
        DNS_UPSTREAM="none",
        CLOUDAGENT_DNS_LISTEN="127.0.0.1:5353",
        CLOUDAGENT_STATE_DIR=str(state),
        CLOUDAGENT_AMBARI="off",
        CLOUDAGENT_ADVERTISE_CIDR=cidr,
    )
    env.update(extra)
    return env


def in_ns(
    ns: str, env: dict[str, str], *args: str, **kw: object
) -> subprocess.CompletedProcess[str]:
    argv = ["ip", "netns", "exec", ns, sys.executable, "-m", "cloudagent", *args]
    return subprocess.run(argv, env=env, capture_output=True, text=True, check=False, **kw)  # type: ignore[call-overload, no-any-return]


def test_the_address_inside_the_cidr_is_advertised(two_homed: str, open_tmp: Path) -> None:
    require_programs()
    base = open_tmp
    env = node_env(base / "state", "10.169.0.0/16")
    argv = ["ip", "netns", "exec", two_homed, sys.executable, "-m", "cloudagent", "run", "server"]
    with (base / "agent.log").open("w") as log:
        agent = subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:

        def members() -> list[dict[str, object]]:
            done = in_ns(two_homed, env, "members", "--json")
            return json.loads(done.stdout)["members"] if done.returncode == 0 else []

        rows = wait_for(members, timeout=30, what="serf answering")
        assert [(r["name"], r["address"]) for r in rows] == [("multi", "10.169.2.2")]
        done = in_ns(two_homed, env, "wait", "--timeout", "30")
        assert done.returncode == 0, done.stdout
    finally:
        agent.terminate()
        agent.wait(30)
        print(io.StringIO((base / "agent.log").read_text()).read()[-3000:])


def test_a_cidr_no_interface_is_in_fails_clearly(two_homed: str, open_tmp: Path) -> None:
    done = in_ns(two_homed, node_env(open_tmp / "state", "10.170.0.0/16"), "run", timeout=60)
    assert done.returncode == 2
    assert (
        "  CLOUDAGENT_ADVERTISE_CIDR: no interface address inside 10.170.0.0/16 "
        "(this host has: lo 127.0.0.1, lo ::1, eth-a 10.168.1.2, "
    ) in done.stderr
    assert done.stderr.endswith("name a network this host is on, or set SERF_ADVERTISE_IP\n")


def dig(ns: str, *query: str) -> str:
    argv = ["ip", "netns", "exec", ns, "dig", "@127.0.0.1", "+norec", *query]
    return subprocess.run(argv, capture_output=True, text=True, check=True).stdout


def test_authoritative_mode_puts_an_soa_in_negative_answers(two_homed: str, open_tmp: Path) -> None:
    """NXDOMAIN for a name in the domain, and for an unknown address in the named network,
    carries the zone's SOA with the configured minimum (dig, the real dnsmasq)."""
    require_programs()
    base = open_tmp
    env = node_env(
        base / "state",
        "10.169.0.0/16",
        CLOUDAGENT_DNS_LISTEN="127.0.0.1:53",  # lo's own address: dnsmasq's auth mode needs one
        CLOUDAGENT_DNS_AUTHORITATIVE="10.169.2.0/24",
        CLOUDAGENT_DNS_TTL="7",
    )
    argv = ["ip", "netns", "exec", two_homed, sys.executable, "-m", "cloudagent", "run", "server"]
    with (base / "agent.log").open("w") as log:
        agent = subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        done = in_ns(two_homed, env, "wait", "--timeout", "30")
        assert done.returncode == 0, done.stdout
        soa = "cluster.internal.\t7\tIN\tSOA\tcluster.internal. hostmaster.cluster.internal. "
        missing = dig(two_homed, "nosuch.cluster.internal", "A")
        assert "status: NXDOMAIN" in missing and "flags: qr aa" in missing
        assert ";; AUTHORITY SECTION:\n" + soa in missing
        assert missing.split(soa)[1].split("\n")[0].split()[-1] == "7"  # the SOA minimum
        found = dig(two_homed, "multi.cluster.internal", "A")
        assert "multi.cluster.internal.\t7\tIN\tA\t10.169.2.2" in found
        reverse = dig(two_homed, "-x", "10.169.2.2")
        assert "IN\tPTR\tmulti.cluster.internal." in reverse
        unknown = dig(two_homed, "-x", "10.169.2.99")
        assert "status: NXDOMAIN" in unknown and "IN\tSOA\t" in unknown
    finally:
        agent.terminate()
        agent.wait(30)
        print((base / "agent.log").read_text()[-3000:])
