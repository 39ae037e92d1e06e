"""Service names in DNS, pure: which member answers for which service, and the file and
records that serve them.

Only members the host view serves (by the same rules, at the address the view gives them)
answer for a service, so a member that leaves or fails past its grace disappears from the
service's answers in the same cycle, and the same dnsmasq reload, as its host records.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from cloudagent.dns.view import DnsView
from cloudagent.members import Member, Status
from cloudagent.services import AMBARI, TAG, offered


@dataclass(frozen=True, order=True)
class Instance:
    """One member offering one service."""

    service: str
    protocol: str
    port: int
    target: str  # the member's FQDN
    address: str

    def srv_name(self, domain: str) -> str:
        """``_<service>._<protocol>.<domain>``, the RFC 2782 owner name."""
        return f"_{self.service}._{self.protocol}.{domain}"


@dataclass(frozen=True)
class ServiceView:
    """Every served instance, sorted, and one note per instance not served."""

    instances: tuple[Instance, ...] = ()
    notes: tuple[str, ...] = ()

    def addresses(self, domain: str) -> dict[str, tuple[str, ...]]:
        """``<service>.<domain>`` -> the addresses that answer its A/AAAA queries."""
        found: defaultdict[str, set[str]] = defaultdict(set)
        for i in self.instances:
            found[f"{i.service}.{domain}"].add(i.address)
        return {name: tuple(sorted(addrs)) for name, addrs in sorted(found.items())}

    def to_json(self) -> str:
        """Saved beside the hosts file: the last good state survives a restart."""
        return json.dumps([list(vars(i).values()) for i in self.instances]) + "\n"

    @classmethod
    def from_json(cls, text: str | None) -> ServiceView:
        """The saved view, or an empty one when there is none or it is unreadable."""
        try:
            rows = json.loads(text or "[]")
            return cls(tuple(sorted(Instance(*row) for row in rows)))
        except (TypeError, ValueError):
            return cls()


def build_service_view(members: Iterable[Member], view: DnsView, domain: str) -> ServiceView:
    """The services of the members that ``view`` serves.

    A service name that is also a served host name is not served as a name (the host keeps
    it; its SRV records still are). ``ambari`` names one server: an alive one first, then
    the first by name.
    """
    # Most members offer nothing: look at the tags first, which costs far less than names.
    offering = [m for m in members if TAG in m.tags or m.role == "server"]
    if not offering:
        return ServiceView()
    served = {name: entry.address for entry in view.entries for name in entry.names}
    notes: list[str] = []
    instances: list[Instance] = []
    servers: list[Member] = []
    for m in offering:
        fqdn = m.fqdn(domain)
        if served.get(fqdn) != str(m.address):
            continue
        services, problems = offered(m.tags)
        if problems:  # one warning per member while its tag stays the same
            notes.append(f"member {m.name!r}: services ignored: {'; '.join(problems)}")
        for s in services:
            if s.name == AMBARI:
                servers.append(m)
            instances.append(Instance(s.name, s.protocol, s.port, fqdn, str(m.address)))
    if len(servers) > 1:
        keep = min(servers, key=lambda m: (m.status is not Status.ALIVE, m.name))
        dropped = {m.fqdn(domain) for m in servers if m is not keep}
        notes.extend(f"{f} not served as {AMBARI}: {keep.fqdn(domain)} is" for f in dropped)
        instances = [i for i in instances if i.service != AMBARI or i.target not in dropped]
    return ServiceView(tuple(sorted(set(instances))), tuple(sorted(set(notes))))


def render_service_hosts(services: ServiceView, view: DnsView, domain: str) -> str:
    """The second hosts file: ``<address> <service>.<domain>...``, one line per address.

    dnsmasq answers a PTR query with the first name it read for an address; the dnsmasq
    configuration makes it read the members' hosts file first, so these names are never PTR
    targets. A service name that is also a host name is left to the host.
    """
    hosts = view.names
    by_address: defaultdict[str, list[str]] = defaultdict(list)
    for name, addresses in services.addresses(domain).items():
        if name in hosts:
            continue
        for address in addresses:
            by_address[address].append(name)
    lines = [
        "# Written by cloudagent: service names (CLOUDAGENT_SERVICES and roles) of served members.",
        "# Never a PTR target: dnsmasq reads the members' hosts file first.",
    ]
    lines += [f"{address} {' '.join(names)}" for address, names in sorted(by_address.items())]
    return "\n".join(lines) + "\n"
