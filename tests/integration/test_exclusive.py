"""``cloudagent exclusive`` as real processes on a local directory: contenders, SIGKILLed
holders, stale takeovers, fencing, signals."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cloudagent.lease import EXIT_BUSY, EXIT_LOST, Owner

WORKER = Path(__file__).with_name("exclusive_worker.py")
REPO = Path(__file__).resolve().parents[2]
CLOUDAGENT = [sys.executable, "-m", "cloudagent"]
TIMEOUT = 120  # generous: a loaded machine can take seconds to start an interpreter
KILLS = 12  # holders SIGKILLed during the contender test, each followed by a stale takeover


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO)}


def _exclusive(lock: Path, *args: str, **kwargs: object) -> subprocess.Popen[str]:
    argv = [*CLOUDAGENT, "exclusive", "--lock-dir", str(lock), *args]
    proc: subprocess.Popen[str] = subprocess.Popen(
        argv,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(),
        **kwargs,  # type: ignore[call-overload]
    )
    return proc


def _wait_for(predicate: object, timeout: float = TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return
        time.sleep(0.02)
    raise AssertionError("timed out")


def _gone(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return True
    return state == "Z"


def _parent(pid: int) -> int:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (FileNotFoundError, IndexError, ValueError):
        return 0


def worker_argv(lock: Path, journal: Path, oracle: Path, rounds: int) -> list[str]:
    """A contender: heartbeat 0.1 s, stale after 1.5 s (what each SIGKILL costs)."""
    return [
        sys.executable,
        str(WORKER),
        str(lock),
        str(journal),
        str(oracle),
        str(rounds),
        "0.1",
        "1.5",
    ]


@pytest.mark.timeout(1800)  # ~2 minutes on an idle 2-core machine; much more under load
def test_contenders_never_hold_at_once(tmp_path: Path) -> None:
    """16 processes x ROUNDS holders on one lock, holders SIGKILLed at random: the children's
    flock oracle never finds two children alive at once."""
    if shutil.which("flock") is None:
        pytest.fail("flock (util-linux) is needed by this test's child command")
    procs = int(os.environ.get("CLOUDAGENT_EXCLUSIVE_PROCS", "16"))
    rounds = int(os.environ.get("CLOUDAGENT_EXCLUSIVE_ROUNDS", "200"))
    lock, journal, oracle = tmp_path / "lock", tmp_path / "journal", tmp_path / "oracle"
    logs = [tmp_path / f"worker{i}.err" for i in range(procs)]
    started = time.monotonic()
    workers = [
        subprocess.Popen(
            worker_argv(lock, journal, oracle, rounds),
            stdout=subprocess.PIPE,
            stderr=log.open("w"),
            text=True,
            env=_env(),
        )
        for log in logs
    ]
    worker_pids = {w.pid for w in workers}
    kills, rng = 0, random.Random(12)  # noqa: S311 - test timing, not crypto
    while any(w.poll() is None for w in workers):
        time.sleep(rng.uniform(1.0, 5.0))  # spaced out: every kill costs a stale wait
        if kills >= KILLS:
            continue
        with contextlib.suppress(OSError):
            record = Owner.from_text((lock / "owner").read_text())
            if record and _parent(record.pid) in worker_pids:
                os.kill(record.pid, signal.SIGKILL)
                kills += 1
    elapsed = time.monotonic() - started
    codes: dict[str, int] = {}
    for w in workers:
        out, _ = w.communicate()
        assert w.returncode == 0
        for code, count in json.loads(out).items():
            codes[code] = codes.get(code, 0) + count
    lines = journal.read_text().splitlines()
    overlaps = [line for line in lines if line.startswith("overlap")]
    enters = sum(1 for line in lines if line.startswith("enter"))
    takeovers = sum(log.read_text().count("took over stale lock") for log in logs)
    print(
        f"\n{procs} x {rounds} rounds in {elapsed:.0f}s: {enters} children ran, exit codes "
        f"{codes}, {kills} holders SIGKILLed, {takeovers} stale takeovers, "
        f"{len(overlaps)} overlaps"
    )
    assert overlaps == []
    assert sum(codes.values()) == procs * rounds
    assert set(codes) <= {"0", "-9", str(EXIT_LOST)}, codes
    assert codes.get("0", 0) <= enters
    assert takeovers >= 1 or kills == 0
    # No child outlived its holder: the oracle's flock is free.
    with oracle.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    assert not lock.exists() or codes.get("-9", 0) > 0


def test_child_dies_with_a_sigkilled_holder(tmp_path: Path) -> None:
    lock, pidfile = tmp_path / "lock", tmp_path / "child.pid"
    holder = _exclusive(lock, "--", "sh", "-c", f"echo $$ > {pidfile}; exec sleep 60")
    _wait_for(lambda: pidfile.exists() and pidfile.read_text().strip())
    child = int(pidfile.read_text())
    assert not _gone(child)
    holder.kill()
    holder.wait()
    _wait_for(lambda: _gone(child), timeout=30)


@pytest.mark.parametrize("how", ["removed", "replaced"])
def test_holder_fences_when_the_lock_is_lost(tmp_path: Path, how: str) -> None:
    lock, marks = tmp_path / "lock", tmp_path / "marks"
    script = f'trap "echo term >> {marks}; exit 0" TERM; echo run >> {marks}; '
    script += "while :; do sleep 0.05; done"
    holder = _exclusive(lock, "--heartbeat", "0.1", "--stale-after", "5", "--", "sh", "-c", script)
    _wait_for(marks.exists)
    if how == "removed":
        shutil.rmtree(lock)
    else:
        lock.rename(tmp_path / "elsewhere")
        lock.mkdir()
        (lock / "owner").write_text(Owner("other", 1, "b" * 32).to_text())
    _, err = holder.communicate(timeout=TIMEOUT)
    assert holder.returncode == EXIT_LOST, err
    ours = [line for line in err.splitlines() if line.startswith("cloudagent exclusive:")]
    assert len(ours) == 1 and "lost the lock" in ours[0], err
    assert marks.read_text().split() == ["run", "term"]
    if how == "replaced":
        assert (lock / "owner").exists()  # the other holder's lock is left alone


def test_busy_wait_signals_and_exit_status(tmp_path: Path) -> None:
    lock = tmp_path / "lock"
    first = _exclusive(lock, "--", "sleep", "60")
    _wait_for((lock / "owner").exists)
    busy = _exclusive(lock, "--", "true")
    _, err = busy.communicate(timeout=TIMEOUT)
    assert busy.returncode == EXIT_BUSY
    assert f"pid {first.pid}" in err and "--wait" in err and err.count("\n") == 1
    waiter = _exclusive(lock, "--wait", "--", "sh", "-c", "exit 7")
    time.sleep(0.5)
    assert waiter.poll() is None
    first.send_signal(signal.SIGTERM)  # forwarded: sleep dies of it, and that is our status
    assert first.wait(timeout=TIMEOUT) == 128 + signal.SIGTERM
    _, err = waiter.communicate(timeout=TIMEOUT)
    assert waiter.returncode == 7, err
    assert "waiting" in err
    assert not lock.exists()


def test_stale_lock_of_a_dead_holder_is_taken_over(tmp_path: Path) -> None:
    lock = tmp_path / "lock"
    lock.mkdir()
    (lock / "owner").write_text(Owner("gone-host", 4242, "c" * 32).to_text())
    patient = _exclusive(lock, "--heartbeat", "10", "--stale-after", "3600", "--", "true")
    _, err = patient.communicate(timeout=TIMEOUT)
    assert patient.returncode == EXIT_BUSY, err  # not stale for a contender that waits an hour
    time.sleep(0.6)
    again = _exclusive(lock, "--heartbeat", "0.1", "--stale-after", "0.5", "--", "true")
    _, err = again.communicate(timeout=TIMEOUT)
    assert again.returncode == 0, err
    assert "took over stale lock" in err and "gone-host pid 4242" in err
    assert not lock.exists()
    assert not list(tmp_path.glob(".lock.*"))  # no tombstone or probe left behind
