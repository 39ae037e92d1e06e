"""The hostname round trip Hadoop needs, as pure checks: facts about a node in, verdicts out.

Hadoop daemons register by the name ``InetAddress.getLocalHost().getCanonicalHostName()``
returns and are checked back by forward and reverse lookups (HDFS's
``dfs.namenode.datanode.registration.ip-hostname-check``); Ambari agents register by
``hostname -f``. Every one of those has to agree with the name and address Serf serves.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Final

from cloudagent import hostnames

QUERY_NAME: Final = "cloudagent-doctor"
MAX_PAYLOAD: Final = 1000  # serf's default query response limit is 1024 bytes


@dataclass(frozen=True)
class Facts:
    """What ``doctor`` found on a node. ``None`` means "could not be read" (or no JRE)."""

    fqdn: str  # the name cloudagent serves for this node
    node_name: str  # serf's node name
    hostname_f: str | None  # `hostname -f`
    getfqdn: str  # Python's socket.getfqdn()
    address: str | None  # the address serf gossips for this node (what peers see)
    advertised: str | None  # SERF_ADVERTISE_IP or the CLOUDAGENT_ADVERTISE_CIDR choice
    dns_forward: Sequence[str] | None  # A(fqdn) at our dnsmasq
    dns_reverse: Sequence[str] | None  # PTR(address) at our dnsmasq
    getent_name: Sequence[str] | None  # `getent hosts FQDN`: address, canonical name, aliases
    getent_address: Sequence[str] | None  # `getent hosts ADDRESS`
    etc_hosts: str  # /etc/hosts
    resolv_conf: str | None  # resolv.conf text when cloudagent manages it, else None
    dns_listen: str  # the address our dnsmasq listens on
    jvm_name: str | None  # getLocalHost().getCanonicalHostName(), None without a JRE
    join_problem: str | None  # the agent's last join error (e.g. a gossip key mismatch)


@dataclass(frozen=True)
class Check:
    """One verdict; ``ok`` None means skipped (e.g. no JRE)."""

    name: str
    ok: bool | None
    reason: str = ""
    fix: str = ""

    def line(self) -> str:
        """One line for a failing (or skipped) check: the reason and the fix."""
        if self.ok is None:
            return f"SKIP {self.name}: {self.reason}"
        return f"FAIL {self.name}: {self.reason}; fix: {self.fix}"


def _show(answer: Sequence[str] | None) -> str:
    return " ".join(answer) if answer else "nothing"


def check_names(f: Facts) -> Check:
    """``hostname -f``, serf's node name and Python's getfqdn() all give the served FQDN."""
    seen = {
        "hostname -f": (f.hostname_f or "").lower(),
        "socket.getfqdn()": f.getfqdn.lower(),
        "serf node name": hostnames.fqdn(f.node_name, f.fqdn.partition(".")[2]),
    }
    wrong = [
        f"{what} says {value or '(nothing)'!r}" for what, value in seen.items() if value != f.fqdn
    ]
    if not wrong:
        return Check("names", True)
    return Check(
        "names",
        False,
        f"{', '.join(wrong)} but the cluster serves {f.fqdn!r}",
        f"give the node the hostname {f.fqdn} (docker run --hostname {f.fqdn}, or hostnamectl) "
        "and list the FQDN first in /etc/hosts",
    )


def check_dns(f: Facts) -> list[Check]:
    """A(FQDN) is our address and PTR(address) is our FQDN at our own dnsmasq."""
    if f.address is None:
        fix = "wait for the agent ('cloudagent wait') or read its log"
        return [Check("dns-forward", False, "serf does not list this node", fix)]
    checks = [Check("dns-forward", True), Check("dns-reverse", True)]
    if list(f.dns_forward or []) != [f.address]:
        checks[0] = Check(
            "dns-forward",
            False,
            f"dnsmasq at {f.dns_listen} answers {f.fqdn} -> {_show(f.dns_forward)}, "
            f"want {f.address}",
            "another member may hold this name (see the agent's warnings); "
            "give each node a unique name",
        )
    if list(f.dns_reverse or []) != [f.fqdn]:
        checks[1] = Check(
            "dns-reverse",
            False,
            f"dnsmasq at {f.dns_listen} answers {f.address} -> {_show(f.dns_reverse)}, "
            f"want {f.fqdn}",
            "another member holds this address's PTR; give each node a unique address",
        )
    return checks


def check_resolver(f: Facts) -> list[Check]:
    """The system resolver (``getent hosts``: /etc/hosts, then DNS) agrees both ways."""
    checks = [Check("resolver-forward", True), Check("resolver-reverse", True)]
    fwd, rev = list(f.getent_name or []), list(f.getent_address or [])
    if not fwd or fwd[0] != f.address or fwd[1:2] != [f.fqdn]:
        checks[0] = Check(
            "resolver-forward",
            False,
            f"getent hosts {f.fqdn} gives {_show(fwd)}, want {f.address} {f.fqdn}",
            "fix /etc/hosts (FQDN first, right address) and point resolv.conf at this "
            "node's dnsmasq",
        )
    if f.address is None or rev[1:2] != [f.fqdn]:
        checks[1] = Check(
            "resolver-reverse",
            False,
            f"getent hosts {f.address} gives {_show(rev)}, want {f.fqdn} first",
            "remove other names for this address from /etc/hosts, or list the FQDN first; "
            "do not resolve through Docker's embedded DNS (use --dns 127.0.0.1)",
        )
    return checks


def check_etc_hosts(f: Facts) -> Check:
    """/etc/hosts neither maps the FQDN to 127.0.1.1 nor lists a short name first for it."""
    short = hostnames.short(f.fqdn)
    for number, raw in enumerate(f.etc_hosts.splitlines(), 1):
        fields = raw.split("#", 1)[0].split()
        if len(fields) < 2:
            continue
        address, names = fields[0], [n.lower() for n in fields[1:]]
        if f.fqdn not in names and not (short in names and address == f.address):
            continue
        if address.startswith("127.") and f.fqdn in names:
            return Check(
                "etc-hosts",
                False,
                f"/etc/hosts line {number} maps {f.fqdn} to the loopback address {address}",
                f"delete that line or change it to '{f.address or 'ADDRESS'} {f.fqdn} {short}'",
            )
        if names[0] != f.fqdn:
            return Check(
                "etc-hosts",
                False,
                f"/etc/hosts line {number} lists {names[0]!r} before the FQDN",
                f"write it as '{address} {f.fqdn} {short}': the first name is the canonical one",
            )
    return Check("etc-hosts", True)


def check_resolv_conf(f: Facts) -> Check:
    """Where cloudagent manages resolv.conf, its first nameserver is our dnsmasq."""
    if f.resolv_conf is None:
        return Check("resolv-conf", True)
    servers = [
        line.split()[1]
        for line in f.resolv_conf.splitlines()
        if line.startswith("nameserver") and len(line.split()) > 1
    ]
    if servers[:1] == [f.dns_listen]:
        return Check("resolv-conf", True)
    return Check(
        "resolv-conf",
        False,
        f"resolv.conf names {', '.join(servers) or 'no nameserver'}, not this node's dnsmasq "
        f"{f.dns_listen}",
        "restart the agent (it rewrites resolv.conf) and do not let the runtime overwrite it",
    )


def check_jvm(f: Facts) -> Check:
    """The JVM's canonical host name is the FQDN (when a JRE is present)."""
    if f.jvm_name is None:
        return Check("jvm", None, "no JRE able to run the check on this node")
    if f.jvm_name.lower() == f.fqdn:
        return Check("jvm", True)
    return Check(
        "jvm",
        False,
        f"InetAddress.getLocalHost().getCanonicalHostName() is {f.jvm_name!r}, not {f.fqdn!r}",
        "fix the hostname and /etc/hosts as above; Hadoop registers under this name",
    )


def check_advertise(f: Facts) -> Check:
    """Peers see the address this node means to advertise."""
    if f.advertised is None or f.address is None or f.advertised == f.address:
        return Check("advertise", True)
    return Check(
        "advertise",
        False,
        f"peers see {f.address} but this node advertises {f.advertised}",
        "set SERF_ADVERTISE_IP or CLOUDAGENT_ADVERTISE_CIDR to the address peers can reach, "
        "and restart the agent",
    )


def check_gossip(f: Facts) -> Check:
    """The agent could join the cluster (a rotated gossip key shows here)."""
    if f.join_problem is None:
        return Check("gossip", True)
    fix = f.join_problem.partition("; ")[2] or "see the agent's log"
    return Check("gossip", False, f.join_problem.partition("; ")[0], fix)


def run_checks(f: Facts) -> list[Check]:
    """Every check, in the order a reader fixes them."""
    return [
        check_names(f),
        *check_dns(f),
        *check_resolver(f),
        check_etc_hosts(f),
        check_resolv_conf(f),
        check_jvm(f),
        check_advertise(f),
        check_gossip(f),
    ]


def failed(checks: Sequence[Check]) -> list[Check]:
    """The checks that failed (skipped ones are not failures)."""
    return [c for c in checks if c.ok is False]


def summary_payload(fqdn: str, checks: Sequence[Check]) -> bytes:
    """The compact answer to a ``doctor --all`` query (fits serf's response limit)."""
    bad = failed(checks)
    ran = [c for c in checks if c.ok is not None]
    doc = {"n": fqdn, "p": len(ran) - len(bad), "t": len(ran), "f": bad[0].line() if bad else ""}
    data = json.dumps(doc).encode()
    if len(data) > MAX_PAYLOAD:
        doc["f"] = doc["f"][: MAX_PAYLOAD - len(data) - 3] + "..."  # type: ignore[index]
        data = json.dumps(doc).encode()[:MAX_PAYLOAD]
    return data


def as_json(fqdn: str, checks: Sequence[Check]) -> dict[str, object]:
    """The ``doctor --json`` document."""
    return {
        "node": fqdn,
        "passed": sum(1 for c in checks if c.ok),
        "failed": len(failed(checks)),
        "checks": [asdict(c) for c in checks],
    }
