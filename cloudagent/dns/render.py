"""Renderers: values in, file text out. No I/O besides loading the packaged templates."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from pathlib import Path

import jinja2

from cloudagent.dns.view import DnsView
from cloudagent.endpoint import Endpoint

_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("cloudagent", "templates"),
    autoescape=False,  # noqa: S701 - plain-text config files, every value validated upstream
    undefined=jinja2.StrictUndefined,
    keep_trailing_newline=True,
)


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
    return _ENV.get_template("dnsmasq.conf.j2").render(
        port=listen.port,
        address=listen.host,
        hosts_file=hosts_file,
        domain=domain,
        upstreams=[f"{u.host}#{u.port}" for u in upstreams],
        user=user,
        ttl=ttl,
        authoritative=[str(n) for n in authoritative],
        services_hosts=services_hosts,
        srv=f"{srv.host}#{srv.port}" if srv else None,
        reverse_zones=reverse_zones,
    )
