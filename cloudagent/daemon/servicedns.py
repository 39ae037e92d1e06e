"""Service names and SRV records beside the hosts file: the second hosts file dnsmasq reads,
the in-process SRV responder, and the saved view that serves SRV again after a restart."""

from __future__ import annotations

import logging
from pathlib import Path

from cloudagent.dns.services import ServiceView, build_service_view, render_service_hosts
from cloudagent.dns.srv import SrvResponder
from cloudagent.dns.view import DnsView
from cloudagent.files import ManagedFile, read_text, write_atomic
from cloudagent.members import Membership

log = logging.getLogger(__name__)


class ServiceDns:
    """Keeps ``dns/services`` (A records) and the SRV responder in step with the host view."""

    def __init__(self, dns_dir: Path, saved: Path, domain: str) -> None:
        self.domain = domain
        self.hosts = ManagedFile(dns_dir / "services")
        self.saved = saved
        self.view = ServiceView.from_json(read_text(saved))
        self.responder = SrvResponder(domain)
        self.responder.update(self.view)
        self._reported: frozenset[str] = frozenset()

    async def start(self) -> int:
        """Bind the responder on loopback; returns its port (for dnsmasq's ``server=``)."""
        return await self.responder.start()

    def ensure_file(self) -> None:
        """dnsmasq needs the file to exist before it starts (an empty one serves nothing)."""
        if self.hosts.text is None:
            self.hosts.write(render_service_hosts(ServiceView(), DnsView(()), self.domain))

    def update(self, membership: Membership, view: DnsView) -> bool:
        """Apply a cycle's host view; True when the A-record file changed (reload dnsmasq)."""
        services = build_service_view(membership.members, view, self.domain)
        for note in sorted(set(services.notes) - self._reported):
            log.warning("%s", note)
        self._reported = frozenset(services.notes)
        written = self.hosts.write(render_service_hosts(services, view, self.domain))
        if services.instances != self.view.instances:
            self.responder.update(services)
            write_atomic(self.saved, services.to_json())
        self.view = services
        return written

    async def stop(self) -> None:
        """Close the responder."""
        await self.responder.stop()
