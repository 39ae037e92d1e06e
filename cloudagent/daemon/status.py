"""What the daemon knows about its own health, and the status file ``cloudagent health`` reads.

The status lives in ``health.json`` in the state directory, rewritten every second in place
(``pwrite`` at offset 0) into space reserved when the agent starts (``posix_fallocate``), so a
full state directory, which is one of the faults it must report, cannot silence it. It is not
renamed into place like the other files; a reader that catches a write half-way sees invalid
JSON and reads again. A status that stops being refreshed means the agent is stopped or stuck.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

SIZE: Final = 16384  # reserved bytes: ample for the status of every task
STALE_STATUS: Final = 10.0  # seconds without a refresh: the agent is stopped or stuck
STALE_CYCLE: Final = 30.0  # seconds without a successful cycle: DNS is no longer kept current


@dataclass
class TaskStatus:
    """One supervised task."""

    state: str = "running"  # running | restarting | stopped | fatal
    failures: int = 0
    last_error: str | None = None


@dataclass
class Status:
    """The daemon's own view of itself; mutated by the loop, read by the status writer."""

    pid: int
    started: float
    last_cycle_ok: float | None = None
    cycle_error: str | None = None
    failing_since: float | None = None
    cycles: int = 0
    cycle_failures: int = 0
    fatal: str | None = None
    tasks: dict[str, TaskStatus] = field(default_factory=dict)

    def cycle_ok(self, now: float) -> float | None:
        """A cycle succeeded; returns since when cycles had been failing, if they had."""
        failing, self.failing_since = self.failing_since, None
        self.last_cycle_ok = now
        self.cycle_error = None
        self.cycles += 1
        return failing

    def cycle_failed(self, now: float, error: str) -> bool:
        """A cycle failed; True when this starts a streak of failures (worth a warning)."""
        first = self.failing_since is None or error != self.cycle_error
        if self.failing_since is None:
            self.failing_since = now
        self.cycle_error = error
        self.cycle_failures += 1
        return first

    def task(self, name: str) -> TaskStatus:
        """The record of task ``name`` (created on first use)."""
        return self.tasks.setdefault(name, TaskStatus())

    def document(self, now: float) -> dict[str, Any]:
        """The status as a JSON-ready mapping."""
        return {
            "pid": self.pid,
            "updated": now,
            "started": self.started,
            "last_cycle_ok": self.last_cycle_ok,
            "cycle_error": self.cycle_error,
            "failing_since": self.failing_since,
            "cycles": self.cycles,
            "cycle_failures": self.cycle_failures,
            "fatal": self.fatal,
            "tasks": {
                name: {"state": t.state, "failures": t.failures, "last_error": t.last_error}
                for name, t in sorted(self.tasks.items())
            },
        }


def judge_status(
    doc: Mapping[str, Any] | None, now: float, alive: Callable[[int], bool]
) -> str | None:
    """Why the daemon is unhealthy according to its status, or None when it is healthy.

    >>> ok = {"pid": 1, "updated": 100.0, "started": 0.0, "last_cycle_ok": 95.0, "tasks": {}}
    >>> judge_status(ok, 101.0, lambda pid: True) is None
    True
    >>> judge_status({**ok, "updated": 50.0}, 101.0, lambda pid: True)
    'the agent has not refreshed its status for 51s (stopped or stuck)'
    >>> late = {**ok, "last_cycle_ok": 10.0, "cycle_error": "disk full"}
    >>> judge_status(late, 101.0, lambda pid: True)
    'no successful cycle for 91s: DNS is not kept current (last error: disk full)'
    """
    if doc is None:
        return "no status from the agent: is 'cloudagent run' running with this state dir?"
    pid = doc.get("pid")
    if not isinstance(pid, int) or not alive(pid):
        return f"the agent (pid {pid}) is not running"
    if doc.get("fatal"):
        return f"the agent is stopping: {doc['fatal']}"
    age = now - float(doc.get("updated") or 0.0)
    if age > STALE_STATUS:
        return f"the agent has not refreshed its status for {age:.0f}s (stopped or stuck)"
    for name, task in sorted((doc.get("tasks") or {}).items()):
        if task.get("state") != "running":
            return (
                f"task {name} is {task.get('state')} after {task.get('failures')} failure(s): "
                f"{task.get('last_error')}"
            )
    last_ok = doc.get("last_cycle_ok")
    since = float(last_ok if last_ok is not None else doc.get("started") or 0.0)
    if now - since > STALE_CYCLE:
        error = doc.get("cycle_error")
        detail = f" (last error: {error})" if error else ""
        return f"no successful cycle for {now - since:.0f}s: DNS is not kept current{detail}"
    return None


class StatusFile:
    """``health.json``, opened once with its space reserved, rewritten in place."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def open(self) -> None:
        """Create the file and reserve its space (at start, while the disk has room)."""
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            os.posix_fallocate(fd, 0, SIZE)
        except OSError:
            os.close(fd)
            raise
        self._fd = fd

    def write(self, doc: Mapping[str, Any]) -> None:
        """Replace the status (padded to the reserved size, so no new block is needed)."""
        if self._fd is None:
            return
        data = json.dumps(doc, sort_keys=True).encode()
        if len(data) >= SIZE:
            data = json.dumps({**doc, "tasks": {}, "truncated": True}).encode()[: SIZE - 1]
        os.pwrite(self._fd, data + b" " * (SIZE - 1 - len(data)) + b"\n", 0)

    def close(self, final: Mapping[str, Any] | None = None) -> None:
        """Write a last status (e.g. stopped) and close."""
        if self._fd is None:
            return
        if final is not None:
            with contextlib.suppress(OSError):
                self.write(final)
        os.close(self._fd)
        self._fd = None


def read_status(path: Path, attempts: int = 3) -> dict[str, Any] | None:
    """The status written by the agent, or None when there is none (or it stays unreadable)."""
    for _ in range(attempts):
        try:
            text = path.read_bytes().decode("utf-8", "replace").strip()
        except OSError:
            return None
        try:
            doc = json.loads(text)
        except ValueError:
            continue  # caught mid-write: read again
        return doc if isinstance(doc, dict) else None
    return None


def pid_alive(pid: int) -> bool:
    """True when a process with this pid exists (and is not a zombie)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"
