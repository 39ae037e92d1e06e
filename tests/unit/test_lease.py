"""The lease rules and the lock directory on a local filesystem (two contenders in-process)."""

from __future__ import annotations

import io
import os
import time
from pathlib import Path

from cloudagent.cli import main
from cloudagent.lease import Owner, Timing, find_baton
from cloudagent.lockdir import LockDir


def contender(path: Path, name: str, stale_after: float = 60.0) -> LockDir:
    return LockDir(path, Owner(name, os.getpid(), os.urandom(16).hex()), stale_after)


def test_timing_rejects_a_heartbeat_that_could_make_a_live_holder_stale() -> None:
    assert Timing(heartbeat=10, stale_after=60).problems() == []
    assert len(Timing(heartbeat=0, stale_after=60, grace=-1).problems()) == 2
    assert "2 x --heartbeat" in Timing(heartbeat=30, stale_after=59).problems()[0]


def test_owner_record_tolerates_garbage() -> None:
    assert Owner.from_text("") is None
    assert Owner.from_text('{"host": "h", "pid": 1, "token": "not-hex"}') is None
    assert Owner.from_text("[1, 2]") is None


def test_baton_ignores_foreign_files() -> None:
    assert find_baton(["owner", "notes.txt"]) == "owner"
    assert find_baton(["released." + "ab" * 16]) == "released." + "ab" * 16
    assert find_baton(["reaped.xyz"]) is None


def test_one_holder_then_the_next(tmp_path: Path) -> None:
    a, b = contender(tmp_path / "l", "a"), contender(tmp_path / "l", "b")
    assert a.try_acquire().outcome == "acquired"
    busy = b.try_acquire()
    assert busy.outcome == "busy" and busy.previous == a.owner
    assert a.verify() is None
    a.refresh()
    assert a.release()
    assert not (tmp_path / "l").exists()
    assert b.try_acquire().outcome == "acquired"
    assert os.listdir(tmp_path) == ["l"]  # no probe, no tombstone left


def test_stale_lock_is_taken_over_and_the_old_holder_knows(tmp_path: Path) -> None:
    a = contender(tmp_path / "l", "a", stale_after=0.3)
    b = contender(tmp_path / "l", "b", stale_after=0.3)
    assert a.try_acquire().outcome == "acquired"
    time.sleep(0.4)
    got = b.try_acquire()
    assert got.outcome == "acquired" and got.took_over and got.previous == a.owner
    assert got.age is not None and got.age >= 0.3
    assert a.verify() is not None
    assert not a.release()  # leaves b's lock alone
    assert b.verify() is None


def test_a_heartbeat_keeps_the_lock_fresh(tmp_path: Path) -> None:
    a = contender(tmp_path / "l", "a", stale_after=0.3)
    b = contender(tmp_path / "l", "b", stale_after=0.3)
    a.try_acquire()
    for _ in range(4):
        time.sleep(0.1)
        a.refresh()
        assert b.try_acquire().outcome == "busy"


def test_a_replaced_baton_is_given_back(tmp_path: Path) -> None:
    """A contender judged the old lock stale, but a new holder replaced it before the contender
    took the baton: the contender must hand the live holder's baton back."""
    lock = tmp_path / "l"
    a = contender(lock, "a", stale_after=0.3)
    a.try_acquire()
    old = os.stat(lock / "owner")
    judged = (old.st_dev, old.st_ino, old.st_mtime_ns, a.owner.token)
    a.release()
    b = contender(lock, "b", stale_after=0.3)
    b.try_acquire()
    late = contender(lock, "late", stale_after=0.3)
    assert not late._take_baton("owner", judged, "reaped." + "0" * 32)
    assert b.verify() is None


def test_cli_rejects_bad_timing_and_a_missing_command(tmp_path: Path) -> None:
    err = io.StringIO()
    argv = ["exclusive", "--lock-dir", str(tmp_path / "l"), "--heartbeat", "30"]
    assert main([*argv, "--stale-after", "40"], environ={}, stderr=err) == 2
    assert "--stale-after (40s) must be at least 2 x --heartbeat (30s)" in err.getvalue()
    assert "no command given" in err.getvalue()
    assert not (tmp_path / "l").exists()
