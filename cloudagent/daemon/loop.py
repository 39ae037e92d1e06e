"""The membership loop: keep a serf RPC session, and turn each members reply into DNS.

Data flows one way: serf ``members`` -> Reconciler (pure) -> hosts sink (file + reload).
Serf's log lines and events only wake the loop; every cycle reads the full membership, so a
lost or reordered event can leave DNS wrong for at most one cycle. A cycle that cannot write
(full or read-only state directory) keeps the last good file serving, is reported, and is
retried within seconds, so DNS catches up by itself once the disk is repaired.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol

from cloudagent.backoff import Backoff
from cloudagent.daemon.seams import Clock, HostsSink, MembersSource, SerfSession
from cloudagent.daemon.state import dump_failures
from cloudagent.daemon.status import Status
from cloudagent.dns.render import served_entries
from cloudagent.keyring import join_problem
from cloudagent.members import Membership
from cloudagent.pacing import Pacer
from cloudagent.reconcile import Cycle, MemberEvent, Reconciler
from cloudagent.serf.process import one_line
from cloudagent.serf.rpc import SerfError, SerfRPCError

log = logging.getLogger("cloudagent.daemon.agent")

RESYNC = 10.0  # full re-read of the membership even when nothing woke us
# A serf that has just (re)started knows only itself until it rejoins. Replacing a hosts file
# that served other members with that view would blank DNS for the rejoin time; keep the last
# good file for up to this long, or until serf knows another member.
SETTLE_HOLD = 30.0
RETRY_MAX = 5.0  # a failed cycle is retried at least this often (DNS catches up within ~15 s)


class TextSink(Protocol):
    """A file written only when its text changes (``ManagedFile``)."""

    def write(self, text: str) -> bool:
        """Write ``text`` if it changed; raise OSError when it cannot."""


Offload = Callable[[Callable[[Cycle], bool], Cycle], Awaitable[bool]]


async def inline(work: Callable[[Cycle], bool], cycle: Cycle) -> bool:
    """Run ``work`` on the event loop (tests; the agent hands in ``asyncio.to_thread``)."""
    return work(cycle)


class CycleHooks(Protocol):
    """What else a cycle feeds (service names, topology, metrics); the agent provides it."""

    def write_more(self, cycle: Cycle) -> bool:
        """Write what else the cycle decided; True when dnsmasq must reload. May raise OSError."""

    def done(self, cycle: Cycle, written: bool, seconds: float) -> None:
        """A cycle succeeded."""

    def held(self) -> None:
        """A cycle deliberately kept the last state (settle hold)."""

    def failed(self, error: BaseException) -> None:
        """A cycle failed."""


class NoHooks:
    """Nothing else to feed (tests, tools)."""

    def write_more(self, cycle: Cycle) -> bool:
        """Nothing written."""
        return False

    def done(self, cycle: Cycle, written: bool, seconds: float) -> None:
        """Nothing to record."""

    def held(self) -> None:
        """Nothing to record."""

    def failed(self, error: BaseException) -> None:
        """Nothing to record."""


class MembershipLoop:
    """One node's view of the cluster, kept in DNS."""

    def __init__(
        self,
        *,
        node_name: str,
        join: Sequence[str],
        reconciler: Reconciler,
        hosts: HostsSink,
        failures: TextSink,
        members: MembersSource,
        clock: Clock,
        health: Status,
        pacer: Pacer | None = None,
        resync: float = RESYNC,
        on_membership: Callable[[Membership], None] | None = None,
        tags: dict[str, str] | None = None,
        hooks: CycleHooks | None = None,
        on_join_problem: Callable[[str | None], None] | None = None,
        offload: Offload | None = None,
    ) -> None:
        self.node_name = node_name
        self.join = list(join)
        self.reconciler = reconciler
        self.hosts = hosts
        self.failures = failures
        self.members = members
        self.clock = clock
        self.health = health
        self.pacer = pacer or Pacer(clock=clock.monotonic)
        self.resync = resync
        self.on_membership = on_membership
        self.tags: dict[str, str] = dict(tags or {})
        self.hooks: CycleHooks = hooks or NoHooks()
        self.on_join_problem = on_join_problem or (lambda problem: None)
        self.offload: Offload = offload or inline
        self.rpc: SerfSession | None = None
        self.writes = 0
        # Log-line changes the fast path applied, numbered: a full read that was asked for
        # before one of them may predate it, so the change is applied again on top of it.
        self._events = 0
        self._applied: list[tuple[int, MemberEvent]] = []
        self._deferred: list[MemberEvent] = []  # log-line changes waiting for the pacer
        self._flusher: asyncio.Task[None] | None = None
        self._hooks_cpu = 0.0  # CPU seconds the last cycle's hooks took (in their thread)
        self._session_started = clock.monotonic()
        self._wake = asyncio.Event()
        self._stop = asyncio.Event()

    def wake(self) -> None:
        """Ask for a cycle now (a Serf log line or event said the membership changed)."""
        self._wake.set()

    def stop(self) -> None:
        """End the loops."""
        self._stop.set()
        self._wake.set()

    async def _sleep(self, seconds: float) -> None:
        await self.clock.wait(self._stop, seconds)

    async def publish(self, tags: dict[str, str]) -> None:
        """Gossip these tags (kept, and re-applied whenever serf restarts)."""
        self.tags.update(tags)
        if self.rpc is not None:
            try:
                await self.rpc.set_tags(tags)
            except SerfError as exc:
                log.warning("cannot publish tags yet (%s); will retry on reconnect", exc)

    # --- the serf session -----------------------------------------------------------------

    async def sessions(self) -> None:
        """Keep one RPC connection to the local serf, with its wake-up subscription."""
        backoff = Backoff(initial=0.1, maximum=5.0)
        first_failure: float | None = None
        while not self._stop.is_set():
            try:
                rpc = await self.members()
            except SerfError as exc:
                now = self.clock.monotonic()
                first_failure = first_failure if first_failure is not None else now
                level = logging.WARNING if now - first_failure > 10 else logging.DEBUG
                log.log(level, "serf RPC not reachable yet: %s", exc)
                await self._sleep(backoff.next())
                continue
            backoff.reset()
            first_failure = None
            helpers: list[asyncio.Task[None]] = []
            try:
                if self.tags:  # a restarted serf only knows the tags of its config
                    await rpc.set_tags(self.tags)
                events = await rpc.stream()
                self.rpc = rpc
                self._session_started = self.clock.monotonic()
                self.wake()
                helpers = [
                    asyncio.create_task(self._wake_on(events)),
                    asyncio.create_task(self._ensure_joined(rpc)),
                ]
                await rpc.closed.wait()
                if not self._stop.is_set():
                    log.warning("lost the serf RPC connection; reconnecting")
            except SerfError as exc:
                log.warning("serf RPC session failed: %s", exc)
            finally:
                self.rpc = None
                for helper in helpers:
                    helper.cancel()
                await rpc.close()

    async def _wake_on(self, subscription: Any) -> None:
        with contextlib.suppress(SerfError):
            async for _ in subscription:
                self.wake()

    async def _ensure_joined(self, rpc: SerfSession) -> None:
        """Join SERF_JOIN_IP until this node sees another member, with backoff."""
        if not self.join:
            return
        backoff = Backoff(initial=0.5, maximum=30.0)
        while not self._stop.is_set():
            try:
                others = [
                    m
                    for m in await rpc.members()
                    if m.get("Name") != self.node_name and m.get("Status") == "alive"
                ]
                if others:
                    self.on_join_problem(None)
                    return
                if await rpc.join(self.join):
                    self.on_join_problem(None)
                    log.info("joined the cluster through %s", ", ".join(self.join))
                    return
            except SerfRPCError as exc:
                delay = backoff.next()
                problem = join_problem(one_line(exc.message))
                self.on_join_problem(problem)
                log.warning(
                    "cannot join %s yet (%s); retrying in %.1fs",
                    ", ".join(self.join),
                    problem,
                    delay,
                )
                await self._sleep(delay)
            except SerfError:
                return  # the session ends; a new one will try again

    async def leave(self) -> bool:
        """Leave the cluster through the current session; False when there is none."""
        if self.rpc is None:
            return False
        await self.rpc.leave()
        return True

    # --- the cycles -----------------------------------------------------------------------

    async def reconcile(self) -> None:
        """Run cycles: on a wake-up, on the resync period, and when a grace period ends."""
        deadline: float | None = None
        retry = Backoff(initial=1.0, maximum=RETRY_MAX)
        while not self._stop.is_set():
            timeout = self.resync
            if deadline is not None:
                timeout = min(timeout, deadline - self.clock.time())
            await self.clock.wait(self._wake, timeout)
            # Leading edge: an idle agent acts at once; a burst of changes is batched.
            while (hold := self.pacer.wait(reading=True)) > 0 and not self._stop.is_set():
                await self._sleep(hold)  # again: the fast path may have taken the token
            self._wake.clear()
            rpc = self.rpc
            if rpc is None or self._stop.is_set():
                continue
            self.pacer.take()
            self._deferred.clear()  # serf logs a change after making it: this read has them
            began = self.clock.cpu()  # the agent's own work (this thread), not serf's
            asked, self._hooks_cpu = self._events, 0.0
            try:
                raw = await rpc.members()
            except SerfError as exc:
                log.debug("members failed: %s", exc)
                self.pacer.give_back()
                continue
            try:
                written, deadline = await self.cycle(raw, newer=self._newer(asked))
                self.pacer.spent(self.clock.cpu() - began + self._hooks_cpu, reading=True)
            except OSError as exc:
                self.hooks.failed(exc)
                self.pacer.give_back()
                delay = retry.next()
                deadline = self.clock.time() + delay
                error = f"cannot write {exc.filename or 'the state directory'}: {exc.strerror}"
                if self.health.cycle_failed(self.clock.time(), error):
                    log.error(
                        "%s; DNS keeps serving the last good hosts file; retrying every %.0fs",
                        error,
                        RETRY_MAX,
                    )
                continue
            retry.reset()
            failing = self.health.cycle_ok(self.clock.time())
            if failing is not None:
                log.warning(
                    "cycles succeed again after %.0fs of failures",
                    self.clock.time() - failing,
                )
            if not written:
                self.pacer.give_back()

    def fast_path(self, event: MemberEvent) -> None:
        """Apply the member a serf join/leave/failed log line names as soon as pacing allows
        a write (at once when idle); the full read that the same line triggers confirms or
        corrects it.

        Only DNS changes here: the line carries no tags or port, so the membership that
        /members, metrics, services and Ambari see waits for that full read."""
        if self.rpc is None:
            return  # the read at the next session start sees everything
        self._deferred.append(event)
        if self.pacer.wait() <= 0:
            self._apply_deferred()
        elif self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._apply_when_paced())

    async def _apply_when_paced(self) -> None:
        while self._deferred and not self._stop.is_set():
            await self._sleep(self.pacer.wait())
            if self.rpc is None:  # the session ended: its successor's first read sees all
                self._deferred.clear()
            elif self.pacer.wait() <= 0:
                self._apply_deferred()

    def _apply_deferred(self) -> None:
        events, self._deferred = self._deferred, []
        began = self.clock.cpu()
        cycle: Cycle | None = None
        for event in events:
            applied = self.reconciler.apply_event(event, self.clock.time())
            if applied is None:
                continue
            cycle = applied
            self._events += 1
            self._applied.append((self._events, event))
            for problem in applied.new_problems:  # once: the full read will not repeat them
                log.warning("%s", problem)
        if cycle is None:
            return
        self.pacer.take()
        try:
            written = self.hosts.write(cycle.hosts_text)
        except OSError as exc:  # the full cycle that follows reports it (health, /health)
            log.debug("fast path could not write: %s", exc)
            written = False
        if not written:
            self.pacer.give_back()
            return
        self.writes += 1
        self.hosts.reload()
        # What the write costs: the agent's CPU, and dnsmasq reading the file again (the
        # last reload's time stands for this one's, which has only just been asked for).
        self.pacer.spent(self.clock.cpu() - began + self.hosts.reload_seconds)
        lines = ", ".join(f"{e.kind} line for {e.name}" for e in events)
        log.info("%s (serf's %s)", cycle.summary(True), lines)

    def _write_more(self, cycle: Cycle) -> bool:
        began = self.clock.cpu()  # the thread the hooks run in
        try:
            return self.hooks.write_more(cycle)
        finally:
            self._hooks_cpu = self.clock.cpu() - began

    def _settling(self, raw: list[dict[str, Any]]) -> bool:
        alone = all(m.get("Name") == self.node_name for m in raw)
        return (
            alone
            and served_entries(self.hosts.text) > 1
            and self.clock.monotonic() - self._session_started < SETTLE_HOLD
        )

    def _newer(self, asked: int) -> list[MemberEvent]:
        """The fast path's changes applied after a members read was asked for; the ones
        before it are in Serf's reply (serf logs a change after making it)."""
        self._applied = [(n, event) for n, event in self._applied if n > asked]
        return [event for _, event in self._applied]

    async def cycle(
        self, raw: list[dict[str, Any]], newer: Sequence[MemberEvent] = ()
    ) -> tuple[bool, float | None]:
        """One cycle from a members reply: (hosts written, when the next grace runs out).
        ``newer``: log-line changes the reply may predate, applied again on top of it.

        Raises OSError when the state directory cannot be written.
        """
        if self._settling(raw):
            log.debug("serf knows only this node yet; keeping the last hosts file")
            self.hooks.held()
            return False, self.clock.time() + 1.0
        started = time.perf_counter()
        cycle = self.reconciler.step(raw, self.clock.time())
        problems = cycle.new_problems
        for event in newer:
            again = self.reconciler.apply_event(event, self.clock.time())
            if again is not None:
                cycle = again
                problems += again.new_problems
        self.pacer.size(cycle.members_count)
        for problem in problems:
            log.warning("%s", problem)
        if self.on_membership is not None:
            self.on_membership(cycle.membership)
        written = self.hosts.write(cycle.hosts_text)
        try:
            # What derives from the whole membership costs O(members): off the event loop,
            # so that log lines keep being served by the fast path meanwhile.
            written = await self.offload(self._write_more, cycle) or written
        finally:
            # A hosts file written must be reloaded even when writing the rest failed: the
            # next cycle sees it unchanged and would not reload it.
            if written:
                self.writes += 1
                self.hosts.reload()
        self.failures.write(dump_failures(self.reconciler.remembered))
        self.hooks.done(cycle, written, time.perf_counter() - started)
        log.log(logging.INFO if written else logging.DEBUG, "%s", cycle.summary(written))
        return written, cycle.next_deadline
