"""The dnsmasq we run: when it has loaded the hosts file, and how to make it reload."""

from __future__ import annotations

import logging
import re
import signal
import time
from collections.abc import Callable
from pathlib import Path

from cloudagent.daemon.supervise import Child

log = logging.getLogger("cloudagent.dnsmasq")
_READ = re.compile(r"read (?P<path>\S+) - (?P<count>\d+) (names|addresses)")
_FAILED = re.compile(r"failed to load names from (?P<path>\S+)")
_IN_USE = re.compile(r"failed to create listening socket.*address already in use", re.IGNORECASE)
_NO_USER = re.compile(r"unknown user or group: (?P<user>\S+)")
STABLE_AFTER = 5.0  # a dnsmasq that served this long is restarted at once when it exits


def diagnose_dnsmasq(line: str) -> str | None:
    """The reason dnsmasq can never start as configured, if this output line gives one.

    >>> diagnose_dnsmasq("dnsmasq: unknown user or group: nosuch")
    "no user 'nosuch' on this system; create it or set CLOUDAGENT_DNSMASQ_USER"
    """
    if _IN_USE.search(line):
        return (
            f"{line.removeprefix('dnsmasq: ')}; another program holds the DNS port: stop it, "
            "or set CLOUDAGENT_DNS_LISTEN to a free address"
        )
    if user := _NO_USER.search(line):
        return (
            f"no user {user.group('user')!r} on this system; "
            "create it or set CLOUDAGENT_DNSMASQ_USER"
        )
    return None


def dnsmasq_argv(binary: str, conf_file: Path) -> list[str]:
    """Foreground, configuration from our file only."""
    return [binary, "--keep-in-foreground", f"--conf-file={conf_file}"]


class Dnsmasq:
    """Supervised dnsmasq with reloads that are never lost.

    A SIGHUP sent before dnsmasq has installed its handlers would kill it, so a reload asked
    for before the first "read <hosts>" line is remembered and sent once dnsmasq is ready.
    """

    def __init__(
        self,
        binary: str,
        conf_file: Path,
        hosts_file: Path,
        pid_file: Path | None = None,
        on_reload: Callable[[float], None] | None = None,
    ) -> None:
        self.hosts_file = hosts_file
        self.on_reload = on_reload  # seconds from SIGHUP to the hosts file read (metrics)
        self._hup_at: float | None = None
        self.last_reload = 0.0  # the last SIGHUP's seconds until the hosts file was read
        self.child = Child(
            "dnsmasq",
            dnsmasq_argv(binary, conf_file),
            on_line=self._on_line,
            on_start=self._on_start,
            pid_file=pid_file,
            stable_after=STABLE_AFTER,
            diagnose=diagnose_dnsmasq,
        )
        self._ready = False
        self._reload_pending = False

    def _on_start(self) -> None:
        self._ready = False
        self._reload_pending = False

    def _on_line(self, line: str) -> None:
        text = line.split(": ", 1)[-1] if line.startswith("dnsmasq[") else line
        read = _READ.search(text)
        if read and read.group("path") == str(self.hosts_file):
            if self._hup_at is not None:
                self.last_reload = time.monotonic() - self._hup_at
                if self.on_reload is not None:
                    self.on_reload(self.last_reload)
            self._hup_at = None
            log.debug("%s", text)
            if not self._ready:
                self._ready = True
                if self._reload_pending:
                    self._reload_pending = False
                    self.child.signal(signal.SIGHUP)
            return
        if _FAILED.search(text):
            log.error("%s (is the state directory readable by dnsmasq's user?)", text)
            return
        if diagnose_dnsmasq(line):
            log.error("%s", text)
            return
        if text.startswith(("compile time options", "warning: no upstream servers configured")):
            log.debug("%s", text)
            return
        log.info("%s", text)

    def reload(self) -> None:
        """Make dnsmasq re-read the hosts file now, or as soon as it is ready."""
        if self._ready and self.child.signal(signal.SIGHUP):
            self._hup_at = time.monotonic()
            return
        self._reload_pending = True

    async def run(self) -> None:
        """Keep dnsmasq running until stop()."""
        await self.child.run()

    def stop_restarting(self) -> None:
        """Let dnsmasq exit without a restart (shutdown)."""
        self.child.stop_restarting()

    async def wait_exit(self, timeout: float) -> bool:
        """Wait for dnsmasq to exit; True if it did."""
        return await self.child.wait_exit(timeout)

    async def stop(self, timeout: float = 10.0) -> None:
        """Stop dnsmasq."""
        await self.child.stop(timeout)
