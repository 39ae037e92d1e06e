"""The state directory: where each file lives, and making it usable by dnsmasq's user."""

from __future__ import annotations

import json
import logging
import os
import pwd
import stat
from dataclasses import dataclass
from pathlib import Path

from cloudagent.arrivals import Arrivals
from cloudagent.errors import CloudagentError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StatePaths:
    """Files under CLOUDAGENT_STATE_DIR."""

    root: Path

    @property
    def dns_dir(self) -> Path:
        return self.root / "dns"

    @property
    def hosts(self) -> Path:
        return self.dns_dir / "hosts"

    @property
    def dnsmasq_conf(self) -> Path:
        return self.dns_dir / "dnsmasq.conf"

    @property
    def serf_dir(self) -> Path:
        return self.root / "serf"

    @property
    def serf_config(self) -> Path:
        return self.serf_dir / "config.json"

    @property
    def resolv_conf_orig(self) -> Path:
        return self.root / "resolv.conf.orig"

    @property
    def failures(self) -> Path:
        return self.root / "failed-members.json"

    @property
    def arrivals(self) -> Path:
        return self.root / "arrivals.json"


def prepare_state_dir(paths: StatePaths, dnsmasq_user: str | None) -> None:
    """Create the directories; fail clearly if dnsmasq's user could not read the hosts file.

    dnsmasq drops to an unprivileged user before it reads ``addn-hosts`` and, when it cannot,
    only logs it and answers nothing (serf-dnsmasq.md §6).
    """
    try:
        paths.root.mkdir(parents=True, exist_ok=True)
        paths.dns_dir.mkdir(mode=0o755, exist_ok=True)
        paths.serf_dir.mkdir(mode=0o700, exist_ok=True)
        os.chmod(paths.dns_dir, 0o755)  # noqa: S103 - dnsmasq reads it as an unprivileged user
        os.chmod(paths.serf_dir, 0o700)
    except OSError as exc:
        raise CloudagentError(
            f"cannot prepare the state directory {paths.root}: {exc.strerror or exc}; "
            "set CLOUDAGENT_STATE_DIR to a writable directory"
        ) from exc
    if dnsmasq_user and dnsmasq_user != "root":
        blocked = untraversable(paths.dns_dir, dnsmasq_user)
        if blocked is not None:
            raise CloudagentError(
                f"dnsmasq runs as {dnsmasq_user!r} and cannot reach {paths.hosts}: {blocked} is "
                f"mode {stat.S_IMODE(blocked.stat().st_mode):04o}; run 'chmod o+x {blocked}', "
                "or choose another CLOUDAGENT_STATE_DIR, or set CLOUDAGENT_DNSMASQ_USER=root"
            )


def untraversable(directory: Path, user: str) -> Path | None:
    """The first directory from / to ``directory`` that ``user`` cannot enter, if any."""
    try:
        entry = pwd.getpwnam(user)
    except KeyError:
        raise CloudagentError(f"CLOUDAGENT_DNSMASQ_USER: no user {user!r} on this system") from None
    groups = {entry.pw_gid}
    for path in [*reversed(directory.resolve().parents), directory.resolve()]:
        st = path.stat()
        if st.st_uid == entry.pw_uid:
            allowed = st.st_mode & stat.S_IXUSR
        elif st.st_gid in groups:
            allowed = st.st_mode & stat.S_IXGRP
        else:
            allowed = st.st_mode & stat.S_IXOTH
        if not allowed:
            return path
    return None


def load_failures(path: Path) -> dict[str, float]:
    """When each failed member was first seen failed, as saved by the last run."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        log.warning(
            "ignoring unreadable %s (%s): failed members start a new grace period", path, exc
        )
        return {}
    if not isinstance(data, dict):
        return {}
    return {str(k): float(v) for k, v in data.items() if isinstance(v, int | float)}


def load_arrivals(path: Path) -> Arrivals:
    """Who this node saw first, as saved by the last run (first come keeps across restarts)."""
    try:
        return Arrivals.from_json(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return Arrivals()
    except (OSError, ValueError) as exc:
        log.warning(
            "ignoring unreadable %s (%s): members present now all count as first seen now",
            path,
            exc,
        )
        return Arrivals()
