"""Adaptive pacing: writes stretch apart while changes keep coming, within the latency budget,
and the first change after a quiet spell is acted on at once."""

import pytest

from cloudagent.pacing import MAX_REFILL, READ_SHARE, Pacer


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def simulate(pacer: Pacer, clock: Clock, changes: list[float], until: float) -> list[float]:
    """The agent's loop in 10 ms steps: a change marks work pending; pending work is written
    as soon as the pacer allows. Returns the write times."""
    writes: list[float] = []
    pending_since: float | None = None
    queue = sorted(changes)
    step = 0
    while clock.now < until:
        while queue and queue[0] <= clock.now:
            queue.pop(0)
            pending_since = pending_since if pending_since is not None else clock.now
        if pending_since is not None and pacer.wait() == 0.0:
            pacer.take()
            writes.append(clock.now)
            pending_since = None
        step += 1
        clock.now = step * 0.01
    return writes


def storm(duration: float, every: float = 0.1) -> list[float]:
    return [k * every for k in range(int(duration / every))]


def test_a_long_storm_costs_far_fewer_writes_than_a_fixed_rate() -> None:
    fixed_clock, adaptive_clock = Clock(), Clock()
    fixed = simulate(Pacer(clock=fixed_clock, max_refill=1.0), fixed_clock, storm(27.0), until=35.0)
    adaptive = simulate(Pacer(clock=adaptive_clock), adaptive_clock, storm(27.0), until=35.0)
    assert len(fixed) >= 27
    assert len(adaptive) <= 2 + 27 / MAX_REFILL + 1
    assert len(adaptive) < 0.7 * len(fixed)


def test_no_change_waits_longer_than_the_budget() -> None:
    clock = Clock()
    changes = storm(20.0, every=0.37)
    writes = simulate(Pacer(clock=clock), clock, changes, until=25.0)
    for change in changes:
        first_write_after = min(w for w in writes if w >= change)
        assert first_write_after - change <= MAX_REFILL + 0.02  # one 10 ms step of slack


def test_quiet_resets_the_pace_and_the_next_change_is_written_at_once() -> None:
    clock = Clock()
    pacer = Pacer(clock=clock)
    simulate(pacer, clock, storm(10.0), until=10.0)
    assert pacer.refill > 1.0
    clock.now = 14.0  # quiet for more than 3 s
    assert pacer.wait() == 0.0
    assert pacer.refill == 1.0
    pacer.take()
    clock.now = 14.01
    assert pacer.wait() == 0.0  # the burst is back too


def test_a_cycle_that_wrote_nothing_does_not_stretch_the_pace() -> None:
    clock = Clock()
    pacer = Pacer(clock=clock)
    pacer.take()
    pacer.take()
    clock.now = 0.1
    assert pacer.wait() > 0.0  # the bucket is empty: this change is held
    clock.now = 1.0
    pacer.take()
    stretched = pacer.refill
    pacer.give_back()
    assert stretched > 1.0
    assert pacer.refill == 1.0


def test_changes_within_the_budget_are_written_one_by_one_however_large_the_cluster() -> None:
    clock = Clock()
    pacer = Pacer(clock=clock)
    pacer.size(10_000)  # ten writes a second
    changes = storm(30.0, every=0.1)
    writes = simulate(pacer, clock, changes, until=31.0)
    assert len(writes) == len(changes)
    assert pacer.refill == 0.1


def test_the_same_rate_is_a_storm_in_a_small_cluster() -> None:
    clock = Clock()
    pacer = Pacer(clock=clock)
    pacer.size(100)
    changes = storm(4.0, every=0.08)  # N/2 joins in 4 s
    writes = simulate(pacer, clock, changes, until=8.0)
    assert len(writes) <= 10
    assert max(min(w for w in writes if w >= c) - c for c in changes) <= MAX_REFILL + 0.02


def test_an_expensive_write_holds_the_next_for_three_times_its_cost() -> None:
    clock = Clock()
    pacer = Pacer(clock=clock)
    pacer.size(50_000)
    pacer.take()
    pacer.spent(0.05)
    assert pacer.wait() == pytest.approx(0.15)
    clock.now = 0.151
    assert pacer.wait() == 0.0


def test_an_expensive_read_does_not_hold_the_fast_path() -> None:
    clock = Clock()
    pacer = Pacer(clock=clock)
    pacer.take()
    pacer.spent(0.3, reading=True)
    assert pacer.wait() == 0.0  # a one-member write from a log line
    assert pacer.wait(reading=True) == pytest.approx(0.3 * (1 / READ_SHARE - 1))  # next read
