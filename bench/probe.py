"""Fast probes for the benchmark: raw-UDP DNS sweeps over many dnsmasqs, and the Serf floor.

A sweep sends one pre-built query to every observer at once and collects the answers, so a
100-node sweep costs a few milliseconds of Python, not one resolver call per node.
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import select
import socket
import struct
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from cloudagent.endpoint import Endpoint
from cloudagent.secret import Secret
from cloudagent.serf.rpc import SerfError, SerfRPC

A, PTR = 1, 12
NOERROR, NXDOMAIN = 0, 3


def _qname(name: str) -> bytes:
    return (
        b"".join(bytes([len(label)]) + label.encode() for label in name.rstrip(".").split("."))
        + b"\0"
    )


def query(qid: int, name: str, qtype: int) -> bytes:
    """A DNS query packet (RD set)."""
    return (
        struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0)
        + _qname(name)
        + struct.pack(">HH", qtype, 1)
    )


def ptr_name(address: str) -> str:
    return ipaddress.ip_address(address).reverse_pointer


@dataclass(frozen=True)
class Answer:
    rcode: int
    count: int
    tail: bytes  # the last bytes of the packet: an A record's address, a PTR's name


def parse(packet: bytes) -> tuple[int, Answer] | None:
    if len(packet) < 12:
        return None
    qid, flags, _, ancount = struct.unpack(">HHHH", packet[:8])
    return qid, Answer(flags & 0xF, ancount, packet[-40:])


class Sweeper:
    """Ask many DNS servers one question each, all at once."""

    def __init__(self, timeout: float = 0.2) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        self.sock.setblocking(False)
        self.timeout = timeout
        self._qid = 0

    def close(self) -> None:
        self.sock.close()

    def sweep(self, asks: Sequence[tuple[Endpoint, str, int]]) -> list[Answer | None]:
        """One answer per (server, name, type); None when a server did not answer in time."""
        pending: dict[int, int] = {}
        for index, (server, name, qtype) in enumerate(asks):
            self._qid = (self._qid + 1) & 0xFFFF
            pending[self._qid] = index
            try:
                self.sock.sendto(query(self._qid, name, qtype), (server.host, server.port))
            except OSError:
                pending.pop(self._qid)
        answers: list[Answer | None] = [None] * len(asks)
        deadline = time.monotonic() + self.timeout
        while pending and time.monotonic() < deadline:
            ready, _, _ = select.select([self.sock], [], [], max(0.0, deadline - time.monotonic()))
            if not ready:
                break
            while True:
                try:
                    packet = self.sock.recv(4096)
                except BlockingIOError:
                    break
                parsed = parse(packet)
                if parsed and parsed[0] in pending:
                    answers[pending.pop(parsed[0])] = parsed[1]
        return answers


def resolved_a(answer: Answer | None, address: str) -> bool:
    return (
        answer is not None
        and answer.rcode == NOERROR
        and answer.count > 0
        and answer.tail.endswith(ipaddress.ip_address(address).packed)
    )


def resolved_ptr(answer: Answer | None, fqdn: str) -> bool:
    first = fqdn.split(".", maxsplit=1)[0].encode()
    return (
        answer is not None and answer.rcode == NOERROR and answer.count > 0 and first in answer.tail
    )


def nxdomain(answer: Answer | None) -> bool:
    return answer is not None and answer.rcode == NXDOMAIN


class Floor:
    """Tight polling of ``members`` on a few observers: when each first sees a change."""

    def __init__(self, endpoints: Iterable[tuple[Endpoint, Path | None]]) -> None:
        """``endpoints``: each observer's RPC address and the file holding its RPC token
        (cloudagent generates one; None for a serf without)."""
        self.endpoints = list(endpoints)
        self.clients: list[SerfRPC] = []

    async def open(self) -> None:
        self.clients = []
        for endpoint, token_file in self.endpoints:
            token = token_file.read_text().strip() if token_file and token_file.exists() else None
            auth = Secret(token) if token else None
            self.clients.append(await SerfRPC.connect(endpoint, auth, timeout=10))

    async def close(self) -> None:
        for client in self.clients:
            await client.close()

    async def wait_status(
        self, name: str, statuses: set[str], t0: float, timeout: float, interval: float = 0.002
    ) -> list[float | None]:
        """Seconds after ``t0`` at which each observer first listed ``name`` in ``statuses``
        (an absent member counts as ``absent``)."""

        async def one(client: SerfRPC) -> float | None:
            deadline = t0 + timeout
            while time.monotonic() < deadline:
                try:
                    members = await client.members_filtered(name=re.escape(name))
                except SerfError:
                    return None
                status = members[0].get("Status", "absent") if members else "absent"
                if status in statuses:
                    return time.monotonic() - t0
                await asyncio.sleep(interval)
            return None

        return list(await asyncio.gather(*(one(c) for c in self.clients)))
