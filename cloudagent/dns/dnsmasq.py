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
        self.child = Child(
            "dnsmasq",
            dnsmasq_argv(binary, conf_file),
            on_line=self._on_line,
            on_start=self._on_start,
            pid_file=pid_file,
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
            if self._hup_at is not None and self.on_reload is not None:
                self.on_reload(time.monotonic() - self._hup_at)
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

    async def stop(self) -> None:
        """Stop dnsmasq."""
        await self.child.stop()
