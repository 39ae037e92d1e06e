"""The emulator over real HTTP: Ambari's status codes, messages, body shapes and content type."""

from __future__ import annotations

import json

from cloudagent.ambari.client import AmbariClient
from cloudagent.secret import Secret
from tests.unit.emulated import api, running, shipped

TEMPLATE = {
    "blueprint": "multi-node-hdfs-yarn",
    "default_password": "pw",
    "host_groups": [
        {"name": "master", "hosts": [{"fqdn": "Node1.Test"}]},
        {"name": "worker", "hosts": [{"fqdn": "node2.test"}]},
    ],
}


def test_auth_and_csrf_as_ambari() -> None:
    with running() as (_, base, _clock):
        none = api(base, "GET", "blueprints", auth=None)
        assert none.status_code == 403
        assert none.headers["Content-Type"] == "text/plain;charset=utf-8"
        assert none.json()["message"] == "Full authentication is required to access this resource"
        assert none.text.startswith('{\n  "status" : 403,\n  "message" : ')  # Jackson's layout
        bad = api(base, "GET", "blueprints", auth=("admin", "wrong"))
        assert bad.status_code == 403
        assert "Invalid username/password combination" in bad.json()["message"]
        no_csrf = api(base, "POST", "blueprints/x", shipped("single-node-hdfs-yarn"), csrf=False)
        assert no_csrf.status_code == 400
        assert no_csrf.json()["message"] == (
            "CSRF protection is turned on. X-Requested-By HTTP header is required."
        )
        # Authentication runs before the CSRF filter: neither header -> 403.
        assert api(base, "POST", "blueprints/x", "{}", auth=None, csrf=False).status_code == 403


def test_blueprint_lifecycle() -> None:
    with running() as (_, base, _clock):
        doc = shipped("single-node-hdfs-yarn")
        created = api(base, "POST", "blueprints/url-name", doc)
        assert (created.status_code, created.text) == (201, "")
        # The name in the body wins over the URL.
        listed = api(base, "GET", "blueprints").json()
        assert [i["Blueprints"]["blueprint_name"] for i in listed["items"]] == [
            "single-node-hdfs-yarn"
        ]
        assert listed["items"][0]["href"].endswith("/api/v1/blueprints/single-node-hdfs-yarn")
        again = api(base, "POST", "blueprints/single-node-hdfs-yarn", doc)
        assert again.status_code == 409
        assert again.json()["message"] == (
            "Attempted to create a Blueprint which already exists, "
            "blueprint_name=single-node-hdfs-yarn"
        )
        got = api(base, "GET", "blueprints/single-node-hdfs-yarn").json()
        assert got["Blueprints"]["stack_version"] == "2.6"
        assert got["configurations"] == [{"hdfs-site": {"properties": {"dfs.replication": "1"}}}]
        missing = api(base, "GET", "blueprints/nope")
        assert missing.status_code == 404
        assert missing.json()["message"] == (
            "The requested resource doesn't exist: Blueprint not found, "
            "Blueprints/blueprint_name=nope"
        )
        assert api(base, "DELETE", "blueprints/single-node-hdfs-yarn").status_code == 200


def test_topology_validation_switch() -> None:
    with running() as (_, base, _clock):
        doc = shipped("multi-node-hdfs-yarn")
        doc["host_groups"][1]["components"] = [{"name": "DATANODE"}]  # no NODEMANAGER anywhere
        refused = api(base, "POST", "blueprints/x", doc)
        assert refused.status_code == 400
        assert refused.json()["message"].startswith(
            "Cluster Topology validation failed.  Invalid service component count: "
            "[NODEMANAGER(actual=0, required=1+)]"
        )
        accepted = api(base, "POST", "blueprints/x", doc, params={"validate_topology": "false"})
        assert accepted.status_code == 201


def test_logical_request_waits_for_hosts_then_progresses() -> None:
    with running(task_seconds=10.0) as (ambari, base, clock):
        assert api(base, "POST", "blueprints/b", shipped("multi-node-hdfs-yarn")).status_code == 201
        reply = api(base, "POST", "clusters/c1", TEMPLATE)
        assert reply.status_code == 202
        assert reply.json() == {
            "href": f"{base}/api/v1/clusters/c1/requests/1",
            "Requests": {"id": 1, "status": "Accepted"},
        }
        request = api(base, "GET", "clusters/c1/requests/1").json()["Requests"]
        assert request["request_status"] == "PENDING"
        assert request["pending_host_request_count"] == 2
        assert request["progress_percent"] == 0.0
        assert request["request_context"] == "Logical Request: Provision Cluster 'c1'"
        # Agents register with lower-cased names; the template's upper case was folded too.
        ambari.register("node1.test", "127.0.0.1", ambari.version)
        ambari.register("node2.test", "127.0.0.2", ambari.version)
        clock.now += 5  # every INSTALL task is past its queue time: IN_PROGRESS
        running_ = api(base, "GET", "clusters/c1/requests/1").json()["Requests"]
        assert running_["request_status"] == "IN_PROGRESS"
        assert running_["pending_host_request_count"] == 0
        installs = sum(1 for r in ambari.requests[1].tasks if r.command == "INSTALL")
        expected = 100 * (0.35 * installs) / running_["task_count"]
        assert abs(running_["progress_percent"] - expected) < 1e-9
        clock.now += 20
        done = api(base, "GET", "clusters/c1/requests/1").json()["Requests"]
        assert (done["request_status"], done["progress_percent"]) == ("COMPLETED", 100.0)
        hosts = api(base, "GET", "hosts").json()["items"]
        assert [h["Hosts"] for h in hosts] == [
            {"host_name": "node1.test", "cluster_name": "c1"},
            {"host_name": "node2.test", "cluster_name": "c1"},
        ]


def test_cluster_errors() -> None:
    with running() as (ambari, base, _clock):
        api(base, "POST", "blueprints/b", shipped("multi-node-hdfs-yarn"))
        assert api(base, "POST", "clusters/c1", TEMPLATE).status_code == 202
        duplicate = api(base, "POST", "clusters/c1", TEMPLATE)
        assert duplicate.status_code == 500
        assert (
            "Attempted to create a Cluster which already exists, clusterName=c1"
            in duplicate.json()["message"]
        )
        both = dict(
            TEMPLATE,
            host_groups=[
                {"name": "master", "hosts": [{"fqdn": "a"}]},
                {"name": "worker", "hosts": [{"fqdn": "A"}]},
            ],
        )
        twice = api(base, "POST", "clusters/c2", both)
        assert twice.status_code == 400
        assert "mapped to multiple host groups: [a]" in twice.json()["message"]
        unknown = api(base, "GET", "clusters/nope")
        assert unknown.status_code == 404
        assert unknown.json()["message"].endswith("Cluster not found, clusterName=nope")
        hive = shipped("hive-mysql")
        api(base, "POST", "blueprints/h", hive)
        no_password = {"blueprint": "hive-mysql", "host_groups": TEMPLATE["host_groups"]}
        refused = api(base, "POST", "clusters/c3", no_password)
        assert refused.status_code == 400
        assert "Missing required password properties" in refused.json()["message"]
        assert "hive-site=[javax.jdo.option.ConnectionPassword]" in refused.json()["message"]
        assert ambari.clusters.keys() == {"c1"}


def test_scale_up_and_its_errors() -> None:
    with running(task_seconds=1.0) as (ambari, base, clock):
        api(base, "POST", "blueprints/b", shipped("multi-node-hdfs-yarn"))
        api(base, "POST", "clusters/c1", TEMPLATE)
        body = [
            {"blueprint": "multi-node-hdfs-yarn", "host_group": "worker", "host_name": "node3.test"}
        ]
        reply = api(base, "POST", "clusters/c1/hosts", body)
        assert reply.status_code == 202
        request = api(base, "GET", f"clusters/c1/requests/{reply.json()['Requests']['id']}").json()
        assert (
            request["Requests"]["request_context"]
            == "Logical Request: Scale Cluster 'c1' (+1 hosts)"
        )
        bad_group = [{"blueprint": "multi-node-hdfs-yarn", "host_group": "nope", "host_name": "n4"}]
        refused = api(base, "POST", "clusters/c1/hosts", bad_group)
        assert refused.status_code == 400
        assert refused.json()["message"].endswith("Invalid host group specified in request: nope")
        ambari.register("node1.test", "127.0.0.1", ambari.version)
        clock.now += 1
        again = api(
            base,
            "POST",
            "clusters/c1/hosts",
            [
                {
                    "blueprint": "multi-node-hdfs-yarn",
                    "host_group": "worker",
                    "host_name": "node1.test",
                }
            ],
        )
        assert again.status_code == 400
        assert "already in the cluster" in again.json()["message"]


def test_faults_and_failed_requests() -> None:
    with running(task_seconds=1.0) as (ambari, base, clock):
        api(base, "POST", "blueprints/b", shipped("single-node-hdfs-yarn"))
        faults = api(
            base, "PUT", "../../emulator/faults", {"fail_component": "DATANODE", "http_500": 1}
        )
        assert faults.status_code == 200
        assert api(base, "GET", "clusters").status_code == 500
        assert api(base, "GET", "clusters").status_code == 200
        template = {
            "blueprint": "single-node-hdfs-yarn",
            "host_groups": [{"name": "master", "hosts": [{"fqdn": "n1.test"}]}],
        }
        api(base, "POST", "clusters/c1", template)
        ambari.register("n1.test", "127.0.0.1", ambari.version)
        clock.now += 10
        request = api(base, "GET", "clusters/c1/requests/1").json()["Requests"]
        assert request["request_status"] == "FAILED"
        assert request["failed_task_count"] >= 1


def test_agent_registration_protocol() -> None:
    with running(heartbeat_timeout=30) as (ambari, _base, clock):
        refused = ambari.register("n1.test", "127.0.0.1", "2.5.0.0")
        assert refused["response"] == "FAILED"
        assert "non compatible agent version" in refused["log"]
        assert ambari.register("n1.test", "127.0.0.1", ambari.version)["response"] == "OK"
        host = ambari.hosts["n1.test"]
        assert ambari.host_state(host) == ("WAITING_FOR_HOST_STATUS_UPDATES", "UNKNOWN")
        assert ambari.heartbeat("n1.test", 0)["responseId"] == 1
        assert ambari.host_state(host) == ("HEALTHY", "HEALTHY")
        assert "registrationCommand" in ambari.heartbeat("n1.test", 7)  # out of step: re-register
        assert "registrationCommand" in ambari.heartbeat("unknown.test", 0)
        clock.now += 31
        assert ambari.host_state(host) == ("HEARTBEAT_LOST", "UNKNOWN")


def test_client_against_the_emulator() -> None:
    with running(task_seconds=1.0) as (ambari, base, _clock):
        client = AmbariClient(base, password=Secret("admin"), retries=0)
        assert client.ready()
        client.post_blueprint("x", shipped("multi-node-hdfs-yarn"))
        assert client.blueprint("multi-node-hdfs-yarn") is not None
        assert client.blueprint("nope") is None
        request = client.create_cluster("c1", TEMPLATE)
        assert client.request("c1", request).status == "PENDING"
        assert client.request_ids("c1") == [request]
        ambari.register("node1.test", "127.0.0.1", ambari.version)
        ambari.heartbeat("node1.test", 0)
        assert [(h.name, h.status, h.cluster) for h in client.hosts()] == [
            ("node1.test", "HEALTHY", "c1")
        ]
        assert client.cluster_hosts("c1") == ["node1.test"]
        scale = client.add_hosts("c1", "multi-node-hdfs-yarn", {"node9.test": "worker"})
        assert scale > request
        assert json.loads(json.dumps(client.cluster("c1")))["Clusters"]["cluster_name"] == "c1"
