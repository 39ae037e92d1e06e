"""Gather the facts ``doctor`` judges: thin I/O around hostname, getent, dnsmasq and a JVM."""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from cloudagent.config import Config
from cloudagent.dns.query import DNSError, Lookup
from cloudagent.doctor import Facts
from cloudagent.files import read_text
from cloudagent.keyring import read_join_problem
from cloudagent.members import parse_members

# Run as a single-file source program (java 11+), so no class file ships with the package.
_JAVA = """public class CanonicalName {
  public static void main(String[] args) throws Exception {
    System.out.println(java.net.InetAddress.getLocalHost().getCanonicalHostName());
  }
}
"""


def _run(argv: Sequence[str], timeout: float = 10.0) -> str | None:
    try:
        done = subprocess.run(
            list(argv), capture_output=True, text=True, timeout=timeout, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def getent(key: str) -> list[str] | None:
    """``getent hosts KEY`` split into address, canonical name and aliases (first line)."""
    out = _run(["getent", "hosts", key])
    return out.splitlines()[0].split() if out else None


def jvm_canonical_name(java: str | None = None) -> str | None:
    """What a JVM says ``getLocalHost().getCanonicalHostName()`` is; None without a JRE."""
    java = java or shutil.which("java")
    if java is None:
        return None
    with tempfile.TemporaryDirectory(prefix="cloudagent-doctor-") as tmp:
        source = Path(tmp) / "CanonicalName.java"
        source.write_text(_JAVA, encoding="utf-8")
        return _run([java, "-Xshare:auto", "-XX:TieredStopAtLevel=1", str(source)], 60.0)


def gather(
    cfg: Config,
    raw_members: list[dict[str, Any]],
    *,
    advertised: str | None,
    etc_hosts: Path = Path("/etc/hosts"),
    jvm: bool = True,
) -> Facts:
    """Read everything the checks need from this node."""
    me = parse_members(raw_members).by_name().get(cfg.node_name)
    address = str(me.address) if me is not None else None
    dns = Lookup(cfg.dns_listen, timeout=2.0)
    try:
        forward = dns.addresses(cfg.fqdn)
        reverse = dns.names(address) if address else None
    except DNSError:
        forward = reverse = None
    resolv = read_text(cfg.resolv_conf) if cfg.resolv_conf is not None else None
    return Facts(
        fqdn=cfg.fqdn,
        node_name=cfg.node_name,
        hostname_f=_run(["hostname", "-f"]),
        getfqdn=socket.getfqdn(),
        address=address,
        advertised=advertised,
        dns_forward=forward,
        dns_reverse=reverse,
        getent_name=getent(cfg.fqdn),
        getent_address=getent(address) if address else None,
        etc_hosts=read_text(etc_hosts) or "",
        resolv_conf=resolv if cfg.resolv_conf is not None else None,
        dns_listen=cfg.dns_listen.host,
        jvm_name=jvm_canonical_name() if jvm else None,
        join_problem=read_join_problem(cfg.state_dir),
    )
