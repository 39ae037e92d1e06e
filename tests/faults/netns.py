"""Agents in network namespaces joined by a bridge: partitions and packet loss by iptables.

One namespace holds the bridge; each node has its own namespace with a veth ``eth0`` whose
peer is enslaved to the bridge. Node addresses come from a private /24 that exists only
inside these namespaces; every name carries a per-run prefix so parallel runs never clash.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DOMAIN = "cluster.internal"


def sh(*argv: str) -> None:
    subprocess.run(argv, check=True, capture_output=True)


@dataclass
class NetNode:
    index: int
    ns: str
    address: str
    base: Path
    env: dict[str, str]
    process: subprocess.Popen[bytes] | None = None
    probe: subprocess.Popen[bytes] | None = None
    probe_file: Path | None = None

    @property
    def name(self) -> str:
        return f"node{self.index}"

    @property
    def fqdn(self) -> str:
        return f"{self.name}.{DOMAIN}"

    @property
    def log_file(self) -> Path:
        return self.base / "agent.log"

    def exec(self, *argv: str) -> list[str]:
        return ["ip", "netns", "exec", self.ns, *argv]

    def start(self) -> None:
        with self.log_file.open("ab") as log:
            self.process = subprocess.Popen(
                self.exec(sys.executable, "-m", "cloudagent", "run", "agent"),
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def stop(self) -> int | None:
        if self.process is None or self.process.poll() is not None:
            return None if self.process is None else self.process.returncode
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait()

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self.exec(sys.executable, "-m", "cloudagent", *args),
            env=self.env,
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )

    def alive(self) -> set[str]:
        """Names this node's serf lists alive."""
        result = self.cli("members", "--json")
        if result.returncode != 0:
            return set()
        return {r["name"] for r in json.loads(result.stdout)["members"] if r["status"] == "alive"}

    def start_probe(self, names: list[str]) -> None:
        self.probe_file = self.base / f"probe-{time.monotonic_ns()}.jsonl"
        with self.probe_file.open("wb") as out:
            self.probe = subprocess.Popen(
                self.exec(
                    sys.executable,
                    "-m",
                    "tests.faults.probe",
                    "--server",
                    f"{self.address}:53",
                    *names,
                ),
                env=self.env,
                stdout=out,
                stderr=subprocess.DEVNULL,
            )

    def stop_probe(self) -> list[dict[str, Any]]:
        if self.probe is not None:
            self.probe.send_signal(signal.SIGTERM)
            self.probe.wait(10)
            self.probe = None
        return self.probe_lines()

    def probe_lines(self) -> list[dict[str, Any]]:
        if self.probe_file is None or not self.probe_file.exists():
            return []
        lines = []
        for line in self.probe_file.read_text().splitlines():
            with contextlib.suppress(ValueError):
                lines.append(json.loads(line))
        return lines

    def answer(self, fqdn: str) -> object:
        """The latest answer the probe saw for ``fqdn`` ("unset" before the first)."""
        answer: object = "unset"
        for line in self.probe_lines():
            if line.get("name") == fqdn:
                answer = line["answer"]
        return answer

    def iptables(self, *rule: str) -> None:
        sh(*self.exec("iptables", *rule))


@dataclass
class NetnsCluster:
    base: Path
    net: int
    size: int
    grace: str
    extra_env: dict[str, str] = field(default_factory=dict)
    nodes: list[NetNode] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.prefix = f"ca{self.net}p{os.getpid() % 100000}"
        self.bridge = f"{self.prefix}br"
        self.subnet = f"10.{self.net}.{os.getpid() % 250 + 1}"

    def up(self) -> None:
        sh("ip", "netns", "add", self.bridge)
        sh("ip", "-n", self.bridge, "link", "add", "br0", "type", "bridge")
        sh("ip", "-n", self.bridge, "link", "set", "br0", "up")
        for i in range(1, self.size + 1):
            ns = f"{self.prefix}n{i}"
            address = f"{self.subnet}.{10 + i}"
            sh("ip", "netns", "add", ns)
            sh("ip", "link", "add", "name", "eth0", "netns", ns, "type", "veth",
               "peer", "name", f"v{i}", "netns", self.bridge)  # fmt: skip
            sh("ip", "-n", self.bridge, "link", "set", f"v{i}", "master", "br0", "up")
            sh("ip", "-n", ns, "addr", "add", f"{address}/24", "dev", "eth0")
            sh("ip", "-n", ns, "link", "set", "eth0", "up")
            sh("ip", "-n", ns, "link", "set", "lo", "up")
            base = self.base / f"node{i}"
            base.mkdir(parents=True)
            base.chmod(0o755)
            skip = ("CLOUDAGENT_", "SERF_", "AMBARI_", "DNS_", "MYDOMAIN")
            env = {k: v for k, v in os.environ.items() if not k.startswith(skip)}
            env.update(
                CLOUDAGENT_NODE_NAME=f"node{i}",
                MYDOMAIN=DOMAIN,
                DNS_UPSTREAM="none",
                CLOUDAGENT_SERF_BIND=f"{address}:7946",
                CLOUDAGENT_SERF_RPC="127.0.0.1:7373",
                CLOUDAGENT_DNS_LISTEN=f"{address}:53",
                CLOUDAGENT_STATE_DIR=str(base / "state"),
                CLOUDAGENT_FAILED_GRACE=self.grace,
                CLOUDAGENT_AMBARI="off",
                PYTHONUNBUFFERED="1",
                PYTHONPATH=str(Path(__file__).resolve().parents[2]),
            )
            if i > 1:
                env["SERF_JOIN_IP"] = f"{self.subnet}.11"
            env.update(self.extra_env)
            self.nodes.append(NetNode(i, ns, address, base, env))

    def down(self) -> None:
        for node in self.nodes:
            if node.probe is not None:
                node.probe.kill()
                node.probe.wait()
            node.stop()
        for node in self.nodes:
            subprocess.run(["ip", "netns", "pids", node.ns], capture_output=True, check=False)
            pids = subprocess.run(
                ["ip", "netns", "pids", node.ns], capture_output=True, text=True, check=False
            ).stdout.split()
            for pid in pids:  # a dnsmasq that outlived its agent (it drops privileges)
                with contextlib.suppress(ProcessLookupError, ValueError):
                    os.kill(int(pid), signal.SIGKILL)
            subprocess.run(["ip", "netns", "del", node.ns], capture_output=True, check=False)
        subprocess.run(["ip", "netns", "del", self.bridge], capture_output=True, check=False)

    def isolate(self, node: NetNode) -> None:
        """Cut ``node`` off from everyone."""
        node.iptables("-A", "INPUT", "-i", "eth0", "-j", "DROP")
        node.iptables("-A", "OUTPUT", "-o", "eth0", "-j", "DROP")

    def split(self, side: list[NetNode], other: list[NetNode]) -> None:
        """Drop traffic between two groups (rules on ``side``)."""
        for node in side:
            for peer in other:
                node.iptables("-A", "INPUT", "-s", peer.address, "-j", "DROP")
                node.iptables("-A", "OUTPUT", "-d", peer.address, "-j", "DROP")

    def heal(self, nodes: list[NetNode]) -> None:
        for node in nodes:
            node.iptables("-F", "INPUT")
            node.iptables("-F", "OUTPUT")


def timeline(lines: list[dict[str, Any]], fqdn: str) -> list[tuple[float, object]]:
    """(time, answer) changes for one name."""
    return [(line["t"], line["answer"]) for line in lines if line.get("name") == fqdn]
