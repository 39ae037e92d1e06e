"""Provisioning end to end on a loopback cluster: real serf and dnsmasq, the Ambari emulator,
emulated agents that resolve through each node's own dnsmasq."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Iterator

import pytest

from cloudagent.ambari.agentconf import DEFAULT_INI
from cloudagent.ambari.client import AmbariClient
from cloudagent.dev.localcluster import LocalCluster, LocalNode, wait_for
from cloudagent.secret import Secret
from tests.integration.conftest import MakeCluster, unique_subnet
from tests.nodecli import status


def phase_is(node: LocalNode, *phases: str) -> bool:
    return status(node).get("phase") in phases


def client(cluster: LocalCluster) -> AmbariClient:
    return AmbariClient(f"http://{cluster.address(1)}:8080", password=Secret("admin"), retries=0)


AMBARI = {"BLUEPRINT": "multi-node-hdfs-yarn", "CLUSTER_NAME": "it"}


def test_blueprint_is_provisioned_and_a_late_host_is_added(make_cluster: MakeCluster) -> None:
    cluster = make_cluster(3, ambari={**AMBARI, "EXPECTED_HOST_COUNT": "3"})
    nodes = cluster.nodes
    wait_for(
        lambda: phase_is(nodes[2], "completed"),
        timeout=60,
        interval=0.3,
        what="cluster provisioned",
    )
    ambari = client(cluster)
    registered = sorted(h.name for h in ambari.hosts())
    assert registered == sorted(n.fqdn for n in nodes)  # every host under the name DNS serves
    assert sorted(ambari.cluster_hosts("it")) == registered
    for node in nodes:
        ini = (node.base_dir / "ambari-agent.ini").read_text()
        default = DEFAULT_INI.replace("connect_retry_delay=10", "connect_retry_delay=1")
        assert ini == default.replace("hostname=localhost", f"hostname={nodes[0].fqdn}")

    late = cluster.add("agent")
    wait_for(
        lambda: late.fqdn in ambari.cluster_hosts("it"),
        timeout=60,
        interval=0.3,
        what="late host added to the cluster",
    )
    wait_for(
        lambda: phase_is(nodes[0], "completed"), timeout=60, interval=0.3, what="scale-up completed"
    )
    assert len(ambari.request_ids("it")) == 2
    assert "scale-up request 2" in nodes[0].log_file.read_text()


@pytest.fixture
def external_emulator() -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """An emulator the test runs itself, so that Ambari outlives the server role's agent."""
    subnet = unique_subnet()
    address = f"{subnet}.11"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "cloudagent",
            "ambari-emulator",
            "--listen",
            f"{address}:8080",
            "--agent-listen",
            f"{address}:8440",
            "--task-seconds",
            "4",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    yield subnet, process
    process.send_signal(signal.SIGTERM)
    process.wait(10)


def test_server_role_restart_mid_provisioning_keeps_one_cluster(
    make_cluster: MakeCluster, external_emulator: tuple[str, subprocess.Popen[bytes]]
) -> None:
    subnet, _ = external_emulator
    cluster = make_cluster(
        0, ambari={**AMBARI, "EXPECTED_HOST_COUNT": "2", "AMBARI_SERVER_COMMAND": ""}
    )
    cluster.subnet = subnet
    nodes = cluster.start(2)
    server = nodes[0]
    wait_for(
        lambda: phase_is(nodes[1], "provisioning"),
        timeout=60,
        interval=0.2,
        what="provisioning started",
    )
    server.kill()  # mid-provisioning: no graceful anything
    server.start("server")
    wait_for(
        lambda: phase_is(nodes[1], "completed"),
        timeout=90,
        interval=0.3,
        what="provisioning completed after the restart",
    )
    ambari = client(cluster)
    assert ambari.request_ids("it") == [1]  # one cluster, one provisioning request
    log = server.log_file.read_text()  # both runs of the server role's agent
    assert log.count("cluster it requested") == 1
    assert log.count("starting node1.cluster.internal as server") == 2
