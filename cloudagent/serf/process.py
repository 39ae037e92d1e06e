"""The ``serf agent`` we run: its configuration file (pure) and its log lines."""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

from cloudagent.config import Config
from cloudagent.endpoint import Endpoint
from cloudagent.reconcile import MemberEvent

log = logging.getLogger("cloudagent.serf.agent")
_LEVEL = re.compile(r"\[(DEBUG|INFO|WARN|ERR)\]")
_LEVELS = {
    "DEBUG": logging.DEBUG,
    "INFO": logging.DEBUG,
    "WARN": logging.WARNING,
    "ERR": logging.ERROR,
}
# Serf prints its start-up failure without a level, on a "==>" line like its banner.
_UNLEVELLED_ERROR = re.compile(r"\b(error|failed|fatal)\b", re.IGNORECASE)
_IN_USE = re.compile(r"address already in use", re.IGNORECASE)
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


# How often serf retries the members it saw fail. Its default (30 s) bounds how long two sides
# of a healed partition stay apart; on a LAN of containers a connection attempt a second is
# cheap, and both sides converge within a few seconds of the heal.
RECONNECT_INTERVAL: Final = "1s"


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
        "reconnect_interval": RECONNECT_INTERVAL,
    }
    if config.advertise:
        # Serf advertises its default port (7946) unless told: peers would then gossip with
        # a port nobody listens on and mark this node failed. Follow the bind port.
        doc["advertise"] = str(Endpoint(config.advertise, config.serf_bind.port))
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


def serf_line_level(line: str) -> int:
    """The log level for one line of serf's output.

    >>> serf_line_level("2024/01/01 [WARN] memberlist: refuting"), serf_line_level("==> Starting")
    (30, 10)
    >>> serf_line_level("==> Failed to start the Serf agent: listen: address already in use")
    40
    """
    match = _LEVEL.search(line)
    if match:
        return _LEVELS[match.group(1)]
    # Unlevelled lines are serf's start-up banner, except its own start-up failure.
    return logging.ERROR if _UNLEVELLED_ERROR.search(line) else logging.DEBUG


def log_serf_line(line: str) -> None:
    """Forward one line of serf's output to our log at a matching level."""
    log.log(serf_line_level(line), "%s", line.strip())


def diagnose_serf(line: str) -> str | None:
    """The reason serf can never start as configured, if this output line gives one."""
    if _IN_USE.search(line) and not _LEVEL.search(line):
        reason = line.split("Failed to start the Serf agent: ", 1)[-1].strip(" =>")
        return (
            f"{reason}; another program holds the port: stop it, or set CLOUDAGENT_SERF_BIND "
            "or CLOUDAGENT_SERF_RPC to a free one"
        )
    return None


def one_line(text: str) -> str:
    """Serf's multi-line error texts (join reports one "* ..." line per address) as one line.

    >>> one_line("2 errors occurred:\\n\\n* Failed to join 10.0.0.1: refused\\n* timeout\\n")
    '2 errors occurred: Failed to join 10.0.0.1: refused; timeout'
    """
    lines = [part.strip() for part in text.splitlines() if part.strip()]
    if not lines:
        return ""
    head, items = lines[0], [part.removeprefix("* ") for part in lines[1:]]
    return f"{head} {'; '.join(items)}" if items else head
