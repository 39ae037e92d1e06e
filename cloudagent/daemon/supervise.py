"""Supervision of a child process: start, forward its output, restart with backoff, stop.

Children run in their own session, so a signal sent to the agent's process group (systemd's
``KillMode=control-group``, ``timeout(1)``, Ctrl-C) reaches only the agent, which then orders
the graceful leave itself. They still die with the agent: ``setpriv --pdeathsig`` (util-linux)
asks the kernel for SIGTERM when the agent goes away and then execs the program, so no Python
code runs between fork and exec (``preexec_fn`` is documented as unsafe with threads).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import shutil
import signal
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Final, Protocol

from cloudagent.backoff import Backoff
from cloudagent.errors import CloudagentError

log = logging.getLogger(__name__)
STABLE_AFTER: Final = 30.0  # a child that ran this long restarts at once, then backs off again
# Consecutive starts that fail for a reason that never fixes itself (missing program, port
# owned by another program, unknown user) before the child is given up as fatal. With the
# restart delays (at once, then 1 s) the agent stops one to three seconds after the first try.
FATAL_AFTER: Final = 3
# Variables never handed to a child: the gossip key, the RPC token, Ambari's passwords, and
# anything else that looks like a credential. The *_FILE variants are paths, not secrets.
_SECRET_NAME: Final = re.compile(r"PASSWORD|PASSWD|SECRET|TOKEN|ENCRYPT|RPC_AUTH|CREDENTIAL|_KEY$")
DRAIN: Final = 0.2  # seconds to read a program's last output after it exited
_CONTROL: Final = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")

Diagnose = Callable[[str], str | None]


class ChildFatalError(CloudagentError):
    """A child cannot run and retrying will not help; the message says what to do."""


class Supervised(Protocol):
    """What the agent needs of a supervised program (tests hand in a fake)."""

    async def run(self) -> None:
        """Keep the program running until stopped; raise ChildFatalError when it never can."""

    def stop_restarting(self) -> None:
        """Let the program exit without a restart."""

    async def wait_exit(self, timeout: float) -> bool:
        """Wait for the program to exit; True if it did."""

    async def stop(self, timeout: float = 10.0) -> None:
        """Stop the program: SIGTERM, then SIGKILL."""


def child_environment(environ: Mapping[str, str]) -> dict[str, str]:
    """``environ`` without secrets: what every child of the agent gets.

    >>> sorted(child_environment({"PATH": "/bin", "SERF_ENCRYPT_KEY": "k", "AMBARI_PASSWORD": "p",
    ...     "SERF_RPC_AUTH": "t", "DEFAULT_PASSWORD_FILE": "/run/s", "MYDOMAIN": "x"}))
    ['DEFAULT_PASSWORD_FILE', 'MYDOMAIN', 'PATH']
    """
    return {
        key: value
        for key, value in environ.items()
        if key.upper().endswith("_FILE") or not _SECRET_NAME.search(key.upper())
    }


def printable(raw: bytes) -> str:
    r"""One output line as safe log text: invalid UTF-8 and control characters escaped.

    >>> printable(b"ok \xff\x1b[31m\r\n")
    'ok \\xff\\x1b[31m'
    """
    text = raw.decode("utf-8", "backslashreplace").rstrip("\r\n")
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text).rstrip()


def _death_wrapper() -> list[str]:
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        log.warning(
            "setpriv (util-linux) not found: children will not be stopped if the agent is "
            "killed; a restarted agent stops leftovers through their pid files"
        )
        return []
    return [setpriv, "--pdeathsig", "TERM", "--"]


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
    """One supervised program. ``run()`` keeps it running until ``stop()``.

    The first exit after a stable run is restarted at once (a killed dnsmasq must not leave
    queries unanswered); repeated exits back off. ``diagnose`` recognises output lines that
    mean the program can never start as configured; after ``fatal_after`` such starts in a
    row ``run()`` raises ChildFatalError (None: never give up).
    """

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        on_line: Callable[[str], None] | None = None,
        on_start: Callable[[], None] | None = None,
        on_exit: Callable[[], None] | None = None,
        backoff: Backoff | None = None,
        pid_file: Path | None = None,
        restart_on_success: bool = True,
        stable_after: float = STABLE_AFTER,
        diagnose: Diagnose | None = None,
        fatal_after: int | None = FATAL_AFTER,
    ) -> None:
        self.name = name
        self.argv = list(argv)
        self.env = child_environment(os.environ if env is None else env)
        self.on_line = on_line or self._log_line
        self.on_start = on_start
        self.on_exit = on_exit
        self.backoff = backoff or Backoff(initial=1.0, maximum=30.0)
        self.pid_file = pid_file
        # False for launchers such as "ambari-server start" that exit 0 once the daemon runs.
        self.restart_on_success = restart_on_success
        self.stable_after = stable_after
        self.diagnose = diagnose
        self.fatal_after = fatal_after
        self.process: asyncio.subprocess.Process | None = None
        self.starts = 0  # successful starts; restarts = starts - 1 (metrics)
        self.exits = 0
        self._reason: str | None = None
        self._fatal_streak = 0
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

    def _note_failure(self, reason: str | None) -> None:
        """Count starts that failed for a reason that never fixes itself; give up at the bound."""
        self._fatal_streak = self._fatal_streak + 1 if reason else 0
        if reason and self.fatal_after is not None and self._fatal_streak >= self.fatal_after:
            raise ChildFatalError(f"{self.name}: {reason} (tried {self._fatal_streak} times)")

    async def run(self) -> None:
        """Start the program and restart it whenever it exits, until stop() is called."""
        await self.reap_stale()
        wrapper = _death_wrapper()
        while not self._stopping:
            started = time.monotonic()
            self._reason = None
            try:
                if shutil.which(self.argv[0], path=self.env.get("PATH")) is None:
                    raise FileNotFoundError(2, "no such program on PATH")
                self.process = await asyncio.create_subprocess_exec(
                    *wrapper,
                    *self.argv,
                    stdin=asyncio.subprocess.DEVNULL,
                    stdout=asyncio.subprocess.PIPE,
                    stderr=asyncio.subprocess.STDOUT,
                    env=self.env,
                    start_new_session=True,
                )
            except OSError as exc:
                log.error("%s: cannot start %s: %s", self.name, self.argv[0], exc)
                self._note_failure(f"cannot start {self.argv[0]}: {exc.strerror or exc}")
            else:
                self._exited.clear()
                self.starts += 1
                if self.pid_file is not None:
                    with contextlib.suppress(OSError):  # a full disk must not stop supervision
                        self.pid_file.write_text(f"{self.process.pid}\n")
                if self.on_start:
                    self.on_start()
                log.debug("%s: started (pid %d)", self.name, self.process.pid)
                code = await self._wait(self.process)
                self.exits += 1
                self._exited.set()
                if self.on_exit:
                    self.on_exit()
                if self._stopping:
                    break
                if code == 0 and not self.restart_on_success:
                    log.info("%s: %s finished", self.name, self.argv[0])
                    break
                log.warning("%s exited with status %s; restarting", self.name, code)
                self._note_failure(self._reason)
            if time.monotonic() - started > self.stable_after:
                self.backoff.reset()
            first = self.backoff.attempts == 0
            delay = self.backoff.next()
            if first:
                continue  # at once: the first exit after a stable run is not a crash loop
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop_requested.wait(), delay)

    async def _wait(self, process: asyncio.subprocess.Process) -> int:
        """Forward the output until the program exits; its exit status.

        ``Process.wait()`` also waits for the output pipe to close, which a descendant that
        outlives the program (``sh -c 'sleep 60 &'``) can hold open for ever; the exit itself
        is what matters here. Usually the pipe closes as the program exits, so this returns
        within milliseconds, which keeps a crashed dnsmasq's restart gap short.
        """
        pump = asyncio.create_task(self._pump(process))
        while process.returncode is None:
            await asyncio.wait({pump}, timeout=0.1)
            if pump.done() and process.returncode is None:
                await asyncio.sleep(0.001)  # EOF came first; the exit status follows at once
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(pump), DRAIN)  # the last lines, if any
        pump.cancel()
        return process.returncode

    async def _pump(self, process: asyncio.subprocess.Process) -> None:
        if process.stdout is None:
            return
        async for raw in process.stdout:
            line = printable(raw)
            if not line:
                continue
            if self.diagnose is not None and (reason := self.diagnose(line)):
                self._reason = reason
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
