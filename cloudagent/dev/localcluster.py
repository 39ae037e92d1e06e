"""Several cloudagent nodes on loopback addresses of one machine (demo, tests, benchmarks).

Node i listens on 127.B.C.(10+i): Serf on :7946, RPC on :7373, dnsmasq on ``dns_port``.
Nothing binds outside 127.0.0.0/8 and dnsmasq has no upstream, so no query leaves the machine.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from cloudagent.ambari.agentconf import DEFAULT_INI
from cloudagent.dns.query import DNSError, Lookup
from cloudagent.endpoint import Endpoint
from cloudagent.errors import CloudagentError

_T = TypeVar("_T")
REQUIRED_PROGRAMS = ("serf", "dnsmasq")


def require_programs(programs: Iterable[str] = REQUIRED_PROGRAMS) -> None:
    """Fail clearly when a real program the cluster needs is not installed."""
    missing = [p for p in programs if shutil.which(p) is None]
    if missing:
        raise CloudagentError(
            f"not installed: {', '.join(missing)}; run 'make sysdeps' "
            "(apt-get install serf dnsmasq-base)"
        )


@dataclass
class LocalNode:
    """One cloudagent process and its directory."""

    name: str
    address: str
    base_dir: Path
    domain: str
    dns_port: int
    env: dict[str, str]
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def fqdn(self) -> str:
        """The node's FQDN, as DNS serves it."""
        return f"{self.name}.{self.domain}"

    @property
    def state_dir(self) -> Path:
        """The node's CLOUDAGENT_STATE_DIR."""
        return self.base_dir / "state"

    @property
    def log_file(self) -> Path:
        """Where the node's agent logs."""
        return self.base_dir / "agent.log"

    @property
    def dns(self) -> Lookup:
        """A resolver that asks this node's dnsmasq."""
        return Lookup(Endpoint(self.address, self.dns_port), timeout=0.5)

    @property
    def running(self) -> bool:
        """True while the node's agent process runs."""
        return self.process is not None and self.process.poll() is None

    def start(self, role: str = "agent") -> None:
        """Start ``cloudagent run ROLE`` with this node's environment."""
        self.base_dir.mkdir(parents=True, exist_ok=True)
        os.chmod(self.base_dir, 0o755)  # noqa: S103 - dnsmasq (nobody) must traverse it
        with self.log_file.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "cloudagent", "run", role],
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def stop(self, timeout: float = 20.0) -> int | None:
        """Graceful stop (SIGTERM: the agent leaves the cluster); returns the exit status."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode

    def kill(self) -> None:
        """SIGKILL the agent; its serf and dnsmasq die with it (no graceful leave)."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def reap_leftovers(self) -> None:
        """Kill this node's serf or dnsmasq if still running though its agent is gone."""
        if self.running:
            return
        for program in REQUIRED_PROGRAMS:
            pid_file = self.state_dir / f"{program}.pid"
            try:
                pid = int(pid_file.read_text())
                cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
            except (OSError, ValueError):
                continue
            if str(self.state_dir).encode() in cmdline:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)

    def child_pid(self, program: str) -> int | None:
        """The pid of the agent's child running ``program`` (serf or dnsmasq)."""
        if self.process is None or self.process.poll() is not None:
            return None
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
                cmdline = (entry / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            if ppid == self.process.pid and Path(cmdline[0].decode()).name == program:
                return int(entry.name)
        return None

    def signal_child(self, program: str, signum: int) -> int:
        """Send a signal to the agent's serf or dnsmasq; returns the pid."""
        pid = self.child_pid(program)
        if pid is None:
            raise CloudagentError(f"{self.name}: no {program} child running")
        os.kill(pid, signum)
        return pid

    def env_for_cli(self) -> dict[str, str]:
        """The environment under which ``cloudagent members`` talks to this node."""
        return dict(self.env)


class LocalCluster:
    """Nodes ``<prefix>1..N`` on ``127.<subnet>.(10+i)``."""

    def __init__(
        self,
        base_dir: Path,
        *,
        subnet: str = "127.0.0",
        domain: str = "cluster.internal",
        dns_port: int = 5353,
        prefix: str = "node",
        grace: str = "300s",
        extra_env: Mapping[str, str] | None = None,
        ambari: Mapping[str, str] | None = None,
        task_seconds: float = 1.0,
    ) -> None:
        require_programs()
        self.base_dir = base_dir
        self.subnet = subnet
        self.domain = domain
        self.dns_port = dns_port
        self.prefix = prefix
        self.grace = grace
        self.extra_env = dict(extra_env or {})
        # None: no Ambari at all. A mapping: Ambari on, with these extra variables (BLUEPRINT,
        # EXPECTED_HOST_COUNT, ...); the server runs the emulator, every node an emulated agent.
        self.ambari = None if ambari is None else dict(ambari)
        self.task_seconds = task_seconds
        self.nodes: list[LocalNode] = []
        base_dir.mkdir(parents=True, exist_ok=True)
        os.chmod(base_dir, 0o755)  # noqa: S103 - dnsmasq (nobody) must traverse it

    def address(self, index: int) -> str:
        """The loopback address of node ``index``."""
        return f"{self.subnet}.{10 + index}"

    def node_env(self, index: int, join: str | None) -> dict[str, str]:
        """The environment that runs node ``index``, joining ``join`` if given."""
        address = self.address(index)
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("CLOUDAGENT_", "SERF_", "AMBARI_", "DNS_", "MYDOMAIN"))
        }
        env.update(
            CLOUDAGENT_NODE_NAME=f"{self.prefix}{index}",
            MYDOMAIN=self.domain,
            DNS_UPSTREAM="none",
            CLOUDAGENT_SERF_BIND=f"{address}:7946",
            CLOUDAGENT_SERF_RPC=f"{address}:7373",
            CLOUDAGENT_DNS_LISTEN=f"{address}:{self.dns_port}",
            CLOUDAGENT_HTTP_LISTEN=f"{address}:8301",
            CLOUDAGENT_STATE_DIR=str(self.base_dir / f"{self.prefix}{index}" / "state"),
            CLOUDAGENT_FAILED_GRACE=self.grace,
            PYTHONUNBUFFERED="1",
        )
        if join:
            env["SERF_JOIN_IP"] = join
        env.update(self._ambari_env(index))
        env.update(self.extra_env)
        return env

    def _ambari_env(self, index: int) -> dict[str, str]:
        if self.ambari is None:
            return {"CLOUDAGENT_AMBARI": "off"}
        address, server = self.address(index), self.address(1)
        ini = self.base_dir / f"{self.prefix}{index}" / "ambari-agent.ini"
        python = f"{sys.executable} -m cloudagent"
        env = {
            "CLOUDAGENT_AMBARI": "on",
            "AMBARI_URL": f"http://{server}:8080",
            "AMBARI_POLL": "0.5",
            "AMBARI_AGENT_INI": str(ini),
            "AMBARI_SERVER_COMMAND": (
                f"{python} ambari-emulator --listen {server}:8080 --agent-listen {server}:8440 "
                f"--task-seconds {self.task_seconds}"
            ),
            # A node's own dnsmasq is its resolver, as --dns 127.0.0.1 makes it in a container.
            "AMBARI_AGENT_COMMAND": (
                f"{python} ambari-emulator agent --config {ini} "
                f"--resolver {address}:{self.dns_port} --hostname-from-ptr {address} --interval 0.5"
            ),
            "DEFAULT_PASSWORD": "demo-password",
        }
        env.update(self.ambari)
        return env

    def add(self, role: str = "agent", join_index: int | None = 1, start: bool = True) -> LocalNode:
        """Add node N+1, joining node ``join_index`` (None: join nobody)."""
        index = len(self.nodes) + 1
        join = self.address(join_index) if join_index and join_index != index else None
        if self.ambari is not None:
            ini = self.base_dir / f"{self.prefix}{index}" / "ambari-agent.ini"
            ini.parent.mkdir(parents=True, exist_ok=True)
            # What the ambari-agent package installs (quick retries for the loopback cluster).
            ini.write_text(DEFAULT_INI.replace("connect_retry_delay=10", "connect_retry_delay=1"))
        node = LocalNode(
            name=f"{self.prefix}{index}",
            address=self.address(index),
            base_dir=self.base_dir / f"{self.prefix}{index}",
            domain=self.domain,
            dns_port=self.dns_port,
            env=self.node_env(index, join),
        )
        self.nodes.append(node)
        if start:
            node.start(role)
        return node

    def start(self, size: int) -> list[LocalNode]:
        """Start ``size`` nodes; the first is the server, the others join it."""
        return [self.add("server" if i == 0 else "agent") for i in range(size)]

    def running(self) -> list[LocalNode]:
        """The nodes whose agent runs."""
        return [n for n in self.nodes if n.running]

    def stop(self) -> None:
        """Stop every node gracefully (killing what does not stop), then any serf or dnsmasq
        a killed agent left behind (dnsmasq drops privileges, which clears its parent-death
        signal)."""
        for node in self.nodes:
            if node.running and node.process is not None:
                node.process.send_signal(signal.SIGTERM)
        for node in self.nodes:
            node.stop()
        for node in self.nodes:
            node.reap_leftovers()

    def resolves_everywhere(self, target: LocalNode, observers: Iterable[LocalNode]) -> bool:
        """True when every observer answers A and PTR for ``target`` correctly."""
        try:
            return all(
                o.dns.addresses(target.fqdn) == [target.address]
                and o.dns.names(target.address) == [target.fqdn]
                for o in observers
            )
        except DNSError:
            return False

    def gone_everywhere(self, target: LocalNode, observers: Iterable[LocalNode]) -> bool:
        """True when every observer answers NXDOMAIN for ``target``'s name."""
        try:
            return all(o.dns.addresses(target.fqdn) is None for o in observers)
        except DNSError:
            return False

    def __enter__(self) -> LocalCluster:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def wait_for(
    condition: Callable[[], _T], timeout: float, interval: float = 0.05, what: str = "condition"
) -> _T:
    """Poll ``condition`` until it returns a true value; raise TimeoutError after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} not reached within {timeout:g}s")
        time.sleep(interval)
