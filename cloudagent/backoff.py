"""Exponential backoff with jitter, shared by every retry loop in the daemon."""

from __future__ import annotations

import math
import random


class Backoff:
    """Delays that grow by ``factor`` from ``initial`` up to ``maximum``.

    >>> b = Backoff(initial=1.0, maximum=4.0, jitter=0.0)
    >>> [b.next() for _ in range(4)]
    [1.0, 2.0, 4.0, 4.0]
    >>> b.reset(); b.next()
    1.0

    The exponent stops growing once the maximum is reached, so a retry loop can run forever
    (an unreachable serf for days) without the power overflowing:

    >>> b = Backoff(initial=0.1, maximum=5.0, jitter=0.0)
    >>> [b.next() for _ in range(5000)][-1]
    5.0
    """

    def __init__(
        self,
        initial: float = 0.5,
        maximum: float = 30.0,
        factor: float = 2.0,
        jitter: float = 0.1,
    ) -> None:
        self.initial = initial
        self.maximum = maximum
        self.factor = factor
        self.jitter = jitter
        self.attempts = 0
        # The first exponent whose delay reaches the maximum; beyond it the power only grows.
        self._cap = _exponent_cap(initial, maximum, factor)

    def next(self) -> float:
        """Return the next delay in seconds and count the attempt."""
        delay = min(self.maximum, self.initial * self.factor ** min(self.attempts, self._cap))
        self.attempts += 1
        if self.jitter:
            # Spread retries of many nodes that failed together (a seed restart) apart in time.
            delay *= 1.0 + random.uniform(-self.jitter, self.jitter)  # noqa: S311 - not crypto
        return delay

    def reset(self) -> None:
        """Start again from the initial delay (after a success)."""
        self.attempts = 0


def _exponent_cap(initial: float, maximum: float, factor: float) -> int:
    """The smallest exponent whose delay reaches ``maximum`` (or the last finite one)."""
    cap = 0
    if factor <= 1.0 or initial <= 0.0:
        return cap
    while initial * factor**cap < maximum:
        try:
            if math.isinf(initial * factor ** (cap + 1)):
                break
        except OverflowError:
            break
        cap += 1
    return cap
