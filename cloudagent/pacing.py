"""How often a burst of membership changes may rewrite the hosts file and reload dnsmasq."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Final

# A change must be resolvable at most 2 s after Serf knows it (docs/benchmarks.md). The
# refill period is how long the last change of a burst can wait for its write; keep it below
# that budget with room for the cycle itself.
MAX_REFILL: Final = 1.8


class Pacer:
    """A token bucket whose refill period stretches while changes keep coming.

    ``burst`` writes at once, then one per ``refill`` seconds. Each write that follows the
    previous one within the current period stretches the period by ``growth``, up to
    ``max_refill``; after ``quiet`` seconds without a write it is back at ``refill``. So an
    idle agent acts on the first change at once (the latency that matters), a short burst
    costs a write a second, and a long storm costs about ``burst + duration / max_refill``
    writes instead of one per second.

    >>> now = [0.0]
    >>> p = Pacer(burst=2, refill=1.0, clock=lambda: now[0])
    >>> p.wait(), p.take(), p.take(), p.wait()  # the second write came at once: stretched
    (0.0, None, None, 1.5)
    >>> now[0] = 0.5; p.wait()
    1.0
    >>> p.give_back(); p.wait()
    0.0
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
    ) -> None:
        self.burst = burst
        self.base = refill
        self.refill = refill
        self.max_refill = max(refill, max_refill)
        self.growth = growth
        self.quiet = quiet
        self.clock = clock
        self.tokens = float(burst)
        self.stamp = clock()
        self._last: float | None = None
        self._undo: tuple[float, float | None] = (refill, None)

    def _update(self) -> None:
        now = self.clock()
        self.tokens = min(float(self.burst), self.tokens + (now - self.stamp) / self.refill)
        self.stamp = now

    def wait(self) -> float:
        """Seconds until a write may happen (0.0: now)."""
        self._update()
        if self._last is not None and self.clock() - self._last >= self.quiet:
            self.refill = self.base  # quiet: the next change is acted on at once
            self.tokens = float(self.burst)
        return 0.0 if self.tokens >= 1.0 else (1.0 - self.tokens) * self.refill

    def take(self) -> None:
        """A cycle is about to run."""
        self._update()
        now = self.clock()
        self._undo = (self.refill, self._last)
        if self._last is not None:
            gap = now - self._last
            if gap >= self.quiet:
                self.refill = self.base
            elif gap <= self.refill:
                self.refill = min(self.max_refill, self.refill * self.growth)
        self._last = now
        self.tokens -= 1.0

    def give_back(self) -> None:
        """The cycle wrote nothing: it costs nothing, and does not count as a change."""
        self.tokens = min(float(self.burst), self.tokens + 1.0)
        self.refill, self._last = self._undo
