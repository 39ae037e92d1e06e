"""The two systems under test, started the same way on loopback addresses.

* cloudagent: ``cloudagent run`` per node (serf + dnsmasq supervised by it).
* baseline: the 2014 design of SequenceIQ's docker-serf image (github.com/sequenceiq/docker-serf)
  re-created: a Serf
  ``-event-handler`` script that, on every member event, lists the alive members, rewrites a
  dnsmasq config file with ``address=`` and ``ptr-record=`` lines, and restarts dnsmasq.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from cloudagent.config import RPC_TOKEN_FILE
from cloudagent.dev.localcluster import LocalCluster
from cloudagent.endpoint import Endpoint

DOMAIN = "cluster.internal"
DNS_PORT = 5353

HANDLER = r"""#!/bin/sh
# Baseline handler (the 2014 design, for comparison): rebuild the whole dnsmasq config from
# the alive members and restart dnsmasq, on every member-join, member-leave and member-failed.
set -u
out="$BASELINE_DIR/0hosts"
serf members -rpc-addr="$BASELINE_RPC" -status=alive | while read -r name addr _rest; do
  ip=${addr%:*}
  short=${name%%.*}
  rev=$(echo "$ip" | awk -F. '{print $4"."$3"."$2"."$1}')
  echo "address=/$name/$short/$ip"
  echo "ptr-record=$rev.in-addr.arpa,$name"
done > "$out.new"
mv "$out.new" "$out"
if [ -f "$BASELINE_DIR/dnsmasq.pid" ]; then
  pid=$(cat "$BASELINE_DIR/dnsmasq.pid")
  kill "$pid" 2>/dev/null
  while kill -0 "$pid" 2>/dev/null; do sleep 0.01; done
fi
dnsmasq --conf-file="$BASELINE_DIR/dnsmasq.conf" --pid-file="$BASELINE_DIR/dnsmasq.pid"
echo "$(date +%s.%N) $SERF_EVENT" >> "$BASELINE_DIR/handler.log"
"""


@dataclass
class Node:
    index: int
    name: str  # FQDN
    address: str
    dns: Endpoint
    rpc: Endpoint
    dir: Path
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    bare: bool = False  # a bare serf agent: gossips, but has no DNS of its own
    rpc_token: Path | None = None  # where the node's serf RPC token is (cloudagent's own)

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None


class System:
    """What a scenario needs of a system under test."""

    label = "system"
    agent_program = "serf"  # the long-lived process whose CPU counts as the DNS updater's

    def __init__(self, base: Path, subnet: str, grace: float, profile: str = "lan") -> None:
        self.base = base
        self.subnet = subnet
        self.grace = grace
        self.profile = profile  # serf's timing profile: lan, wan or local
        self.nodes: dict[int, Node] = {}

    def node(self, index: int) -> Node:
        if not 0 < index <= 240:
            raise ValueError(f"node index {index} out of range (1-240)")
        address = f"{self.subnet}.{10 + index}"
        return Node(
            index,
            f"n{index}.{DOMAIN}",
            address,
            Endpoint(address, DNS_PORT),
            Endpoint(address, 7373),
            self.base / f"n{index}",
        )

    def start(self, index: int, join: int | None) -> Node:
        raise NotImplementedError

    def _serf_argv(self, node: Node) -> list[str]:
        """A bare ``serf agent`` for ``node`` (the storm's joiners, the baseline's nodes)."""
        return [
            "serf",
            "agent",
            "-node",
            node.name,
            "-bind",
            f"{node.address}:7946",
            "-rpc-addr",
            f"{node.address}:7373",
            "-log-level",
            "warn",
            "-profile",
            self.profile,
        ]

    def start_serf(self, index: int, join: int) -> Node:
        """A bare ``serf agent`` joining the cluster: a storm's joiner. The observers are what
        the storm tests, so a joiner needs no DNS of its own, and the storm lasts as long as
        Serf takes, not as long as many Python starts on a few cores."""
        node = self.node(index)
        node.bare = True
        node.dir.mkdir(parents=True, exist_ok=True)
        argv = [
            *self._serf_argv(node),
            "-retry-join",
            f"{self.node(join).address}:7946",
            "-retry-interval",
            "1s",
        ]
        with (node.dir / "serf.log").open("ab") as log:
            node.process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
        self.nodes[index] = node
        return node

    def leave(self, node: Node) -> None:
        raise NotImplementedError

    def crash(self, node: Node) -> None:
        raise NotImplementedError

    def stop_all(self) -> None:
        raise NotImplementedError

    def pids(self, node: Node) -> dict[str, int]:
        """Process ids per program, for RSS and CPU."""
        return {}

    def writes(self, node: Node, since_wall: float) -> int:
        """How many times the node rewrote its DNS data since ``since_wall``."""
        raise NotImplementedError

    def served(self, node: Node) -> int:
        """How many members the node's DNS data holds now."""
        raise NotImplementedError


class Cloudagent(System):
    label = "cloudagent"
    agent_program = "cloudagent"

    def __init__(self, base: Path, subnet: str, grace: float, profile: str = "lan") -> None:
        super().__init__(base, subnet, grace, profile)
        if profile != "lan":
            self.label = f"cloudagent-{profile}"
        self.cluster = LocalCluster(
            base, subnet=subnet, domain=DOMAIN, dns_port=DNS_PORT, prefix="n", grace=f"{grace:g}s"
        )

    def start(self, index: int, join: int | None) -> Node:
        node = self.node(index)
        node.rpc_token = node.dir / "state" / RPC_TOKEN_FILE
        env = self.cluster.node_env(index, self.node(join).address if join else None)
        env.update(
            CLOUDAGENT_NODE_NAME=node.name,
            CLOUDAGENT_SERF_BIND=f"{node.address}:7946",
            CLOUDAGENT_SERF_RPC=f"{node.address}:7373",
            CLOUDAGENT_DNS_LISTEN=f"{node.address}:{DNS_PORT}",
            CLOUDAGENT_HTTP_LISTEN=f"{node.address}:8301",
            CLOUDAGENT_STATE_DIR=str(node.dir / "state"),
            CLOUDAGENT_LOG_LEVEL="INFO",
            CLOUDAGENT_SERF_PROFILE=self.profile,
        )
        node.dir.mkdir(parents=True, exist_ok=True)
        os.chmod(node.dir, 0o755)  # noqa: S103 - dnsmasq (nobody) reads below it
        with (node.dir / "agent.log").open("ab") as log:
            node.process = subprocess.Popen(
                [sys.executable, "-m", "cloudagent", "run", "agent"],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self.nodes[index] = node
        return node

    def leave(self, node: Node) -> None:
        if node.process:
            node.process.send_signal(signal.SIGTERM)

    def crash(self, node: Node) -> None:
        """The whole node dies at once: serf, the agent and dnsmasq (which, having dropped
        privileges, would otherwise outlive the agent)."""
        pids = self.pids(node)
        for program in ("serf", "cloudagent", "dnsmasq"):
            with contextlib.suppress(ProcessLookupError, KeyError):
                os.kill(pids[program], signal.SIGKILL)

    def stop_all(self) -> None:
        leftovers = [self.pids(n).get("dnsmasq") for n in self.nodes.values()]
        for node in self.nodes.values():
            if node.running and node.process:
                node.process.send_signal(signal.SIGTERM)
        for node in self.nodes.values():
            if node.process:
                try:
                    node.process.wait(30)
                except subprocess.TimeoutExpired:
                    node.process.kill()
        for pid in leftovers:  # from crashed nodes
            if pid:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)

    def pids(self, node: Node) -> dict[str, int]:
        if node.bare:
            return {"serf": node.process.pid} if node.running and node.process else {}
        found = {"cloudagent": node.process.pid} if node.running and node.process else {}
        for program in ("serf", "dnsmasq"):
            pid_file = node.dir / "state" / f"{program}.pid"
            with contextlib.suppress(OSError, ValueError):
                found[program] = int(pid_file.read_text())
        return found

    def writes(self, node: Node, since_wall: float) -> int:
        count = 0
        for line in (node.dir / "agent.log").read_text(errors="replace").splitlines():
            if "wrote hosts" in line and _stamp(line) >= since_wall:
                count += 1
        return count

    def served(self, node: Node) -> int:
        try:
            text = (node.dir / "state" / "dns" / "hosts").read_text()
        except OSError:
            return 0
        return sum(1 for line in text.splitlines() if line and not line.startswith("#"))


def _stamp(line: str) -> float:
    try:
        return time.mktime(time.strptime(line[:19], "%Y-%m-%d %H:%M:%S")) + int(line[20:23]) / 1000
    except ValueError:
        return 0.0


class Baseline(System):
    label = "baseline"

    def start(self, index: int, join: int | None) -> Node:
        node = self.node(index)
        node.dir.mkdir(parents=True, exist_ok=True)
        handler = node.dir / "handler.sh"
        handler.write_text(HANDLER)
        handler.chmod(0o755)
        (node.dir / "dnsmasq.conf").write_text(
            f"port={DNS_PORT}\nlisten-address={node.address}\nbind-interfaces\nno-resolv\n"
            f"no-hosts\nuser=root\nlocal=/{DOMAIN}/\nconf-file={node.dir}/0hosts\n"
        )
        (node.dir / "0hosts").write_text("")
        argv = [
            *self._serf_argv(node),
            "-event-handler",
            f"member-join,member-leave,member-failed={handler}",
        ]
        if join:
            argv += ["-retry-join", f"{self.node(join).address}:7946", "-retry-interval", "1s"]
        env = {**os.environ, "BASELINE_DIR": str(node.dir), "BASELINE_RPC": f"{node.address}:7373"}
        with (node.dir / "serf.log").open("ab") as log:
            node.process = subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT)
        self.nodes[index] = node
        return node

    def leave(self, node: Node) -> None:
        subprocess.run(
            ["serf", "leave", "-rpc-addr", str(node.rpc)], capture_output=True, check=False
        )

    def crash(self, node: Node) -> None:
        if node.process:
            node.process.kill()

    def _dnsmasq(self, node: Node) -> int | None:
        try:
            return int((node.dir / "dnsmasq.pid").read_text())
        except (OSError, ValueError):
            return None

    def stop_all(self) -> None:
        for node in self.nodes.values():
            if node.process and node.process.poll() is None:
                node.process.kill()
                node.process.wait()
        time.sleep(0.5)  # a handler still running may restart dnsmasq once more
        for node in self.nodes.values():
            pid = self._dnsmasq(node)
            if pid:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)

    def pids(self, node: Node) -> dict[str, int]:
        found = {"serf": node.process.pid} if node.running and node.process else {}
        pid = self._dnsmasq(node)
        if pid:
            found["dnsmasq"] = pid
        return found

    def served(self, node: Node) -> int:
        try:
            return (node.dir / "0hosts").read_text().count("address=")
        except OSError:
            return 0

    def writes(self, node: Node, since_wall: float) -> int:
        log = node.dir / "handler.log"
        if not log.exists():
            return 0
        return sum(
            1 for line in log.read_text().splitlines() if float(line.split()[0]) >= since_wall
        )
