"""The SRV responder: answers ``_<service>._tcp|_udp.<domain>`` for dnsmasq, from memory.

dnsmasq reads ``srv-host`` only from its configuration, which SIGHUP does not re-read, and a
restart leaves queries unanswered. So dnsmasq forwards the two SRV zones to this responder on
loopback (``server=/_tcp.<domain>/127.0.0.1#port``); a new service view replaces the table in
one assignment, so no query ever sees a half-updated one or goes unanswered.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import struct
from collections import defaultdict
from dataclasses import dataclass, field
from types import ModuleType
from typing import cast

from cloudagent.dns.services import ServiceView

log = logging.getLogger(__name__)


def _wire() -> ModuleType:
    """The DNS wire format (dnspython, ~4 MB of RSS), loaded at the first query: most
    agents are never asked for an SRV record."""
    from cloudagent.dns import srvwire  # noqa: PLC0415

    return srvwire


@dataclass(frozen=True)
class SrvTable:
    """What the responder answers: owner name -> (priority, weight, port, target, address)."""

    domain: str
    records: dict[str, tuple[tuple[int, str, str], ...]] = field(default_factory=dict)

    @classmethod
    def from_view(cls, services: ServiceView, domain: str) -> SrvTable:
        """The table for a service view."""
        records: defaultdict[str, list[tuple[int, str, str]]] = defaultdict(list)
        for i in services.instances:
            records[i.srv_name(domain).lower() + "."].append((i.port, i.target, i.address))
        return cls(domain, {k: tuple(sorted(v)) for k, v in records.items()})


class _Udp(asyncio.DatagramProtocol):
    def __init__(self, responder: SrvResponder) -> None:
        self.responder = responder
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        wire = _wire()
        reply = wire.answer(data, self.responder.table, wire.udp_limit(data))
        if reply is not None and self.transport is not None:
            self.transport.sendto(reply, addr)
        self.responder.queries += 1


class SrvResponder:
    """UDP and TCP on one loopback port; ``update()`` swaps the table."""

    def __init__(self, domain: str, host: str = "127.0.0.1") -> None:
        self.host = host
        self.port = 0
        self.table = SrvTable(domain)
        self.queries = 0
        self._udp: asyncio.DatagramTransport | None = None
        self._tcp: asyncio.Server | None = None

    def update(self, services: ServiceView) -> None:
        """Answer from ``services`` from now on."""
        self.table = SrvTable.from_view(services, self.table.domain)

    async def start(self, port: int = 0, attempts: int = 20) -> int:
        """Bind UDP and TCP on the same port (an ephemeral one by default); returns it."""
        loop = asyncio.get_running_loop()
        for _ in range(attempts):
            transport, _proto = await loop.create_datagram_endpoint(
                lambda: _Udp(self), local_addr=(self.host, port), family=socket.AF_INET
            )
            chosen = int(transport.get_extra_info("sockname")[1])
            try:
                self._tcp = await asyncio.start_server(self._serve_tcp, self.host, chosen)
            except OSError:
                transport.close()  # the TCP side of that port is taken: try another
                if port:
                    raise
                continue
            self._udp, self.port = transport, chosen
            return chosen
        raise OSError(f"no port on {self.host} free for both UDP and TCP")

    async def _serve_tcp(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                (length,) = struct.unpack("!H", await reader.readexactly(2))
                reply = _wire().answer(await reader.readexactly(length), self.table)
                self.queries += 1
                if reply is None:
                    break
                writer.write(struct.pack("!H", len(reply)) + reply)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    async def stop(self) -> None:
        """Close both sockets."""
        if self._udp is not None:
            self._udp.close()
        if self._tcp is not None:
            self._tcp.close()
            await self._tcp.wait_closed()
