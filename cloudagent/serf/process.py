"""The ``serf agent`` we run: its configuration file (pure) and its log lines."""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from cloudagent.config import Config
from cloudagent.reconcile import MemberEvent

log = logging.getLogger("cloudagent.serf.agent")
_LEVEL = re.compile(r"\[(DEBUG|INFO|WARN|ERR)\]")
_LEVELS = {
    "DEBUG": logging.DEBUG,
    "INFO": logging.DEBUG,
    "WARN": logging.WARNING,
    "ERR": logging.ERROR,
}
# memberlist/serf log a membership change the moment it is known; the coalesced event reaches
# handlers about a second later (measured with serf 0.8). These lines only wake the loop;
# the members call is the data.
MEMBER_CHANGE = re.compile(r"serf: EventMember(Join|Leave|Failed|Update|Reap)")
_MEMBER_EVENT = re.compile(r"serf: EventMember(Join|Leave|Failed): (.+)$")


def member_event(line: str) -> MemberEvent | None:
    """The member a join, leave or failed line names, for the fast path; None otherwise.

    The name is everything up to the last space (serf prints ``<name> <address>``), so a name
    with spaces in it comes out whole, and is then dropped by validation.

    >>> member_event("2024/01/01 00:00:00 [INFO] serf: EventMemberJoin: n1.x 10.0.0.1")
    MemberEvent(kind='join', name='n1.x', address='10.0.0.1')
    >>> member_event("[INFO] serf: EventMemberUpdate: n1.x") is None
    True
    """
    match = _MEMBER_EVENT.search(line.rstrip("\r\n"))
    if match is None or " " not in match.group(2):
        return None
    name, address = match.group(2).rsplit(" ", 1)
    return MemberEvent(match.group(1).lower(), name, address)


def serf_config(
    config: Config, tags: Mapping[str, str], keyring: Path | None = None
) -> dict[str, Any]:
    """The JSON configuration for ``serf agent -config-file``; holds the secrets, so it is
    written with mode 0600 and never passed on the command line. With ``keyring`` the gossip
    keys come from that file (serf refuses it together with ``encrypt_key``)."""
    doc: dict[str, Any] = {
        "node_name": config.node_name,
        "bind": str(config.serf_bind),
        "rpc_addr": str(config.serf_rpc),
        "tags": dict(tags),
        "snapshot_path": str(config.state_dir / "serf" / "snapshot"),
        # After a restart, rejoin what the snapshot remembers even if we had left before.
        "rejoin_after_leave": True,
        # Our own "leave" RPC is the graceful stop; a signal means the agent went away.
        "leave_on_terminate": False,
        "skip_leave_on_interrupt": True,
        "log_level": "info",
        # Gossip and probe timings: lan (serf's default), wan, or local (faster, one host).
        "profile": config.serf_profile,
    }
    if config.advertise:
        doc["advertise"] = config.advertise
    if keyring is not None:
        doc["keyring_file"] = str(keyring)
    elif config.encrypt_key is not None:
        doc["encrypt_key"] = config.encrypt_key.reveal()
    if config.rpc_auth is not None:
        doc["rpc_auth"] = config.rpc_auth.reveal()
    return doc


def serf_argv(config: Config, config_file: Path) -> list[str]:
    """The command line: only the config file's path, no secret."""
    return [config.serf_bin, "agent", f"-config-file={config_file}"]


def log_serf_line(line: str) -> None:
    """Forward one line of serf's output to our log at a matching level."""
    match = _LEVEL.search(line)
    # Unlevelled lines are serf's start-up banner: useful when debugging, noise otherwise.
    level = _LEVELS[match.group(1)] if match else logging.DEBUG
    log.log(level, "%s", line.strip())
