"""Supervision of a child process: start, forward its output, restart with backoff, stop."""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import os
import signal
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from cloudagent.backoff import Backoff

log = logging.getLogger(__name__)
STABLE_AFTER = 30.0  # a child that ran this long restarts with the initial delay again
_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    # Runs in the child between fork and exec: if the agent dies (even by SIGKILL) the child
    # gets SIGTERM instead of living on with our ports bound.
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def stale_pid(pid_file: Path, argv: Sequence[str]) -> int | None:
    """The pid recorded in ``pid_file`` if that process still runs exactly ``argv``."""
    try:
        pid = int(pid_file.read_text().strip())
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().rstrip(b"\0").split(b"\0")
    except (OSError, ValueError):
        return None
    if [part.decode(errors="replace") for part in cmdline] != list(argv):
        return None  # the pid was reused by something else
    return pid


def holds_resources(pid: int) -> bool:
    """True while ``pid`` exists and is not a zombie (a zombie holds no socket or file)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


class Child:
    """One supervised program. ``run()`` keeps it running until ``stop()``."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        on_line: Callable[[str], None] | None = None,
        on_start: Callable[[], None] | None = None,
        backoff: Backoff | None = None,
        pid_file: Path | None = None,
        restart_on_success: bool = True,
    ) -> None:
        self.name = name
        self.argv = list(argv)
        self.env = dict(env) if env is not None else None
        self.on_line = on_line or self._log_line
        self.on_start = on_start
        self.backoff = backoff or Backoff(initial=0.5, maximum=30.0)
        self.pid_file = pid_file
        # False for launchers such as "ambari-server start" that exit 0 once the daemon runs.
        self.restart_on_success = restart_on_success
        self.process: asyncio.subprocess.Process | None = None
        self.starts = 0  # successful starts; restarts = starts - 1 (metrics)
        self._stopping = False
        self._stop_requested = asyncio.Event()
        self._exited = asyncio.Event()

    @property
    def pid(self) -> int | None:
        """The running child's pid, if any."""
        return self.process.pid if self.process and self.process.returncode is None else None

    def _log_line(self, line: str) -> None:
        log.info("%s: %s", self.name, line)

    async def reap_stale(self) -> None:
        """Stop a copy of this program left running by a previous agent that died.

        The parent-death signal does not always help: the kernel clears it when the child
        changes credentials, as dnsmasq does when it drops to an unprivileged user.
        """
        pid = stale_pid(self.pid_file, self.argv) if self.pid_file else None
        if pid is None:
            return
        log.warning("%s: stopping pid %d left over from a previous run", self.name, pid)
        for signum in (signal.SIGTERM, signal.SIGKILL):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signum)
            deadline = time.monotonic() + 5.0
            while holds_resources(pid) and time.monotonic() < deadline:  # noqa: ASYNC110 - polling /proc: no event to wait on
                await asyncio.sleep(0.05)
            if not holds_resources(pid):
                return

    async def run(self) -> None:
        """Start the program and restart it whenever it exits, until stop() is called."""
        await self.reap_stale()
        while not self._stopping:
            started = time.monotonic()
            try:
                self.process = await asyncio.create_subprocess_exec(
                    *self.argv,
                    stdin=asyncio.subprocess.DEVNULL,
                    stdout=asyncio.subprocess.PIPE,
                    stderr=asyncio.subprocess.STDOUT,
                    env=self.env,
                    preexec_fn=_die_with_parent,
                )
            except OSError as exc:
                log.error("%s: cannot start %s: %s", self.name, self.argv[0], exc)
            else:
                self._exited.clear()
                self.starts += 1
                if self.pid_file is not None:
                    self.pid_file.write_text(f"{self.process.pid}\n")
                if self.on_start:
                    self.on_start()
                log.debug("%s: started (pid %d)", self.name, self.process.pid)
                await self._pump(self.process)
                code = await self.process.wait()
                self._exited.set()
                if self._stopping:
                    break
                if code == 0 and not self.restart_on_success:
                    log.info("%s: %s finished", self.name, self.argv[0])
                    break
                log.warning("%s exited with status %s; restarting", self.name, code)
            if time.monotonic() - started > STABLE_AFTER:
                self.backoff.reset()
            delay = self.backoff.next()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop_requested.wait(), delay)

    async def _pump(self, process: asyncio.subprocess.Process) -> None:
        if process.stdout is None:
            return
        async for raw in process.stdout:
            line = raw.decode("utf-8", "replace").rstrip()
            if line:
                self.on_line(line)

    def signal(self, signum: int) -> bool:
        """Send a signal to the running child; False when none is running."""
        pid = self.pid
        if pid is None:
            return False
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signum)
            return True
        return False

    def stop_restarting(self) -> None:
        """Let the child exit without being restarted (e.g. before asking it to leave)."""
        self._stopping = True
        self._stop_requested.set()

    async def wait_exit(self, timeout: float) -> bool:
        """Wait for the current child to exit; True if it did within ``timeout``."""
        if self.pid is None:
            return True
        try:
            await asyncio.wait_for(self._exited.wait(), timeout)
        except TimeoutError:
            return False
        return True

    async def stop(self, timeout: float = 10.0) -> None:
        """Stop the child: SIGTERM, then SIGKILL after ``timeout`` seconds."""
        self.stop_restarting()
        if self.signal(signal.SIGTERM) and not await self.wait_exit(timeout):
            log.warning("%s did not exit %.0fs after SIGTERM; killing it", self.name, timeout)
            self.signal(signal.SIGKILL)
            await self.wait_exit(5.0)
