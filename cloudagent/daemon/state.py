"""The state directory: where each file lives, and making it usable by dnsmasq's user."""

from __future__ import annotations

import json
import logging
import os
import pwd
import stat
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from cloudagent.arrivals import Arrivals
from cloudagent.errors import CloudagentError
from cloudagent.reconcile import FailedMember

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

    @property
    def health(self) -> Path:
        return self.root / "health.json"


def prepare_state_dir(paths: StatePaths, dnsmasq_user: str | None) -> None:
    """Create the directories; fail clearly if dnsmasq's user could not read the hosts file.

    dnsmasq drops to an unprivileged user before it reads ``addn-hosts`` and, when it cannot,
    only logs it and answers nothing (its log says so once).
    """
    try:
        paths.root.mkdir(parents=True, exist_ok=True)
        clear_damage(paths)
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


def set_aside(path: Path, why: str) -> None:
    """Rename a state file we cannot use out of the way (kept for a post-mortem) and warn."""
    target = path.with_name(f"{path.name}.corrupt-{int(time.time())}")
    try:
        path.rename(target)
    except OSError as exc:
        raise CloudagentError(
            f"{path} is unusable ({why}) and cannot be moved aside ({exc.strerror or exc}); "
            "remove it by hand"
        ) from exc
    log.warning(
        "%s is unusable (%s); moved it to %s and starting that state afresh", path, why, target
    )


def _keep(path: Path, why: str) -> None:
    """For readers that must not touch the daemon's files (operator commands)."""


def _usable(path: Path, aside: Callable[[Path, str], None] = set_aside) -> bool:
    """True when ``path`` is a regular file; anything else in its place is set aside."""
    try:
        mode = path.lstat().st_mode
    except FileNotFoundError:
        return False
    if stat.S_ISREG(mode):
        return True
    aside(path, "not a regular file")
    return False


def clear_damage(paths: StatePaths) -> None:
    """Set aside anything standing where a state file or directory must be."""
    for directory in (paths.dns_dir, paths.serf_dir):
        if directory.exists() and not directory.is_dir():
            set_aside(directory, "not a directory")
    for path in (
        paths.hosts,
        paths.dnsmasq_conf,
        paths.serf_config,
        paths.serf_dir / "snapshot",
        paths.resolv_conf_orig,
        paths.failures,
        paths.arrivals,
        paths.health,
        paths.root / "serf.pid",
        paths.root / "dnsmasq.pid",
        paths.root / "provision.json",
        paths.root / "services.json",
    ):
        _usable(path)


def load_text(path: Path, aside: Callable[[Path, str], None] = set_aside) -> str | None:
    """A state file's text; None (and the file set aside) when it is not readable UTF-8."""
    if not _usable(path, aside):
        return None
    try:
        return path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        aside(path, f"not UTF-8: {exc.reason} at byte {exc.start}")
    except OSError as exc:
        aside(path, exc.strerror or str(exc))
    return None


def load_failures(path: Path, *, read_only: bool = False) -> dict[str, FailedMember]:
    """The failed members saved by the last run; a damaged file is set aside (left alone
    when ``read_only``: operator commands never change the daemon's state)."""
    aside = _keep if read_only else set_aside
    text = load_text(path, aside)
    if text is None:
        return {}
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as exc:
        aside(path, f"not JSON: {str(exc)[:80] or type(exc).__name__}")
        return {}
    if not isinstance(data, dict):
        aside(path, "not a JSON object")
        return {}
    found: dict[str, FailedMember] = {}
    for name, value in data.items():
        if isinstance(value, int | float) and not isinstance(value, bool):
            found[str(name)] = FailedMember(float(value))  # written by an older version
        elif isinstance(value, dict) and isinstance(value.get("since"), int | float):
            tags = value.get("tags")
            found[str(name)] = FailedMember(
                since=float(value["since"]),
                address=value["address"] if isinstance(value.get("address"), str) else None,
                port=value["port"] if isinstance(value.get("port"), int) else 0,
                tags=tuple(
                    (str(k), str(v)) for k, v in (tags.items() if isinstance(tags, dict) else ())
                ),
            )
    return found


def dump_failures(failed: Mapping[str, FailedMember]) -> str:
    """The text of ``failed-members.json`` (stable: unchanged members write nothing)."""
    doc = {
        name: {"since": m.since, "address": m.address, "port": m.port, "tags": dict(m.tags)}
        for name, m in sorted(failed.items())
    }
    return json.dumps(doc, sort_keys=True) + "\n"


def load_arrivals(path: Path, *, read_only: bool = False) -> Arrivals:
    """Who this node saw first, as saved by the last run (first come keeps across restarts);
    a damaged file is set aside (left alone when ``read_only``)."""
    aside = _keep if read_only else set_aside
    text = load_text(path, aside)
    if text is None:
        return Arrivals()
    try:
        return Arrivals.from_json(text)
    except (ValueError, RecursionError) as exc:
        aside(path, f"unreadable ({str(exc)[:80] or type(exc).__name__}): members present now "
                    "all count as first seen now")  # fmt: skip
        return Arrivals()
