"""What ``validate-config`` checks on this machine beyond the variables themselves.

The programs must be on PATH, dnsmasq's user must exist, and the DNS, gossip and RPC ports
must be free. A port is tested by binding it as the program will (TCP and UDP); when another
program holds it, /proc usually tells which one. Ports held by this node's own serf or dnsmasq
(their pid files in the state directory) are fine: the agent is running.
"""

from __future__ import annotations

import errno
import os
import pwd
import shutil
import socket
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal

from cloudagent.config import Config
from cloudagent.endpoint import Endpoint
from cloudagent.files import read_text

Proto = Literal["tcp", "udp"]
_LISTEN: Final = "0A"  # TCP_LISTEN in /proc/net/tcp's "st" column


@dataclass(frozen=True)
class Holder:
    """A process holding a socket."""

    pid: int
    name: str

    def __str__(self) -> str:
        return f"{self.name} (pid {self.pid})"


def _user_exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


def try_bind(endpoint: Endpoint, proto: Proto) -> OSError | None:
    """Bind ``endpoint`` as a server would and let go; the error, or None when it is free."""
    family = socket.AF_INET6 if ":" in endpoint.host else socket.AF_INET
    kind = socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM
    with socket.socket(family, kind) as sock:
        if proto == "tcp":
            # As serf and dnsmasq do: a port with only TIME_WAIT connections left is free.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((endpoint.host, endpoint.port))
        except OSError as exc:
            return exc
    return None


def _proc_net_inodes(endpoint: Endpoint, proto: Proto, proc: Path) -> Iterator[str]:
    """Inodes of the sockets bound to ``endpoint`` (or its port on any address)."""
    v6 = ":" in endpoint.host
    for table in (f"{proto}6", proto) if v6 else (proto, f"{proto}6"):
        for line in (read_text(proc / "net" / table) or "").splitlines()[1:]:
            fields = line.split()
            if len(fields) < 10:
                continue
            port = int(fields[1].rpartition(":")[2], 16)
            if port == endpoint.port and (proto == "udp" or fields[3] == _LISTEN):
                yield fields[9]


def find_holder(endpoint: Endpoint, proto: Proto, proc: Path = Path("/proc")) -> Holder | None:
    """The process that holds a socket on ``endpoint``'s port, when /proc lets us see it
    (processes of other users are hidden unless we are root)."""
    inodes = {f"socket:[{inode}]" for inode in _proc_net_inodes(endpoint, proto, proc)}
    if not inodes:
        return None
    for pid_dir in proc.iterdir():
        if not pid_dir.name.isdigit():
            continue
        try:
            for fd in (pid_dir / "fd").iterdir():
                if os.readlink(fd) in inodes:
                    name = (read_text(pid_dir / "comm") or "?").strip()
                    return Holder(int(pid_dir.name), name)
        except OSError:
            continue  # gone meanwhile, or not ours to see
    return None


@dataclass(frozen=True)
class System:
    """The machine as the checks see it; tests hand in their own."""

    which: Callable[[str], str | None] = shutil.which
    user_exists: Callable[[str], bool] = _user_exists
    bind: Callable[[Endpoint, Proto], OSError | None] = try_bind
    holder: Callable[[Endpoint, Proto], Holder | None] = find_holder


def _own_pids(state_dir: Path) -> set[int]:
    pids = set()
    for name in ("serf.pid", "dnsmasq.pid"):
        text = (read_text(state_dir / name) or "").strip()
        if text.isdigit():
            pids.add(int(text))
    return pids


def check(config: Config, system: System | None = None, skip: Collection[str] = ()) -> list[str]:
    """Problems this machine has with ``config``, one line each. Variables named in ``skip``
    already have a problem of their own and are not checked again."""
    system = system or System()
    problems: list[str] = []
    for var, program, package in (
        ("CLOUDAGENT_SERF_BIN", config.serf_bin, "serf"),
        ("CLOUDAGENT_DNSMASQ_BIN", config.dnsmasq_bin, "dnsmasq-base"),
    ):
        if var not in skip and system.which(program) is None:
            problems.append(
                f"{var}: {program!r} is not an executable on PATH; install the {package} "
                f"package or set {var} to the program's path"
            )
    user = config.dnsmasq_user
    if user and "CLOUDAGENT_DNSMASQ_USER" not in skip and not system.user_exists(user):
        problems.append(
            f"CLOUDAGENT_DNSMASQ_USER: there is no user {user!r} on this machine for dnsmasq "
            "to run as; create it or name another"
        )
    own = _own_pids(config.state_dir)
    ports: list[tuple[str, Endpoint, tuple[Proto, ...], str]] = [
        ("CLOUDAGENT_DNS_LISTEN", config.dns_listen, ("udp", "tcp"), "dnsmasq"),
        ("CLOUDAGENT_SERF_BIND", config.serf_bind, ("tcp", "udp"), "serf"),
        ("CLOUDAGENT_SERF_RPC", config.serf_rpc, ("tcp",), "serf"),
    ]
    for var, endpoint, protos, program in ports:
        if var in skip:
            continue
        for proto in protos:
            problem = _port_problem(system, endpoint, proto, own)
            if problem:
                problems.append(f"{var}: {program} cannot listen on {problem}")
                break  # one line per port: TCP and UDP fail alike
    return problems


def _port_problem(system: System, endpoint: Endpoint, proto: Proto, own: set[int]) -> str | None:
    error = system.bind(endpoint, proto)
    if error is None:
        return None
    where = f"{endpoint} ({proto.upper()})"
    if error.errno == errno.EADDRINUSE:
        holder = system.holder(endpoint, proto)
        if holder is not None and holder.pid in own:
            return None  # this node's agent is running and holds it, as it should
        held = f"{holder}" if holder else "another program (not visible to this user)"
        return f"{where}: the port is in use by {held}; stop it or choose another port"
    if error.errno == errno.EACCES:
        return f"{where}: permission denied; run as root or choose a port above 1023"
    if error.errno == errno.EADDRNOTAVAIL:
        return f"{where}: {endpoint.host} is not an address of this machine"
    return f"{where}: {error.strerror or error}"
