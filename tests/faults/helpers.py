"""Small helpers shared by the fault scenarios."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from cloudagent.daemon.status import read_status
from cloudagent.dev.localcluster import LocalCluster, LocalNode
from cloudagent.dns.query import DNSError
from tests.nodecli import cli


def expected(nodes: list[LocalNode]) -> dict[str, str]:
    """FQDN -> address for these nodes."""
    return {n.fqdn: n.address for n in nodes}


def serves(observer: LocalNode, nodes: list[LocalNode]) -> bool:
    """True when ``observer`` answers every node's name with its address."""
    try:
        return all(observer.dns.addresses(n.fqdn) == [n.address] for n in nodes)
    except DNSError:
        return False


def alive_at(observer: LocalNode, node: LocalNode) -> bool:
    """True when ``observer``'s serf lists ``node`` alive."""
    result = cli(observer, "members", "--json")
    if result.returncode != 0:
        return False
    rows: list[dict[str, Any]] = json.loads(result.stdout)["members"]
    return any(r["name"] == node.name and r["status"] == "alive" for r in rows)


def status(node: LocalNode) -> dict[str, Any] | None:
    """The node's health status file."""
    return read_status(node.state_dir / "health.json")


def log_text(node: LocalNode) -> str:
    return node.log_file.read_text(errors="replace")


def start_in_own_group(cluster: LocalCluster, node: LocalNode) -> None:
    """Start the agent as systemd or a shell would: the leader of its own process group."""
    node.base_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(node.base_dir, 0o755)  # noqa: S103 - dnsmasq (nobody) must traverse it
    with node.log_file.open("ab") as log:
        node.process = subprocess.Popen(
            [sys.executable, "-m", "cloudagent", "run", "agent"],
            env=node.env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def since(start: float) -> float:
    return time.monotonic() - start


def fill(directory: Path) -> Path:
    """Fill the filesystem holding ``directory`` until a write fails with ENOSPC."""
    filler = directory / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        while True:
            os.write(fd, b"\0" * 4096)
    except OSError:
        pass
    finally:
        os.close(fd)
    return filler
