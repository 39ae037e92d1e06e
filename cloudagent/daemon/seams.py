"""The narrow interfaces the daemon loop works through, and their real implementations.

The loop never builds a socket, a process or a file itself: it is handed a members source
(a way to open a serf RPC session), a hosts sink (writes the hosts file and reloads dnsmasq),
a clock, and supervised children. Unit tests hand in fakes; ``Agent`` wires the real ones.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, Protocol

from cloudagent.dns.dnsmasq import Dnsmasq
from cloudagent.files import ManagedFile


class Clock(Protocol):
    """Time, and waiting for an event with a timeout."""

    def time(self) -> float:
        """Wall-clock seconds (persisted failure times)."""

    def monotonic(self) -> float:
        """Seconds for intervals."""

    def cpu(self) -> float:
        """Seconds of CPU the calling thread has used (what a cycle costs the agent)."""

    async def wait(self, event: asyncio.Event, timeout: float | None) -> bool:
        """Wait until ``event`` is set or ``timeout`` passes; True when it is set."""


class SystemClock:
    """The real clock."""

    def time(self) -> float:
        """Wall-clock seconds."""
        return time.time()

    def monotonic(self) -> float:
        """Monotonic seconds."""
        return time.monotonic()

    def cpu(self) -> float:
        """The calling thread's CPU seconds."""
        return time.thread_time()

    async def wait(self, event: asyncio.Event, timeout: float | None) -> bool:
        """Wait for ``event`` at most ``timeout`` seconds."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(event.wait(), None if timeout is None else max(0.0, timeout))
        return event.is_set()


class MemberEvents(Protocol):
    """Serf's event stream: iterating it yields one record per event."""

    def __aiter__(self) -> Any:
        """The events."""


class SerfSession(Protocol):
    """One connection to the local serf (``SerfRPC`` is the real one)."""

    closed: asyncio.Event

    async def members(self) -> list[dict[str, Any]]:
        """Every member serf knows."""

    async def join(self, addresses: Sequence[str], replay: bool = False) -> int:
        """Join through these addresses; the number contacted."""

    async def set_tags(self, tags: Mapping[str, str], delete: Sequence[str] = ()) -> None:
        """Gossip these tags."""

    async def stream(self, types: str = ...) -> Any:
        """Subscribe to member events (a MemberEvents)."""

    async def leave(self) -> None:
        """Leave the cluster gracefully."""

    async def close(self) -> None:
        """Close the connection."""


MembersSource = Callable[[], Awaitable[SerfSession]]


class HostsSink(Protocol):
    """Where the hosts file goes, and the DNS server that reloads it."""

    @property
    def text(self) -> str | None:
        """What the file serves now (the last good state)."""

    def write(self, text: str) -> bool:
        """Write ``text`` if it changed (True); raise OSError when it cannot."""

    def reload(self) -> None:
        """Make the DNS server read its files again."""

    @property
    def reload_seconds(self) -> float:
        """How long the DNS server took to read the hosts file at the last reload (0.0
        until known): its share of what a write costs."""


class DnsmasqHosts:
    """The real sink: a ManagedFile that dnsmasq serves, reloaded with SIGHUP."""

    def __init__(self, file: ManagedFile, dnsmasq: Dnsmasq) -> None:
        self.file = file
        self.dnsmasq = dnsmasq

    @property
    def text(self) -> str | None:
        """The hosts file as last written (or found at start)."""
        return self.file.text

    def write(self, text: str) -> bool:
        """Write if changed; unchanged text costs nothing."""
        return self.file.write(text)

    def reload(self) -> None:
        """SIGHUP dnsmasq (or as soon as it is ready)."""
        self.dnsmasq.reload()

    @property
    def reload_seconds(self) -> float:
        """From the last SIGHUP to dnsmasq's line saying it read the hosts file."""
        return self.dnsmasq.last_reload
