"""The daemon loop driven through its seams: virtual clock, fake serf, fake files. No patching."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import functools
import itertools
import json
import logging
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any

import pytest

from cloudagent.daemon.loop import SETTLE_HOLD, MembershipLoop
from cloudagent.daemon.status import Status, judge_status
from cloudagent.daemon.supervise import ChildFatalError
from cloudagent.daemon.tasks import TaskSupervisor
from cloudagent.pacing import Pacer
from cloudagent.reconcile import FailedMember, MemberEvent, Reconciler
from tests.unit.fake_daemon import FakeClock, FakeFile, FakeSerf, member, settle

Run = Callable[[], Coroutine[Any, Any, None]]


class Rig:
    def __init__(self, *, grace: float = 60.0, hosts: str | None = None, join: bool = False,
                 remembered: dict[str, FailedMember] | None = None) -> None:  # fmt: skip
        self.clock = FakeClock()
        self.serf = FakeSerf(self.clock)
        self.serf.members = [member("a", 1)]
        self.hosts = FakeFile(hosts)
        self.failures = FakeFile()
        self.health = Status(pid=1, started=self.clock.now)
        self.loop = MembershipLoop(
            node_name="a",
            join=["10.0.0.9:7946"] if join else [],
            reconciler=Reconciler("c.internal", grace, remembered=remembered),
            hosts=self.hosts,
            failures=self.failures,
            members=self.serf.connect,
            clock=self.clock,
            health=self.health,
            pacer=Pacer(burst=2, refill=1.0, clock=self.clock.monotonic),
        )

    def served(self) -> str:
        return self.hosts.text or ""


@contextlib.asynccontextmanager
async def running(**kwargs: Any) -> AsyncIterator[Rig]:
    """A rig whose session and reconcile loops run until the block ends."""
    rig = Rig(**kwargs)
    tasks = [
        asyncio.create_task(rig.loop.sessions()),
        asyncio.create_task(rig.loop.reconcile()),
    ]
    await rig.clock.advance(0)
    try:
        yield rig
    finally:
        rig.loop.stop()
        for task in tasks:
            task.cancel()
        results = await asyncio.gather(*tasks, return_exceptions=True)
        assert all(isinstance(r, asyncio.CancelledError | type(None)) for r in results), results


def in_loop(test: Callable[..., Coroutine[Any, Any, None]]) -> Callable[..., None]:
    """Run an async test body in a fresh event loop (pytest has no asyncio plugin here)."""

    @functools.wraps(test)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        asyncio.run(test(*args, **kwargs))

    return wrapper


@in_loop
async def test_members_become_hosts_and_a_failed_one_is_served_for_its_grace() -> None:
    async with running(grace=60.0) as rig:
        assert "10.0.0.1 a.c.internal a" in rig.served()
        rig.serf.members.append(member("b", 2))
        rig.loop.wake()
        await rig.clock.advance(0)
        assert "b.c.internal" in rig.served()

        await rig.clock.advance(5.0)  # the pacer refills
        failed_at = rig.clock.now
        rig.serf.members[1] = member("b", 2, "failed")
        rig.loop.wake()
        await rig.clock.advance(0)
        assert "b.c.internal" in rig.served()  # in grace
        saved = json.loads(rig.failures.text or "{}")
        assert saved["b"]["since"] == failed_at and saved["b"]["address"] == "10.0.0.2"

        await rig.clock.advance(59.0)
        assert "b.c.internal" in rig.served()
        await rig.clock.advance(1.5)  # the grace deadline wakes the loop: no resync needed
        assert "b.c.internal" not in rig.served()
        del rig.serf.members[1]  # serf reaps it: nothing left to remember
        rig.loop.wake()
        await rig.clock.advance(1.0)
        assert json.loads(rig.failures.text or "{}") == {}


@in_loop
async def test_a_restarted_agent_serves_a_remembered_failed_member_until_its_grace_ends() -> None:
    clock_start = FakeClock().now
    remembered = {"b": FailedMember(clock_start - 30.0, "10.0.0.2", 7946, (("role", "agent"),))}
    async with running(grace=60.0, remembered=remembered) as rig:
        rig.serf.members = [member("a", 1), member("c", 3)]  # the new serf never heard of b
        rig.loop.wake()
        await rig.clock.advance(0)
        assert "10.0.0.2 b.c.internal b" in rig.served()
        await rig.clock.advance(31.0)
        assert "b.c.internal" not in rig.served()

        # Serf's own word wins over the memory: b alive again elsewhere is served as serf says.
        async with running(grace=60.0, remembered=remembered) as rig2:
            rig2.serf.members = [member("a", 1), member("b", 7)]
            rig2.loop.wake()
            await rig2.clock.advance(0)
            assert "10.0.0.7 b.c.internal b" in rig2.served() and "10.0.0.2" not in rig2.served()


@in_loop
async def test_settle_hold_keeps_the_last_file_while_a_new_serf_knows_only_itself() -> None:
    last_good = "10.0.0.1 a.c.internal a\n10.0.0.2 b.c.internal b\n10.0.0.3 c.c.internal c\n"
    async with running(hosts=last_good) as rig:
        await rig.clock.advance(SETTLE_HOLD - 2)
        assert rig.served() == last_good and rig.hosts.writes == []
        await rig.clock.advance(3)
        assert rig.hosts.writes and "b.c.internal" not in rig.served()


@in_loop
async def test_a_full_disk_keeps_the_last_file_reports_and_catches_up_by_itself(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with running() as rig:
        rig.hosts.error = OSError(errno.ENOSPC, "No space left on device", "/state/dns/hosts")
        rig.failures.error = rig.hosts.error
        rig.serf.members.append(member("b", 2))
        rig.loop.wake()
        with caplog.at_level(logging.WARNING):
            await rig.clock.advance(40)
        assert "b.c.internal" not in rig.served()
        errors = [r for r in caplog.records if "No space left" in r.getMessage()]
        assert len(errors) == 1  # reported once per streak, not once per retry
        assert rig.health.cycle_error and rig.health.failing_since is not None
        problem = judge_status(rig.health.document(rig.clock.now), rig.clock.now, lambda pid: True)
        assert problem is not None and "No space left" in problem

        rig.hosts.error = rig.failures.error = None
        repaired = rig.clock.now
        while "b.c.internal" not in rig.served():
            await rig.clock.advance(0.5)
            assert rig.clock.now - repaired < 15.0, "DNS did not catch up within 15 s of the repair"
        assert rig.health.failing_since is None
        assert (
            judge_status(rig.health.document(rig.clock.now), rig.clock.now, lambda pid: True)
            is None
        )


@in_loop
async def test_unchanged_cycles_cost_no_token_and_a_burst_is_batched() -> None:
    async with running() as rig:
        writes = len(rig.hosts.writes)
        for _ in range(20):  # wake-ups with nothing new: no writes, and the pacer stays full
            rig.loop.wake()
            await rig.clock.advance(0)
        assert len(rig.hosts.writes) == writes
        for i in range(2, 12):  # a burst of joins within one second
            rig.serf.members.append(member(f"n{i}", i))
            rig.loop.wake()
            await rig.clock.advance(0.1)
        await rig.clock.advance(3)
        assert all(f"n{i}.c.internal" in rig.served() for i in range(2, 12))
        assert len(rig.hosts.writes) - writes <= 4  # 2 at once (burst), then about one a second


@in_loop
async def test_serf_reconnect_backs_off_and_resumes() -> None:
    async with running() as rig:
        rig.serf.crash()
        await rig.clock.advance(60)
        gaps = [b - a for a, b in zip(rig.serf.connects[1:], rig.serf.connects[2:], strict=False)]
        assert gaps[0] < 0.5 and max(gaps) <= 5.5  # grows from 0.1 s, capped at 5 s (±10 % jitter)
        assert gaps[-1] > gaps[0]
        rig.serf.down = False
        rig.serf.members.append(member("b", 2))
        await rig.clock.advance(6)
        assert "b.c.internal" in rig.served()
        assert rig.serf.tags == {}  # no tags were published, none re-applied


@in_loop
async def test_join_is_retried_with_backoff_and_serf_errors_are_one_line(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING):
        async with running(join=True) as clock_rig:
            clock_rig.serf.join_error = "1 error occurred:\n\n* Failed to join 10.0.0.9: refused\n"
            clock_rig.serf.crash()  # a new session must join again, and now cannot
            await clock_rig.clock.advance(0.2)
            clock_rig.serf.down = False
            await clock_rig.clock.advance(0)
            joins_before = len(clock_rig.serf.joins)
            await clock_rig.clock.advance(20)
        times = [t for t, _ in clock_rig.serf.joins[joins_before - 1 :]]
        gaps = [b - a for a, b in itertools.pairwise(times)]
        assert gaps == sorted(gaps) or max(gaps) <= 33  # growing (jitter aside)
        lines = [r.getMessage() for r in caplog.records if "cannot join" in r.getMessage()]
        assert lines and all("\n" not in line for line in lines)
        assert "Failed to join 10.0.0.9: refused" in lines[0]


@in_loop
async def test_a_failing_task_is_logged_counted_and_restarted_and_fatal_stops(
    caplog: pytest.LogCaptureFixture,
) -> None:
    health = Status(pid=1, started=0.0)
    fatal: list[str] = []
    runs = {"flaky": 0}

    async def flaky() -> None:
        runs["flaky"] += 1
        if runs["flaky"] < 3:
            raise RuntimeError("boom")
        await asyncio.Event().wait()

    async def hopeless() -> None:
        raise ChildFatalError("serf: address already in use")

    from cloudagent.backoff import Backoff  # noqa: PLC0415

    sup = TaskSupervisor(health, fatal.append, backoff=lambda: Backoff(0.001, 0.002))
    with caplog.at_level(logging.ERROR):
        sup.start("flaky", flaky)
        sup.start("hopeless", hopeless)
        for _ in range(100):
            await asyncio.sleep(0.01)
            if runs["flaky"] >= 3:
                break
    assert runs["flaky"] == 3
    assert health.tasks["flaky"].failures == 2 and health.tasks["flaky"].state == "running"
    tracebacks = [r for r in caplog.records if r.exc_info and "flaky" in r.getMessage()]
    assert len(tracebacks) == 1  # the same error twice: one traceback, then one line
    assert fatal == ["serf: address already in use"]
    assert health.tasks["hopeless"].state == "fatal"
    problem = judge_status(health.document(1.0), 1.0, lambda pid: True)
    assert problem is not None and "hopeless" in problem
    await sup.cancel_all()
    await settle()


@in_loop
async def test_tasks_that_end_during_shutdown_are_not_failures(
    caplog: pytest.LogCaptureFixture,
) -> None:
    health = Status(pid=1, started=0.0)
    stop = asyncio.Event()

    async def loop() -> None:
        await stop.wait()

    sup = TaskSupervisor(health, lambda reason: None)
    with caplog.at_level(logging.ERROR):
        sup.start("loop", loop)
        await settle()
        sup.stopping = True  # the agent stops: its loops return
        stop.set()
        await settle()
        await sup.cancel_all()
    assert not caplog.records
    assert health.tasks["loop"].state == "stopped" and health.tasks["loop"].failures == 0


@in_loop
async def test_a_members_reply_older_than_a_log_line_does_not_undo_its_change() -> None:
    async with running(grace=60.0) as rig:
        rig.serf.members.append(member("b", 2))
        rig.loop.wake()
        await rig.clock.advance(5.0)
        assert "10.0.0.2 b.c.internal b" in rig.served()

        rig.serf.hold = asyncio.Event()
        rig.loop.wake()
        await rig.clock.advance(0)  # the read is asked for: serf's reply still lists b alive
        rig.serf.members[1] = member("b", 2, "left")
        rig.loop.fast_path(MemberEvent("leave", "b", "10.0.0.2"))
        assert "b.c.internal" not in rig.served()

        rig.serf.hold.set()  # the older reply arrives after the log line
        await rig.clock.advance(0)
        assert "b.c.internal" not in rig.served()
        rig.serf.hold = None
        rig.loop.wake()
        await rig.clock.advance(5.0)
        assert "b.c.internal" not in rig.served()  # and the next read confirms it


@in_loop
async def test_a_log_line_held_by_the_pacer_is_applied_when_it_allows_without_a_read() -> None:
    async with running(grace=60.0) as rig:
        await rig.clock.advance(5.0)
        reads = rig.serf.members_calls
        for last, name in ((2, "b"), (3, "c"), (4, "d")):
            rig.loop.fast_path(MemberEvent("join", name, f"10.0.0.{last}"))
        served = rig.served()
        assert "b.c.internal" in served and "c.c.internal" in served  # the bucket's two writes
        assert "d.c.internal" not in served  # held: the bucket is empty
        await rig.clock.advance(1.0)
        assert "10.0.0.4 d.c.internal d" in rig.served()
        assert rig.serf.members_calls == reads  # by the fast path, not by a full read
