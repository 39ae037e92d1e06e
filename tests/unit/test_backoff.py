from cloudagent.backoff import Backoff


def test_backoff_grows_caps_and_resets() -> None:
    b = Backoff(initial=0.5, maximum=3.0, jitter=0.0)
    assert [b.next() for _ in range(5)] == [0.5, 1.0, 2.0, 3.0, 3.0]
    b.reset()
    assert b.next() == 0.5


def test_backoff_jitter_stays_within_bounds() -> None:
    b = Backoff(initial=1.0, maximum=1.0, jitter=0.2)
    assert all(0.8 <= b.next() <= 1.2 for _ in range(100))


def test_backoff_never_overflows_after_many_attempts() -> None:
    # factor ** 1024 overflows a float: a loop retrying for days must keep getting the maximum.
    b = Backoff(initial=0.1, maximum=5.0, jitter=0.0)
    delays = [b.next() for _ in range(100_000)]
    assert delays[-1] == 5.0
    assert b.attempts == 100_000
    huge = Backoff(initial=1.0, maximum=float("inf"), factor=10.0, jitter=0.0)
    assert all(d > 0 for d in (huge.next() for _ in range(2000)))
