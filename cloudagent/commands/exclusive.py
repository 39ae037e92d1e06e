"""``cloudagent exclusive``: run a command while holding a lock directory on shared storage."""

from __future__ import annotations

import argparse
import contextlib
import os
import select
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import FrameType
from typing import Any, TextIO

from cloudagent import deathsig
from cloudagent.backoff import Backoff
from cloudagent.errors import CloudagentError, UsageError
from cloudagent.lease import (
    EXIT_BUSY,
    EXIT_LOST,
    FORWARDED_SIGNALS,
    Owner,
    Timing,
    exit_status,
    new_token,
)
from cloudagent.lockdir import Attempt, LockDir

TRAMPOLINE = Path(deathsig.__file__)


def register(sub: Any) -> None:
    """Add ``exclusive``."""
    cmd = sub.add_parser(
        "exclusive",
        help="run a command while holding a lock directory (one instance cluster-wide)",
        description="Hold DIR (created with an atomic mkdir) while CMD runs; take over a lock "
        "whose heartbeat is older than --stale-after by the filesystem's own clock; stop CMD "
        "(SIGTERM, then SIGKILL after --grace) and exit 74 when the lock is lost. CMD dies "
        "with this process, even on SIGKILL. Exit status: CMD's, 75 when busy without --wait, "
        "74 when the lock was lost.",
    )
    cmd.add_argument("--lock-dir", type=Path, required=True, metavar="DIR")
    cmd.add_argument("--stale-after", type=float, default=60.0, metavar="S")
    cmd.add_argument("--heartbeat", type=float, default=10.0, metavar="S")
    cmd.add_argument("--grace", type=float, default=10.0, metavar="S")
    cmd.add_argument("--wait", action="store_true", help="wait (with backoff) while busy")
    cmd.add_argument("command", nargs=argparse.REMAINDER, metavar="-- CMD ARGS...")
    cmd.set_defaults(handler=_exclusive)


def _say(text: str) -> None:
    print(f"cloudagent exclusive: {text}", file=sys.stderr, flush=True)


class _Signals:
    """Signal handlers that only record, or forward to the child once it runs."""

    def __init__(self) -> None:
        self.received: int | None = None
        self.child: subprocess.Popen[bytes] | None = None
        for sig in FORWARDED_SIGNALS:
            signal.signal(sig, self._handle)

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.child is not None and self.child.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.child.pid, signum)
        else:
            self.received = signum


def _command(args: argparse.Namespace) -> list[str]:
    command = list(args.command)
    if command and command[0] == "--":
        command = command[1:]
    return command


def _exclusive(args: argparse.Namespace, env: Mapping[str, str], out: TextIO) -> int:
    timing = Timing(heartbeat=args.heartbeat, stale_after=args.stale_after, grace=args.grace)
    problems = timing.problems()
    command = _command(args)
    if not command:
        problems.append("no command given: cloudagent exclusive --lock-dir DIR -- CMD ARGS...")
    if problems:
        raise UsageError("; ".join(problems))
    owner = Owner(socket.gethostname(), os.getpid(), new_token(os.urandom(16)))
    lock = LockDir(args.lock_dir, owner, timing.stale_after)
    signals = _Signals()
    child, go = _prepare(command)
    code = _acquire(lock, timing, args.wait, signals)
    if code is not None or signals.received is not None:
        os.close(go)  # the prepared child exits without running the command
        child.wait()
        lock.release()
        return code if code is not None else 128 + (signals.received or 0)
    try:
        return _hold(lock, timing, child, go, signals)
    finally:
        lock.release()


def _prepare(command: Sequence[str]) -> tuple[subprocess.Popen[bytes], int]:
    """Start the child up to the point of exec; it runs ``command`` once we write to ``go``."""
    ready, go = os.pipe()
    argv = [sys.executable, "-I", "-S", str(TRAMPOLINE), str(os.getpid()), str(ready), *command]
    # Own process group: a terminal's ^C reaches us once and we forward it; fencing can stop
    # the child's own children too.
    try:
        child = subprocess.Popen(argv, process_group=0, pass_fds=(ready,))
    except OSError as exc:
        os.close(go)
        raise CloudagentError(f"cannot start {sys.executable}: {exc.strerror}") from None
    finally:
        os.close(ready)
    return child, go


def _acquire(lock: LockDir, timing: Timing, wait: bool, signals: _Signals) -> int | None:
    """None once the lock is ours; else the exit status (busy, or a signal while waiting)."""
    backoff = Backoff(initial=0.02, maximum=max(0.02, min(2.0, timing.heartbeat)), jitter=0.3)
    told = False
    while True:
        attempt = lock.try_acquire()
        if attempt.outcome == "acquired":
            if attempt.took_over:
                _say(f"took over stale lock {lock.path}: {_holder(attempt)}")
            return None
        if attempt.outcome == "busy":
            if not wait:
                _say(f"{lock.path} is held by {_holder(attempt)}; exiting (--wait waits)")
                return EXIT_BUSY
            if not told:
                _say(f"{lock.path} is held by {_holder(attempt)}; waiting")
                told = True
            time.sleep(backoff.next())
        if signals.received is not None:
            return 128 + signals.received


def _holder(attempt: Attempt) -> str:
    who = (
        attempt.previous.describe() if attempt.previous else "a holder without an owner record yet"
    )
    age = f", last heartbeat {attempt.age:.1f}s ago" if attempt.age is not None else ""
    return who + age


def _hold(
    lock: LockDir, timing: Timing, child: subprocess.Popen[bytes], go: int, signals: _Signals
) -> int:
    """Let the child run, heartbeat, fence; the child's exit status (or EXIT_LOST)."""
    signals.child = child
    try:
        os.write(go, b"x")
    except BrokenPipeError:
        pass  # the child is already gone; its status says why
    finally:
        os.close(go)
    # A pidfd becomes readable the moment the child exits (Popen.wait(timeout) would poll).
    exited = select.poll()
    pidfd = os.pidfd_open(child.pid)
    exited.register(pidfd, select.POLLIN)
    last_ok = time.monotonic()
    while True:
        if exited.poll(timing.heartbeat * 1000):
            os.close(pidfd)
            returncode = child.wait()
            break
        try:
            lost = lock.verify()
            if lost is None:
                lock.refresh()
                last_ok = time.monotonic()
        except OSError as exc:
            lost = None
            _say(f"heartbeat on {lock.path} failed ({exc.strerror or exc}); retrying")
        if lost is None and time.monotonic() - last_ok > timing.self_fence_after():
            lost = f"no successful heartbeat for {time.monotonic() - last_ok:.1f}s"
        if lost is not None:
            _say(f"lost the lock: {lost}; stopping the child")
            os.close(pidfd)
            _stop_group(child, timing.grace)
            return EXIT_LOST
    # Whatever the child left behind in its group must not outlive the lock.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(child.pid, signal.SIGKILL)
    return exit_status(returncode)


def _stop_group(child: subprocess.Popen[bytes], grace: float) -> None:
    """SIGTERM the child's process group, SIGKILL it after ``grace`` seconds."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(child.pid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        child.wait(timeout=grace)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(child.pid, signal.SIGKILL)
    child.wait()
