"""Renderers: values in, file text out. No I/O."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from pathlib import Path

from cloudagent.dns.view import DnsView
from cloudagent.endpoint import Endpoint

HOSTS_HEADER = (
    "# Written by cloudagent from the Serf membership; every change here is overwritten.\n"
    "# address  fqdn  [alias]  (the first name of a line answers the PTR query)\n"
)


def host_line(address: str, names: Sequence[str]) -> str:
    """One line of the hosts file.

    >>> host_line("10.0.0.1", ("a.x", "a"))
    '10.0.0.1 a.x a\\n'
    """
    return f"{address} {' '.join(names)}\n"


def render_hosts(view: DnsView) -> str:
    """The hosts file dnsmasq reads (``addn-hosts``), from scratch. The lines are joined, not
    templated: at 50 000 members a template costs more than the whole incremental update."""
    return HOSTS_HEADER + "".join([host_line(e.address, e.names) for e in view.entries])


def served_entries(hosts_text: str | None) -> int:
    """How many addresses a hosts file text serves.

    >>> served_entries("# comment\\n10.0.0.1 a.x a\\n10.0.0.2 b.x b\\n"), served_entries(None)
    (2, 0)
    """
    if not hosts_text:
        return 0
    return sum(1 for line in hosts_text.splitlines() if line.strip() and not line.startswith("#"))


def render_dnsmasq_conf(
    *,
    listen: Endpoint,
    hosts_file: Path,
    domain: str,
    upstreams: Sequence[Endpoint],
    user: str | None,
    ttl: int = 0,
    authoritative: Sequence[ipaddress.IPv4Network | ipaddress.IPv6Network] = (),
    services_hosts: Path | None = None,
    srv: Endpoint | None = None,
    reverse_zones: Sequence[str] = (),
) -> str:
    """dnsmasq's configuration: listen address, hosts files, authoritative domain, upstreams,
    the TTL of cluster answers, and where the SRV zones are forwarded. With ``authoritative``
    networks, dnsmasq answers the domain and those networks' reverse zones authoritatively on
    its listen address (which must be an interface address), with an SOA in negative answers
    whose minimum is ``ttl``. ``reverse_zones`` (this node's networks) are answered
    locally: an address there that no member holds is NXDOMAIN, never forwarded."""
    # Plain lines, not a template engine: the agent would carry jinja2 (~3 MB of RSS) for
    # this one file, written once at start.
    lines = [
        "# Written by cloudagent at start-up. dnsmasq reads this file once; the hosts file is",
        "# re-read on SIGHUP, which is how membership changes reach DNS.",
        f"port={listen.port}",
        f"listen-address={listen.host}",
        "bind-interfaces",
        "no-hosts",
        "no-resolv",
    ]
    if services_hosts:
        lines += [
            "# dnsmasq reads addn-hosts files in the reverse order of these lines, and an "
            "address's PTR is",
            "# the first name read for it: listed last, the members' file is read first, so a "
            "service name",
            "# is never a PTR target.",
            f"addn-hosts={services_hosts}",
        ]
    lines += [
        f"addn-hosts={hosts_file}",
        "# Answer for the cluster domain from the hosts file only; unknown names are NXDOMAIN.",
        f"local=/{domain}/",
        *(f"local=/{zone}/" for zone in reverse_zones),
        "domain-needed",
        f"local-ttl={ttl}",
    ]
    if authoritative:
        lines += [
            "# Authoritative for the domain and these reverse zones: negative answers carry an "
            "SOA whose",
            "# minimum (dnsmasq uses auth-ttl for it) bounds negative caching.",
            f"auth-server={domain},{listen.host}",
            f"auth-zone={domain},{','.join(str(n) for n in authoritative)}",
            f"auth-ttl={ttl}",
            f"auth-soa=1,hostmaster.{domain}",
        ]
    if srv:
        lines += [
            "# SRV records come from the agent's responder on loopback: srv-host lines would "
            "need a restart.",
            f"server=/_tcp.{domain}/{srv.host}#{srv.port}",
            f"server=/_udp.{domain}/{srv.host}#{srv.port}",
        ]
    lines += [f"server={u.host}#{u.port}" for u in upstreams]
    if user:
        lines.append(f"user={user}")
    lines += ["pid-file=", "log-facility=-"]
    return "\n".join(lines) + "\n"
