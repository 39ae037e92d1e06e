"""A local cluster of cloudagent containers on one Docker engine (``cloudagent cluster``).

Node 1 is the server; the others join its address. Every container and the network carry the
label ``cloudagent.cluster=<prefix>``, so ``down`` removes exactly what ``up`` and ``add`` made.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from cloudagent.errors import CloudagentError

try:
    import docker
    import docker.errors
    from docker.models.containers import Container
except ImportError:  # an optional extra: the agent image does not need it
    raise CloudagentError(
        "the Docker SDK for Python is not installed; install it with: "
        "pip install 'cloudagent[docker]'"
    ) from None

LABEL = "cloudagent.cluster"
INDEX_LABEL = "cloudagent.index"
ROLE_LABEL = "cloudagent.role"
AGENT_INI = "/etc/ambari-agent/conf/ambari-agent.ini"


@dataclass(frozen=True)
class ClusterSpec:
    """What ``cluster up`` builds."""

    nodes: int = 3
    image: str = "cloudagent:latest"
    domain: str = "cluster.internal"
    prefix: str = "node"
    blueprint: str | None = None
    ambari: str = "emulator"  # emulator | installed | off
    dns_upstream: str = "none"
    task_seconds: float = 1.0
    env: Mapping[str, str] = field(default_factory=dict)

    @property
    def network(self) -> str:
        """The Docker network the cluster's containers share."""
        return f"{self.prefix}-cloudagent"


@dataclass(frozen=True)
class Node:
    """One running container of the cluster."""

    name: str
    fqdn: str
    address: str
    role: str
    status: str
    index: int
    cluster: str = ""  # its prefix


def ambari_env(spec: ClusterSpec, role: str) -> dict[str, str]:
    """The Ambari part of a node's environment."""
    if spec.ambari == "off":
        return {"CLOUDAGENT_AMBARI": "off"}
    env: dict[str, str] = {}
    if spec.ambari == "emulator":
        env["AMBARI_AGENT_COMMAND"] = (
            f"cloudagent ambari-emulator agent --config {AGENT_INI} --interval 1"
        )
        env["AMBARI_SERVER_COMMAND"] = (
            "cloudagent ambari-emulator --listen 0.0.0.0:8080 --agent-listen 0.0.0.0:8440 "
            f"--task-seconds {spec.task_seconds:g}"
        )
        env["AMBARI_POLL"] = "1"
    if role == "server":
        env["EXPECTED_HOST_COUNT"] = str(spec.nodes)
        if spec.blueprint:
            env["BLUEPRINT"] = spec.blueprint
    return env


class Launcher:
    """Creates, lists and removes the containers of local clusters."""

    def __init__(
        self, client: docker.DockerClient | None = None, say: Callable[[str], None] = print
    ) -> None:
        try:
            self.client = client or docker.from_env()
            self.client.ping()
        except docker.errors.DockerException as exc:
            raise CloudagentError(
                f"cannot talk to the Docker engine ({exc}); is dockerd running?"
            ) from None
        self.say = say

    # --- queries --------------------------------------------------------------------------

    def containers(self, prefix: str | None = None) -> list[Container]:
        """Containers we started, of one cluster (``prefix``) or of all."""
        label = f"{LABEL}={prefix}" if prefix else LABEL
        found = self.client.containers.list(all=True, filters={"label": label})
        return sorted(found, key=lambda c: int(c.labels.get(INDEX_LABEL, "0")))

    def nodes(self, prefix: str | None = None) -> list[Node]:
        """The nodes of one cluster (``prefix``) or of all, in node order."""
        result = []
        for c in self.containers(prefix):
            c.reload()
            networks = c.attrs["NetworkSettings"]["Networks"]
            address = next((n["IPAddress"] for n in networks.values() if n.get("IPAddress")), "")
            hostname, domain = c.attrs["Config"]["Hostname"], c.attrs["Config"].get("Domainname")
            result.append(
                Node(
                    name=c.name or "",
                    fqdn=f"{hostname}.{domain}" if domain else hostname,
                    address=address,
                    role=c.labels.get(ROLE_LABEL, "?"),
                    status=c.status,
                    index=int(c.labels.get(INDEX_LABEL, "0")),
                    cluster=c.labels.get(LABEL, "?"),
                )
            )
        return result

    def clusters(self) -> dict[str, list[Node]]:
        """Every cloudagent cluster on the engine: prefix -> its nodes (none when only its
        network is left)."""
        found: dict[str, list[Node]] = {}
        for network in self.client.networks.list(filters={"label": LABEL}):
            found.setdefault(network.attrs.get("Labels", {}).get(LABEL, "?"), [])
        for node in self.nodes():
            found.setdefault(node.cluster, []).append(node)
        return dict(sorted(found.items()))

    # --- changes --------------------------------------------------------------------------

    def up(self, spec: ClusterSpec, timeout: float = 120.0) -> list[Node]:
        """Create the network and the nodes; wait until every node resolves every other."""
        if self.containers(spec.prefix):
            raise CloudagentError(
                f"a cluster with prefix {spec.prefix!r} exists already; "
                f"'cloudagent cluster down --prefix {spec.prefix}' first, or choose --prefix"
            )
        try:
            self.client.images.get(spec.image)
        except docker.errors.ImageNotFound:
            raise CloudagentError(
                f"image {spec.image} not found; build it with 'make image'"
            ) from None
        self.client.networks.create(spec.network, driver="bridge", labels={LABEL: spec.prefix})
        self.say(f"network {spec.network} created")
        started = time.monotonic()
        try:
            self._start_all(spec)
            nodes = self.wait_resolving(spec.prefix, timeout)
        except (CloudagentError, docker.errors.DockerException) as exc:
            raise CloudagentError(
                f"{exc}; what was made stays for inspection: remove it with "
                f"'cloudagent cluster down --prefix {spec.prefix}'"
            ) from exc
        self.say(
            f"all {len(nodes)} nodes resolve each other, forward and reverse, "
            f"{time.monotonic() - started:.1f}s after the first start"
        )
        return nodes

    def _start_all(self, spec: ClusterSpec) -> None:
        for index in range(1, spec.nodes + 1):
            join = None if index == 1 else self.nodes(spec.prefix)[0].address
            self._start(spec, index, join=join)

    def add(self, spec: ClusterSpec, timeout: float = 120.0) -> Node:
        """One more node, joining the server."""
        nodes = self.nodes(spec.prefix)
        if not nodes:
            raise CloudagentError(
                f"no cluster with prefix {spec.prefix!r}; 'cloudagent cluster up' first"
            )
        server = next((n for n in nodes if n.role == "server"), nodes[0])
        index = max(n.index for n in nodes) + 1
        self._start(spec, index, join=server.address)
        started = time.monotonic()
        resolved = self.wait_resolving(spec.prefix, timeout)
        self.say(
            f"{spec.prefix}{index} resolves everywhere after {time.monotonic() - started:.1f}s"
        )
        return next(n for n in resolved if n.index == index)

    def _start(self, spec: ClusterSpec, index: int, join: str | None) -> None:
        role = "server" if index == 1 else "agent"
        name = f"{spec.prefix}{index}"
        env = {
            "MYDOMAIN": spec.domain,
            "DNS_UPSTREAM": spec.dns_upstream,
            **ambari_env(spec, role),
            **spec.env,
        }
        if join:
            env["SERF_JOIN_IP"] = join
        self.client.containers.run(
            spec.image,
            command=[role],
            name=name,
            hostname=f"{name}.{spec.domain}",
            dns=["127.0.0.1"],
            environment=env,
            network=spec.network,
            detach=True,
            labels={LABEL: spec.prefix, INDEX_LABEL: str(index), ROLE_LABEL: role},
            stop_signal="SIGTERM",
        )
        self.say(f"started {name}.{spec.domain} ({role})" + (f", joining {join}" if join else ""))

    def down(self, prefix: str | None = None) -> tuple[int, int]:
        """Stop and remove the cluster's containers and network; returns how many of each."""
        containers = self.containers(prefix)
        for c in containers:
            if c.status == "running":
                c.stop(timeout=20)
            c.remove(force=True)
            self.say(f"removed {c.name}")
        label = f"{LABEL}={prefix}" if prefix else LABEL
        networks = self.client.networks.list(filters={"label": label})
        for network in networks:
            network.remove()
            self.say(f"removed network {network.name}")
        return len(containers), len(networks)

    # --- checks ---------------------------------------------------------------------------

    def resolution_gaps(self, nodes: Sequence[Node]) -> list[str]:
        """What each node fails to resolve (forward and reverse), through its own resolver."""
        gaps: list[str] = []
        queries = " ".join(f"{n.fqdn} {n.address}" for n in nodes)
        script = f'for q in {queries}; do getent hosts "$q" || echo "MISSING $q"; done'
        for node in nodes:
            _, output = self.exec(node.name, ["sh", "-c", script])
            answers = output.splitlines()
            for target in nodes:
                want = f"{target.address} {target.fqdn}"
                if not any(" ".join(line.split()[:2]) == want for line in answers):
                    gaps.append(f"{node.name} cannot resolve {target.fqdn} <-> {target.address}")
        return gaps

    def wait_resolving(self, prefix: str, timeout: float) -> list[Node]:
        """Wait until every running node resolves every other one."""
        deadline = time.monotonic() + timeout
        while True:
            nodes = [n for n in self.nodes(prefix) if n.status == "running" and n.address]
            gaps = self.resolution_gaps(nodes) if nodes else ["no node running"]
            if not gaps:
                return nodes
            if time.monotonic() > deadline:
                raise CloudagentError(f"not converged after {timeout:g}s: {'; '.join(gaps[:5])}")
            time.sleep(0.5)

    def exec(self, name: str, argv: Sequence[str]) -> tuple[int, str]:
        """Run a command in a node; returns (exit status, output)."""
        code, output = self.client.containers.get(name).exec_run(list(argv))
        text = output.decode(errors="replace") if isinstance(output, bytes) else ""
        return (code if code is not None else -1), text


def describe(nodes: Sequence[Node]) -> list[tuple[str, ...]]:
    """Rows for ``cluster ls``."""
    rows: list[tuple[str, ...]] = [("NAME", "FQDN", "ADDRESS", "ROLE", "STATUS")]
    return rows + [(n.name, n.fqdn, n.address, n.role, n.status) for n in nodes]


def describe_clusters(clusters: Mapping[str, Sequence[Node]]) -> list[tuple[str, ...]]:
    """Rows for ``cluster ls`` without ``--prefix``: one per cluster, as ``docker compose ls``.

    >>> node = Node("node1", "node1.x", "10.0.0.2", "server", "running", 1, "node")
    >>> describe_clusters({"node": [node], "old": []})[1:]
    [('node', 'running(1)', 'node1.x'), ('old', 'network only', '')]
    """
    rows: list[tuple[str, ...]] = [("CLUSTER", "STATUS", "SERVER")]
    for prefix, nodes in clusters.items():
        counts: dict[str, int] = {}
        for node in nodes:
            counts[node.status] = counts.get(node.status, 0) + 1
        status = ", ".join(f"{k}({v})" for k, v in sorted(counts.items())) or "network only"
        server = next((n.fqdn for n in nodes if n.role == "server"), "")
        rows.append((prefix, status, server))
    return rows
