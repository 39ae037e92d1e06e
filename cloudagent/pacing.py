"""How often a burst of membership changes may rewrite the hosts file and reload dnsmasq."""

from __future__ import annotations

import time
from collections.abc import Callable


class Pacer:
    """A token bucket: ``burst`` writes at once, then one per ``refill`` seconds.

    An idle agent acts on the first change at once (the latency that matters); under a storm
    of joins the writes are batched, so a storm costs about ``burst + duration / refill``
    renders and reloads, not one per member.

    >>> now = [0.0]
    >>> p = Pacer(burst=2, refill=1.0, clock=lambda: now[0])
    >>> p.wait(), p.take(), p.take(), p.wait()
    (0.0, None, None, 1.0)
    >>> now[0] = 0.5; p.wait()
    0.5
    >>> p.give_back(); p.wait()
    0.0
    """

    def __init__(
        self, burst: int = 2, refill: float = 1.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.burst = burst
        self.refill = refill
        self.clock = clock
        self.tokens = float(burst)
        self.stamp = clock()

    def _update(self) -> None:
        now = self.clock()
        self.tokens = min(float(self.burst), self.tokens + (now - self.stamp) / self.refill)
        self.stamp = now

    def wait(self) -> float:
        """Seconds until a write may happen (0.0: now)."""
        self._update()
        return 0.0 if self.tokens >= 1.0 else (1.0 - self.tokens) * self.refill

    def take(self) -> None:
        """A cycle is about to run."""
        self._update()
        self.tokens -= 1.0

    def give_back(self) -> None:
        """The cycle wrote nothing: it costs nothing."""
        self.tokens = min(float(self.burst), self.tokens + 1.0)
