"""How often membership changes may rewrite the hosts file and reload dnsmasq."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Final

# A change must be resolvable at most 2 s after Serf knows it (docs/benchmarks.md). The
# stretched refill period is how long the last change of a storm can wait for its write; keep
# it below that budget with room for the cycle itself.
MAX_REFILL: Final = 1.8

# Independent changes (a machine fails, is replaced, restarts) come at a rate that grows with
# the number of machines, so a fixed number of writes per second would make every change wait
# longer the larger the cluster. The budget grows by one write per second per this many
# members; what comes faster than the budget is a storm, and is batched.
MEMBERS_PER_WRITE: Final = 1000

# Writes may take at most this share of the agent's CPU: at tens of thousands of members a
# write costs tens of milliseconds, and back-to-back writes would starve everything else.
COST_SHARE: Final = 0.25

# Full reads of the membership (decode Serf's whole list, diff it, refresh what derives from
# it) at most this share: their cost grows with the cluster, and after the fast path has
# served a join or a leave from Serf's log line the read only confirms it.
READ_SHARE: Final = 0.1


class Pacer:
    """A token bucket sized to the cluster, whose period stretches while changes outrun it.

    At up to ``MEMBERS_PER_WRITE`` members: ``burst`` writes at once, then one per ``refill``
    seconds. Each multiple of ``MEMBERS_PER_WRITE`` members multiplies both the bucket and
    its rate (see ``size``). A write that had to wait for a token stretches the period by
    ``growth``, up to ``max_refill``; after ``quiet`` seconds without a write the period and
    the bucket are back to normal. So an idle agent acts on the first change at once (the
    latency that matters), steady churn within the budget is written change by change, and
    a storm costs about ``burst + duration / max_refill`` writes instead of one per change.
    Apart from tokens, a write waits until the agent's CPU spent on writing is at most
    ``cost_share`` of the time, and a full read until reading is at most ``read_share``
    (see ``spent``).

    >>> now = [0.0]
    >>> p = Pacer(burst=2, refill=1.0, clock=lambda: now[0])
    >>> p.wait(), p.take(), p.take(), p.wait()  # the bucket is empty: this change waits
    (0.0, None, None, 1.0)
    >>> now[0] = 1.0; p.wait(), p.take(), p.refill  # ... and its write stretches the period
    (0.0, None, 1.5)
    >>> p.give_back(); p.refill, p.wait()
    (1.0, 0.0)
    """

    def __init__(
        self,
        burst: int = 2,
        refill: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        *,
        max_refill: float = MAX_REFILL,
        growth: float = 1.5,
        quiet: float = 3.0,
        members_per_write: int = MEMBERS_PER_WRITE,
        cost_share: float = COST_SHARE,
        read_share: float = READ_SHARE,
    ) -> None:
        self.burst = burst
        self.base = refill
        self.max_refill = max(refill, max_refill)
        self.growth = growth
        self.quiet = quiet
        self.members_per_write = members_per_write
        self.cost_share = cost_share
        self.read_share = read_share
        self.clock = clock
        self.scale = 1.0
        self.stretch = 1.0
        self.tokens = float(burst)
        self.stamp = clock()
        self.not_before = 0.0
        self.read_not_before = 0.0
        self._held = False
        self._last: float | None = None
        self._undo: tuple[float, float | None, bool] = (1.0, None, False)

    @property
    def capacity(self) -> float:
        """Tokens the bucket holds when full."""
        return self.burst * self.scale

    @property
    def refill(self) -> float:
        """Seconds per token now: the normal period, stretched while a storm lasts."""
        normal = self.base / self.scale
        return max(normal, min(self.max_refill, normal * self.stretch))

    def size(self, members: int) -> None:
        """The cluster has this many members: one more write per second per
        ``members_per_write`` of them, and a bucket as many seconds deep.

        >>> p = Pacer(burst=2, refill=1.0, clock=lambda: 0.0)
        >>> p.size(10_000); p.refill, p.capacity
        (0.1, 20.0)
        >>> p.size(50); p.refill, p.capacity
        (1.0, 2.0)
        """
        self._update()
        self.scale = max(1.0, members / self.members_per_write)
        self.tokens = min(self.capacity, self.tokens)

    def _update(self) -> None:
        now = self.clock()
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) / self.refill)
        self.stamp = now

    def wait(self, *, reading: bool = False) -> float:
        """Seconds until a write may happen (0.0: now); ``reading``: a full read of the
        membership that may write, which also waits for the share of the last full read."""
        self._update()
        now = self.clock()
        floor = max(self.not_before, self.read_not_before) if reading else self.not_before
        if self._last is not None and now - self._last >= self.quiet:
            self.stretch = 1.0  # quiet: the next change is acted on at once
            self.tokens = self.capacity
        if self.tokens < 1.0:
            self._held = True  # changes outran the budget: the write that ends this stretches
            return max((1.0 - self.tokens) * self.refill, floor - now)
        return max(0.0, floor - now)

    def take(self) -> None:
        """A cycle is about to run."""
        self._update()
        now = self.clock()
        self._undo = (self.stretch, self._last, self._held)
        if self._last is not None and now - self._last >= self.quiet:
            self.stretch = 1.0
        elif self._held:
            self.stretch = min(self.stretch * self.growth, self.max_refill * self.scale / self.base)
        self._held = False
        self._last = now
        self.tokens -= 1.0

    def give_back(self) -> None:
        """The cycle wrote nothing: it costs nothing, and does not count as a change."""
        self.tokens = min(self.capacity, self.tokens + 1.0)
        self.stretch, self._last, self._held = self._undo

    def spent(self, seconds: float, *, reading: bool = False) -> None:
        """A write (``reading``: a full read of the membership) took this much of the agent's
        time: the next one waits for its share. Reads are paced apart from writes, so that
        the fast path's cheap write of one member never waits behind an expensive read."""
        share = self.read_share if reading else self.cost_share
        due = self.clock() + seconds * (1.0 / share - 1.0)
        if reading:
            self.read_not_before = due
        else:
            self.not_before = due
