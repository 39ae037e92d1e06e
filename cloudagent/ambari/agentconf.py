"""``ambari-agent.ini``: read it, and set ``[server] hostname`` leaving every other byte alone.

configparser would rewrite the whole file (comments, order, spacing); the agent's own file is
not ours, so we edit the one line and nothing else.
"""

from __future__ import annotations

import configparser
import re
from dataclasses import dataclass

_SECTION = re.compile(r"^\s*\[(?P<name>[^\]]+)\]\s*$")
_HOSTNAME = re.compile(r"^(?P<indent>\s*)hostname(?P<sep>\s*[=:]\s*)(?P<value>.*?)(?P<eol>\r?\n?)$")


@dataclass(frozen=True)
class AgentSettings:
    """What an ambari-agent takes from its ini to find the server."""

    server: str
    url_port: int
    secured_url_port: int
    connect_retry_delay: float
    max_reconnect_retry_delay: float


def read_settings(text: str) -> AgentSettings:
    """The ``[server]`` settings, with Ambari's defaults."""
    parser = configparser.ConfigParser(interpolation=None)
    parser.read_string(text)
    section = parser["server"] if parser.has_section("server") else {}

    def number(key: str, default: float) -> float:
        try:
            return float(section.get(key, default))
        except ValueError:
            return default

    return AgentSettings(
        server=str(section.get("hostname", "localhost")).split(",")[0].strip(),
        url_port=int(number("url_port", 8440)),
        secured_url_port=int(number("secured_url_port", 8441)),
        connect_retry_delay=number("connect_retry_delay", 10),
        max_reconnect_retry_delay=number("max_reconnect_retry_delay", 30),
    )


def set_server_hostname(text: str, hostname: str) -> str:
    """``text`` with ``[server] hostname`` set to ``hostname``; every other byte unchanged.

    >>> set_server_hostname("[server]\\nhostname=localhost\\nurl_port=8440\\n", "amb0.x")
    '[server]\\nhostname=amb0.x\\nurl_port=8440\\n'
    >>> set_server_hostname("[agent]\\nhostname_script=/x\\n", "amb0.x")
    '[agent]\\nhostname_script=/x\\n[server]\\nhostname=amb0.x\\n'
    """
    lines = text.splitlines(keepends=True)
    section = None
    server_at = None
    for index, line in enumerate(lines):
        if match := _SECTION.match(line):
            section = match.group("name").strip()
            if section == "server":
                server_at = index
            continue
        if section == "server" and (match := _HOSTNAME.match(line)):
            # "hostname" exactly: hostname_script and friends are other keys (original-system #12).
            indent, sep, eol = match.group("indent", "sep", "eol")
            lines[index] = f"{indent}hostname{sep}{hostname}{eol or ''}"
            return "".join(lines)
    if server_at is not None:
        lines.insert(server_at + 1, f"hostname={hostname}\n")
        return "".join(lines)
    prefix = "" if not text or text.endswith("\n") else "\n"
    return f"{text}{prefix}[server]\nhostname={hostname}\n"


DEFAULT_INI = """\
[server]
hostname=localhost
url_port=8440
secured_url_port=8441
connect_retry_delay=10
max_reconnect_retry_delay=30

[agent]
logdir=/var/log/ambari-agent
piddir=/var/run/ambari-agent
prefix=/var/lib/ambari-agent/data
"""
