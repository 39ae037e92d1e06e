"""In-memory seams for the daemon loop: a virtual clock, a serf, a hosts sink."""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

from cloudagent.serf.rpc import SerfConnectionError, SerfRPCError


async def settle(rounds: int = 50) -> None:
    """Let every ready task run until all of them wait again."""
    for _ in range(rounds):
        await asyncio.sleep(0)


class FakeClock:
    """Virtual time: waits end only when the test advances the clock past them."""

    def __init__(self, start: float = 1_000_000.0) -> None:
        self.now = start
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()

    def time(self) -> float:
        return self.now

    def monotonic(self) -> float:
        return self.now

    def cpu(self) -> float:
        return 0.0  # virtual cycles cost nothing

    async def wait(self, event: asyncio.Event, timeout: float | None) -> bool:
        if event.is_set():
            return True
        if timeout is not None and timeout <= 0:
            await asyncio.sleep(0)
            return event.is_set()
        timer: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if timeout is not None:
            heapq.heappush(self._sleepers, (self.now + timeout, next(self._seq), timer))
        waiter: asyncio.Future[Any] = asyncio.ensure_future(event.wait())
        pending: set[asyncio.Future[Any]] = {timer, waiter}
        try:
            await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
        finally:
            waiter.cancel()
            timer.cancel()
        return event.is_set()

    async def advance(self, seconds: float) -> None:
        """Move time forward, waking every sleeper whose deadline passes, in order."""
        target = self.now + seconds
        await settle()
        while self._sleepers and self._sleepers[0][0] <= target:
            deadline, _, timer = heapq.heappop(self._sleepers)
            if timer.done():
                continue
            self.now = max(self.now, deadline)
            timer.set_result(None)
            await settle()
        self.now = target
        await settle()


def member(name: str, last: int, status: str = "alive", **tags: str) -> dict[str, Any]:
    """One entry of serf's ``members`` reply for 10.0.0.<last>."""
    return {"Name": name, "Addr": bytes([10, 0, 0, last]), "Port": 7946, "Status": status,
            "Tags": dict(tags)}  # fmt: skip


class FakeEvents:
    def __init__(self) -> None:
        self.queue: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()

    def __aiter__(self) -> AsyncIterator[dict[str, Any]]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[dict[str, Any]]:
        while (record := await self.queue.get()) is not None:
            yield record
        raise SerfConnectionError("stream closed")


class FakeSession:
    def __init__(self, serf: FakeSerf) -> None:
        self.serf = serf
        self.closed = asyncio.Event()
        self.events = FakeEvents()

    async def members(self) -> list[dict[str, Any]]:
        if self.closed.is_set():
            raise SerfConnectionError("closed")
        self.serf.members_calls += 1
        reply = [dict(m) for m in self.serf.members]
        if self.serf.hold is not None:  # the reply is made now and arrives when released
            await self.serf.hold.wait()
        return reply

    async def join(self, addresses: Sequence[str], replay: bool = False) -> int:
        self.serf.joins.append((self.serf.clock.now, list(addresses)))
        if self.serf.join_error:
            raise SerfRPCError("join", self.serf.join_error)
        return 1

    async def set_tags(self, tags: Mapping[str, str], delete: Sequence[str] = ()) -> None:
        self.serf.tags.update(tags)

    async def stream(self, types: str = "") -> FakeEvents:
        return self.events

    async def leave(self) -> None:
        self.serf.left = True

    async def close(self) -> None:
        self.closed.set()
        self.events.queue.put_nowait(None)


class FakeSerf:
    """The members source: connect() opens a session unless serf is 'down'."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.members: list[dict[str, Any]] = []
        self.down = False
        self.join_error = ""
        self.joins: list[tuple[float, list[str]]] = []
        self.connects: list[float] = []
        self.sessions: list[FakeSession] = []
        self.tags: dict[str, str] = {}
        self.left = False
        self.members_calls = 0
        self.hold: asyncio.Event | None = None

    async def connect(self) -> FakeSession:
        self.connects.append(self.clock.now)
        if self.down:
            raise SerfConnectionError("connection refused")
        session = FakeSession(self)
        self.sessions.append(session)
        return session

    def crash(self) -> None:
        """serf went away: the current session closes, new ones are refused."""
        self.down = True
        for session in self.sessions:
            session.closed.set()


class FakeFile:
    """A hosts sink / text sink that can be made to fail like a full disk."""

    def __init__(self, text: str | None = None) -> None:
        self.text = text
        self.writes: list[str] = []
        self.reloads = 0
        self.error: OSError | None = None

    def write(self, text: str) -> bool:
        if text == self.text:
            return False
        if self.error is not None:
            raise self.error
        self.text = text
        self.writes.append(text)
        return True

    reload_seconds = 0.0

    def reload(self) -> None:
        self.reloads += 1
