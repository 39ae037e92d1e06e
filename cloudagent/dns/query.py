"""DNS queries through a real stub resolver (dnspython), for health checks, tests and benchmarks."""

from __future__ import annotations

import dns.exception
import dns.resolver
import dns.reversename

from cloudagent.endpoint import Endpoint


class Lookup:
    """Ask one DNS server (e.g. a node's dnsmasq) for A and PTR records."""

    def __init__(self, server: Endpoint, timeout: float = 1.0) -> None:
        self.server = server
        self.resolver = dns.resolver.Resolver(configure=False)
        self.resolver.nameservers = [server.host]
        self.resolver.port = server.port
        self.resolver.lifetime = timeout
        self.resolver.timeout = timeout
        self.resolver.cache = None

    def addresses(self, name: str) -> list[str] | None:
        """The A records of ``name``; None for NXDOMAIN or no answer."""
        return self._answer(name, "A")

    def names(self, address: str) -> list[str] | None:
        """The PTR names of ``address`` (without the trailing dot); None for NXDOMAIN."""
        answer = self._answer(str(dns.reversename.from_address(address)), "PTR")
        return None if answer is None else [name.rstrip(".") for name in answer]

    def _answer(self, qname: str, rdtype: str) -> list[str] | None:
        try:
            answer = self.resolver.resolve(qname, rdtype, search=False)
        except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
            return None
        return sorted(rdata.to_text() for rdata in answer)


DNSError = dns.exception.DNSException
