"""Third-party Ambari clients, unchanged, against the emulator with emulated agents.

python-ambariclient (PyPI) drives its own normal flows; SequenceIQ's shell scripts' calls are
replayed with requests, their text filters run by the real grep and sed.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from ambariclient import exceptions
from ambariclient.client import Ambari as AmbariClient

from cloudagent.emulator.agent import Identity, run_agent
from cloudagent.emulator.model import Ambari
from cloudagent.emulator.server import EmulatorServer
from tests.integration.conftest import unique_subnet
from tests.unit.emulated import shipped

NODES = ("node1.example", "node2.example", "node3.example", "node4.example")
FAST = {"interval": 0.2, "timeout": 60}
ADMIN, NEW, WRONG, CLUSTER_PW = "admin", "n3w", "wrong", "pw"  # throwaway test accounts


class Emulated:
    """An emulator on a loopback address with one emulated agent thread per node."""

    def __init__(self, tmp: Path) -> None:
        self.address = f"{unique_subnet()}.1"
        self.ambari = Ambari(task_seconds=0.4)
        self.api = EmulatorServer((self.address, 0), self.ambari)
        self.agents = EmulatorServer((self.address, 0), self.ambari)
        self.api.start()
        self.agents.start()
        self.port = self.api.server_address[1]
        self.base = f"http://{self.address}:{self.port}"
        self.ini = tmp / "ambari-agent.ini"
        self.ini.write_text(
            f"[server]\nhostname={self.address}\nurl_port={self.agents.server_address[1]}\n"
            "connect_retry_delay=1\nmax_reconnect_retry_delay=1\n"
        )
        self.stop = threading.Event()
        self.threads: list[threading.Thread] = []

    def agent(self, name: str) -> None:
        thread = threading.Thread(
            target=run_agent,
            args=(self.ini, Identity(hostname=name), self.ambari.version, 0.2, self.stop),
            daemon=True,
        )
        thread.start()
        self.threads.append(thread)

    def close(self) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=10)
        for server in (self.api, self.agents):
            server.shutdown()
            server.server_close()


@pytest.fixture
def emulated(tmp_path: Path) -> Iterator[Emulated]:
    env = Emulated(tmp_path)
    try:
        yield env
    finally:
        env.close()


def _until(check: Callable[[], Any], seconds: float = 60.0) -> Any:
    deadline = time.monotonic() + seconds
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not reached in {seconds}s: {check}")
        time.sleep(0.2)


def _blueprint_args() -> dict[str, Any]:
    doc = shipped("multi-node-hdfs-yarn")
    return {
        "stack_name": doc["Blueprints"]["stack_name"],
        "stack_version": doc["Blueprints"]["stack_version"],
        "host_groups": doc["host_groups"],
        "configurations": doc.get("configurations", []),
    }


def test_python_ambariclient_flows(emulated: Emulated) -> None:
    client = AmbariClient(emulated.address, port=emulated.port, username="admin", password=ADMIN)
    # version: read from services/AMBARI/components/AMBARI_SERVER
    assert client.version == (2, 6, 2, 2)
    for name in NODES[:3]:
        emulated.agent(name)

    # hosts: list, wait healthy, detail
    _until(lambda: len(list(client.hosts.refresh())) == 3)
    assert sorted(h.host_name for h in client.hosts) == list(NODES[:3])
    # keyword filtering calls dict.iteritems(): broken on Python 3 (predicates: see unit tests)
    with pytest.raises(AttributeError):
        client.hosts(host_status="HEALTHY")
    healthy = requests.get(
        f"{emulated.base}/api/v1/hosts?Hosts/host_name.in({NODES[0]},{NODES[1]})",
        auth=("admin", ADMIN),
        timeout=10,
    ).json()["items"]
    assert [h["Hosts"]["host_name"] for h in healthy] == list(NODES[:2])
    host = client.hosts(NODES[0])
    host.wait(**FAST)
    assert (host.host_status, host.ip, host.os_type) == ("HEALTHY", "127.0.0.1", "redhat7")

    # blueprints: create, duplicate -> Conflict, list, delete
    client.blueprints.create("spare", **_blueprint_args())
    with pytest.raises(exceptions.Conflict):
        client.blueprints.create("spare", **_blueprint_args())
    client.blueprints.create("multi-node-hdfs-yarn", **_blueprint_args())
    assert sorted(b.blueprint_name for b in client.blueprints.refresh()) == [
        "multi-node-hdfs-yarn",
        "spare",
    ]
    groups = client.blueprints("multi-node-hdfs-yarn").host_groups
    assert sorted(g.name for g in groups) == ["master", "worker"]
    client.blueprints("spare").delete()
    with pytest.raises(exceptions.NotFound):
        client.blueprints("spare").inflate()

    # clusters: create and wait for the provisioning request
    cluster = client.clusters.create(
        "c1",
        blueprint="multi-node-hdfs-yarn",
        default_password=CLUSTER_PW,
        host_groups=[
            {"name": "master", "hosts": [{"fqdn": NODES[0]}]},
            {"name": "worker", "hosts": [{"fqdn": NODES[1]}]},
        ],
    )
    cluster.wait(**FAST)
    cluster = client.clusters("c1")
    assert (cluster.version, cluster.total_hosts) == ("HDP-2.6", 2)
    assert [h.host_name for h in cluster.hosts] == list(NODES[:2])
    assert {s.service_name for s in cluster.services} >= {"HDFS", "YARN", "MAPREDUCE2"}
    assert cluster.services("HDFS").state == "STARTED"
    datanode = cluster.services("HDFS").components("DATANODE")
    assert (datanode.category, datanode.total_count) == ("SLAVE", 1)
    roles = {hc.component_name: hc.state for hc in cluster.hosts(NODES[1]).components}
    assert roles["DATANODE"] == "STARTED"
    assert {hc.host_name for hc in cluster.host_components} == set(NODES[:2])
    request = next(iter(cluster.requests))
    assert request.request_status == "COMPLETED"
    tasks = list(request.tasks)
    assert tasks
    assert all(t.status == "COMPLETED" for t in tasks)
    assert {t.role for t in tasks} >= {"NAMENODE", "DATANODE"}

    # operating: stop and start a host component, restart it, stop and start a service
    dn = cluster.hosts(NODES[1]).components("DATANODE")
    dn.stop().wait(**FAST)
    assert dn.refresh().state == "INSTALLED"
    dn.start().wait(**FAST)
    assert dn.refresh().state == "STARTED"
    dn.restart().wait(**FAST)
    yarn = client.clusters("c1").services("YARN")
    yarn.stop().wait(**FAST)
    assert yarn.refresh().state == "INSTALLED"
    yarn.start().wait(**FAST)
    assert yarn.refresh().state == "STARTED"

    # stacks
    stack = client.stacks("HDP").versions("2.6")
    assert "HDFS" in [s.service_name for s in stack.services]

    # scale-up by the client's own call (ClusterHost.create -> POST .../hosts with host_group)
    emulated.agent(NODES[2 + 1])
    _until(lambda: NODES[3] in [h.host_name for h in client.hosts.refresh()])
    added = client.clusters("c1").hosts.create(
        NODES[3], blueprint="multi-node-hdfs-yarn", host_group="worker"
    )
    added.wait(**FAST)
    assert client.clusters("c1").refresh().total_hosts == 3

    # create_many double-encodes its body (json=json.dumps(...)): the server sees a JSON string
    with pytest.raises(exceptions.BadRequest):
        client.clusters("c1").hosts.create_many(
            [{"host_name": NODES[2], "host_group": "worker", "blueprint": "multi-node-hdfs-yarn"}]
        )
    # ... the same call with a well-formed body, as the client meant it:
    reply = requests.post(
        f"{emulated.base}/api/v1/clusters/c1/hosts",
        json=[{"host_name": NODES[2], "host_group": "worker", "blueprint": "multi-node-hdfs-yarn"}],
        auth=("admin", "admin"),
        headers={"X-Requested-By": "test"},
        timeout=10,
    )
    assert reply.status_code == 202
    client.clusters("c1").requests(str(reply.json()["Requests"]["id"])).wait(**FAST)

    # users: password change with the acting user's old password
    with pytest.raises(exceptions.ServerError):
        client.users("admin").update(password=NEW, old_password=WRONG)
    client.users("admin").update(password=NEW, old_password=ADMIN)
    with pytest.raises(exceptions.Forbidden):
        list(client.clusters.refresh())
    again = AmbariClient(emulated.address, port=emulated.port, username="admin", password=NEW)
    assert [c.cluster_name for c in again.clusters] == ["c1"]


def test_sequenceiq_scripts_calls(emulated: Emulated) -> None:
    """wait-for-host-number.sh, then ambari-shell's blueprint and cluster posts and polling."""
    grep, sed = shutil.which("grep"), shutil.which("sed")
    assert grep and sed, "grep and sed are needed to replay the scripts"
    session = requests.Session()
    session.auth = ("admin", "admin")
    url = f"{emulated.base}/api/v1"
    # wait-for-host-number.sh: poll /check until RUNNING, then count host_name lines
    assert _until(lambda: session.get(f"{url}/check", timeout=5).text == "RUNNING")
    for name in NODES[:2]:
        emulated.agent(name)

    def host_count() -> int:
        text = session.get(f"{url}/hosts", timeout=5).text
        out = subprocess.run(
            [grep, "-c", "host_name"], input=text, capture_output=True, text=True, check=False
        )
        # grep exits 1 when it counts no line (no host registered yet) and 2 on an error.
        assert out.returncode in (0, 1), out.stderr
        return int(out.stdout.strip() or 0)

    _until(lambda: host_count() == 2)
    # ambari-shell: blueprint, then cluster named after the blueprint with default_password
    headers = {"X-Requested-By": "ambari-shell"}
    doc = shipped("multi-node-hdfs-yarn")
    posted = session.post(
        f"{url}/blueprints/multi-node-hdfs-yarn", json.dumps(doc), headers=headers
    )
    assert posted.status_code == 201
    template = {
        "blueprint": "multi-node-hdfs-yarn",
        "default_password": "admin",
        "host_groups": [
            {"name": "master", "hosts": [{"fqdn": NODES[0]}]},
            {"name": "worker", "hosts": [{"fqdn": NODES[1]}]},
        ],
    }
    created = session.post(
        f"{url}/clusters/multi-node-hdfs-yarn", json.dumps(template), headers=headers
    )
    assert created.status_code == 202
    request_url = created.json()["href"]

    def progress() -> int:
        text = session.get(request_url, timeout=5).text
        out = subprocess.run(
            [sed, "-n", r's/.*"progress_percent" : \([0-9]*\).*/\1/p'],
            input=text,
            capture_output=True,
            text=True,
            check=True,
        )
        return int(out.stdout.strip())

    seen: list[int] = []

    def finished() -> bool:
        seen.append(progress())
        return seen[-1] == 100

    _until(finished)
    assert seen == sorted(seen)
