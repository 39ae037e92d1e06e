"""Query features and the resources real clients read and operate, over real HTTP."""

from __future__ import annotations

from typing import Any

from cloudagent.emulator.model import Ambari
from tests.unit.emulated import Clock, api, running, shipped

TEMPLATE = {
    "blueprint": "multi-node-hdfs-yarn",
    "default_password": "pw",
    "host_groups": [
        {"name": "master", "hosts": [{"fqdn": "node1.test"}]},
        {"name": "worker", "hosts": [{"fqdn": "node2.test"}]},
    ],
}


def _up(ambari: Ambari, *names: str) -> None:
    for index, name in enumerate(names):
        ambari.register(name, f"127.0.0.{index + 1}", ambari.version)
        ambari.heartbeat(name, 0)


def _provisioned(ambari: Ambari, base: str, clock: Clock) -> None:
    _up(ambari, "node1.test", "node2.test", "node3.test")
    assert api(base, "POST", "blueprints/b", shipped("multi-node-hdfs-yarn")).status_code == 201
    assert api(base, "POST", "clusters/c1", TEMPLATE).status_code == 202
    clock.now += 100
    assert api(base, "GET", "clusters/c1/requests/1").json()["Requests"]["request_status"] == (
        "COMPLETED"
    )


def _get(base: str, path: str, **params: str) -> Any:
    reply = api(base, "GET", path, params=params)
    assert reply.status_code == 200, reply.text
    return reply.json()


def test_predicates_filter_collections() -> None:
    with running() as (ambari, base, _clock):
        _up(ambari, "a.test", "b.test", "c.test")
        ambari.register("d.test", "127.0.0.4", ambari.version)  # no heartbeat yet: UNKNOWN

        def names(query: str) -> list[str]:
            reply = api(base, "GET", f"hosts?{query}")
            assert reply.status_code == 200, reply.text
            return [i["Hosts"]["host_name"] for i in reply.json()["items"]]

        assert names("Hosts/host_status=HEALTHY") == ["a.test", "b.test", "c.test"]
        assert names("Hosts/host_status!=HEALTHY") == ["d.test"]
        assert names("Hosts/host_name.in(a.test,c.test)") == ["a.test", "c.test"]
        assert names("Hosts/host_name=nosuch") == []
        assert names("Hosts/ip>127.0.0.2|Hosts/host_name=a.test") == ["a.test", "c.test", "d.test"]
        assert names("(Hosts/host_name=a.test|Hosts/host_name=b.test)&Hosts/cpu_count>=2") == [
            "a.test",
            "b.test",
        ]
        assert names("!Hosts/host_name=a.test&Hosts/host_status=HEALTHY") == ["b.test", "c.test"]
        assert names("Hosts/cpu_count<2") == []
        assert names("Hosts/desired_configs.isEmpty()") == ["a.test", "b.test", "c.test", "d.test"]
        empty = api(base, "GET", "hosts?Hosts/host_name=nosuch")
        assert empty.json()["items"] == []
        assert empty.json()["href"].endswith("/api/v1/hosts?Hosts/host_name=nosuch")
        bad = api(base, "GET", "hosts?Hosts/host_name=(a")
        assert bad.status_code == 400
        assert bad.json()["message"].startswith("Unable to compile query predicate")
        unknown = api(base, "GET", "hosts?Nope/x=1")
        assert unknown.status_code == 400
        assert "not supported for the resource type Host" in unknown.json()["message"]


def test_paging_and_sorting() -> None:
    with running() as (ambari, base, _clock):
        _up(ambari, *(f"h{i:02d}.test" for i in range(25)))

        def names(**params: str) -> list[str]:
            return [i["Hosts"]["host_name"] for i in _get(base, "hosts", **params)["items"]]

        assert len(names(page_size="0")) == 0
        assert len(names(from_="0") if False else names(**{"from": "0"})) == 20  # default size 20
        assert names(page_size="2", **{"from": "3"}) == ["h03.test", "h04.test"]
        assert names(page_size="2", to="end") == ["h23.test", "h24.test"]
        assert names(page_size="3", to="4") == ["h02.test", "h03.test", "h04.test"]
        assert names(page_size="2", sortBy="Hosts/host_name.desc") == ["h24.test", "h23.test"]


def test_partial_response_and_expansion() -> None:
    with running() as (ambari, base, clock):
        _provisioned(ambari, base, clock)
        fields = "Requests/request_status,Requests/request_context"
        listed = _get(base, "clusters/c1/requests", fields=fields)
        assert listed["href"].endswith(f"/clusters/c1/requests?fields={fields}")
        assert listed["items"][0]["Requests"] == {
            "cluster_name": "c1",
            "id": 1,
            "request_context": "Logical Request: Provision Cluster 'c1'",
            "request_status": "COMPLETED",
        }
        expanded = _get(base, "clusters/c1/requests/1", fields="tasks/Tasks/*")
        assert set(expanded) == {"href", "Requests", "tasks"}
        assert expanded["Requests"] == {"cluster_name": "c1", "id": 1}
        task = expanded["tasks"][0]["Tasks"]
        assert {"status", "role", "command", "host_name", "command_detail", "start_time"} <= set(
            task
        )
        assert task["status"] == "COMPLETED"
        hosts = _get(base, "hosts", fields="Hosts/ip")
        assert hosts["items"][0]["Hosts"] == {
            "cluster_name": "c1",
            "host_name": "node1.test",
            "ip": "127.0.0.1",
        }
        full_items = _get(base, "blueprints", fields="Blueprints")["items"][0]["Blueprints"]
        assert full_items["stack_version"] == "2.6"
        one_level = _get(base, "clusters/c1/hosts/node1.test", fields="host_components/*")
        assert one_level["host_components"][0]["HostRoles"]["state"] == "STARTED"
        deep = _get(
            base,
            "clusters/c1/services/HDFS",
            fields="components/host_components/HostRoles/host_name",
        )
        hosts_of = {
            c["ServiceComponentInfo"]["component_name"]: [
                h["HostRoles"]["host_name"] for h in c["host_components"]
            ]
            for c in deep["components"]
        }
        assert hosts_of["NAMENODE"] == ["node1.test"]


def test_cluster_resources_follow_the_task_model() -> None:
    with running(task_seconds=10.0) as (ambari, base, clock):
        _up(ambari, "node1.test", "node2.test")
        api(base, "POST", "blueprints/b", shipped("multi-node-hdfs-yarn"))
        api(base, "POST", "clusters/c1", TEMPLATE)
        clock.now += 5  # INSTALL tasks running
        hc = _get(base, "clusters/c1/hosts/node2.test/host_components/DATANODE")["HostRoles"]
        assert (hc["state"], hc["service_name"]) == ("INSTALLING", "HDFS")
        clock.now += 100
        cluster = _get(base, "clusters/c1")
        assert cluster["hosts"][0]["href"].endswith("/clusters/c1/hosts/node1.test")
        assert {s["ServiceInfo"]["service_name"] for s in cluster["services"]} >= {"HDFS", "YARN"}
        assert cluster["stack_versions"][0]["ClusterStackVersions"]["version"] == "2.6"
        assert _get(base, "clusters/c1/services/HDFS")["ServiceInfo"]["state"] == "STARTED"
        component = _get(base, "clusters/c1/services/HDFS/components/DATANODE")
        info = component["ServiceComponentInfo"]
        assert (info["category"], info["started_count"], info["total_count"]) == ("SLAVE", 1, 1)
        client = _get(base, "clusters/c1/hosts/node1.test/host_components/HDFS_CLIENT")
        assert client["HostRoles"]["state"] == "INSTALLED"
        assert len(_get(base, "clusters/c1/host_components")["items"]) == sum(
            len(c) for c in ambari.clusters["c1"].layout.values()
        )
        assert len(_get(base, "clusters/c1/components")["items"]) >= 4
        tasks = _get(base, "clusters/c1/requests/1/tasks")["items"]
        one = _get(base, tasks[0]["href"].split("/api/v1/")[1])["Tasks"]
        assert one["command_detail"] == f"{one['role']} {one['command']}"
        assert one["end_time"] > one["start_time"] > 0
        missing = api(base, "GET", "clusters/c1/services/NOPE")
        assert missing.status_code == 404


def test_server_version_stacks_and_users() -> None:
    with running() as (_ambari, base, _clock):
        server = _get(base, "services/AMBARI/components/AMBARI_SERVER")
        assert server["RootServiceComponents"]["component_version"] == "2.6.2.2"
        stacks = _get(base, "stacks")["items"]
        assert stacks == [{"href": f"{base}/api/v1/stacks/HDP", "Stacks": {"stack_name": "HDP"}}]
        version = _get(base, "stacks/HDP/versions/2.6")
        assert any(s["StackServices"]["service_name"] == "HDFS" for s in version["services"])
        dn = _get(base, "stacks/HDP/versions/2.6/services/HDFS/components/DATANODE")
        assert dn["StackServiceComponents"]["component_category"] == "SLAVE"
        assert dn["StackServiceComponents"]["custom_commands"] == []
        assert api(base, "GET", "stacks/HDP/versions/9.9").status_code == 404
        assert _get(base, "users/admin")["Users"]["admin"] is True
        wrong = api(base, "PUT", "users/admin", {"Users": {"password": "n", "old_password": "x"}})
        assert wrong.status_code == 500
        assert wrong.json()["message"].endswith("Wrong password provided")
        changed = api(
            base, "PUT", "users/admin", {"Users": {"password": "n3w", "old_password": "admin"}}
        )
        assert changed.status_code == 200
        assert api(base, "GET", "clusters").status_code == 403
        assert api(base, "GET", "clusters", auth=("admin", "n3w")).status_code == 200


def test_operating_a_running_cluster() -> None:
    with running(task_seconds=10.0) as (ambari, base, clock):
        _provisioned(ambari, base, clock)
        path = "clusters/c1/hosts/node2.test/host_components/DATANODE"
        stop = api(
            base,
            "PUT",
            path,
            {"RequestInfo": {"context": "Stop DN"}, "HostRoles": {"state": "INSTALLED"}},
        )
        assert stop.status_code == 202
        request = stop.json()["href"].split("/api/v1/")[1]
        assert _get(base, request)["Requests"]["request_context"] == "Stop DN"
        clock.now += 5
        assert _get(base, path)["HostRoles"]["state"] == "STOPPING"
        clock.now += 10
        assert _get(base, path)["HostRoles"]["state"] == "INSTALLED"
        assert _get(base, "clusters/c1/services/HDFS")["ServiceInfo"]["state"] == "INSTALLED"
        again = api(base, "PUT", path, {"HostRoles": {"state": "INSTALLED"}})
        assert (again.status_code, again.text) == (200, "")
        start = api(
            base,
            "PUT",
            "clusters/c1/services/HDFS",
            {"Body": {"ServiceInfo": {"state": "STARTED"}}},
        )
        assert start.status_code == 202
        clock.now += 20
        assert _get(base, "clusters/c1/services/HDFS")["ServiceInfo"]["state"] == "STARTED"
        restart = api(
            base,
            "POST",
            "clusters/c1/requests",
            {
                "RequestInfo": {"command": "RESTART", "context": "Restart DN"},
                "Requests/resource_filters": [
                    {"service_name": "HDFS", "component_name": "DATANODE", "hosts": "node2.test"}
                ],
            },
        )
        assert restart.status_code == 202
        rid = restart.json()["Requests"]["id"]
        task = _get(base, f"clusters/c1/requests/{rid}", fields="tasks/Tasks/*")["tasks"][0][
            "Tasks"
        ]
        assert (task["command"], task["custom_command_name"], task["role"]) == (
            "CUSTOM_COMMAND",
            "RESTART",
            "DATANODE",
        )
        clock.now += 20
        assert (
            _get(base, f"clusters/c1/requests/{rid}")["Requests"]["request_status"] == "COMPLETED"
        )
        # A host with started components cannot be removed.
        refused = api(base, "DELETE", "clusters/c1/hosts/node2.test")
        assert refused.status_code == 500
        assert refused.json()["message"] == (
            "An internal system exception occurred: Cannot remove host node2.test from c1.  The "
            "following roles exist, and these components are not in the removable state: "
            "DATANODE, NODEMANAGER"
        )
        api(
            base,
            "PUT",
            "clusters/c1/services",
            {
                "RequestInfo": {"query": "ServiceInfo/state=STARTED"},
                "Body": {"ServiceInfo": {"state": "INSTALLED"}},
            },
        )
        clock.now += 20
        assert api(base, "DELETE", "clusters/c1/hosts/node2.test").status_code == 200
        assert api(base, "GET", "clusters/c1/hosts/node2.test").status_code == 404
        assert api(base, "DELETE", "hosts/node2.test").status_code == 200
        assert api(base, "GET", "hosts/node2.test").status_code == 404
        assert api(base, "GET", "clusters/c1?format=blueprint").status_code == 400
        assert api(base, "DELETE", "clusters/c1").status_code == 200
        assert _get(base, "clusters")["items"] == []


def test_scale_up_variants() -> None:
    with running() as (ambari, base, clock):
        _provisioned(ambari, base, clock)
        _up(ambari, "node4.test", "node5.test")
        one = api(
            base,
            "POST",
            "clusters/c1/hosts/node3.test",
            {"blueprint": "multi-node-hdfs-yarn", "host_group": "worker"},
        )
        assert one.status_code == 202
        assert one.json()["Requests"]["status"] == "Accepted"
        plain = api(base, "POST", "clusters/c1/hosts", [{"Hosts": {"host_name": "node4.test"}}])
        assert plain.status_code == 201
        bare = api(base, "POST", "clusters/c1/hosts/node5.test")
        assert bare.status_code == 201
        unknown = api(base, "POST", "clusters/c1/hosts/ghost.test")
        assert unknown.status_code == 400
        assert "have not been registered with the server: ghost.test" in unknown.json()["message"]
        clock.now += 100
        hosts = [i["Hosts"]["host_name"] for i in _get(base, "clusters/c1/hosts")["items"]]
        assert hosts == ["node1.test", "node2.test", "node3.test", "node4.test", "node5.test"]
        assert _get(base, "clusters/c1/hosts/node4.test")["host_components"] == []
        added = api(base, "POST", "clusters/c1/hosts/node4.test/host_components/DATANODE")
        assert added.status_code == 201
        install = api(
            base,
            "PUT",
            "clusters/c1/hosts/node4.test/host_components/DATANODE",
            {"HostRoles": {"state": "INSTALLED"}},
        )
        assert install.status_code == 202
        clock.now += 10
        hc = _get(base, "clusters/c1/hosts/node4.test/host_components/DATANODE")["HostRoles"]
        assert hc["state"] == "INSTALLED"


def test_a_failed_task_aborts_the_rest_and_fails_the_request() -> None:
    with running(task_seconds=10.0) as (ambari, base, clock):
        ambari.faults.fail_component = "NAMENODE"
        _up(ambari, "node1.test", "node2.test")
        api(base, "POST", "blueprints/b", shipped("multi-node-hdfs-yarn"))
        api(base, "POST", "clusters/c1", TEMPLATE)
        clock.now += 12  # the INSTALL stage has ended: NAMENODE failed
        request = _get(base, "clusters/c1/requests/1")["Requests"]
        assert request["request_status"] == "FAILED"
        assert request["failed_task_count"] == 1
        assert request["aborted_task_count"] == request["task_count"] - request[
            "failed_task_count"
        ] - sum(1 for t in ambari.requests[1].tasks if t.command == "INSTALL" and not t.fails)
        assert request["progress_percent"] == 100.0
        statuses = {
            t["Tasks"]["status"]
            for t in _get(base, "clusters/c1/requests/1", fields="tasks/Tasks/status")["tasks"]
        }
        assert statuses == {"COMPLETED", "FAILED", "ABORTED"}


def test_host_predicate_picks_matching_hosts_or_is_rejected() -> None:
    with running() as (ambari, base, _clock):
        _up(ambari, "a.test", "b.test")
        api(base, "POST", "blueprints/b", shipped("multi-node-hdfs-yarn"))
        template: dict[str, Any] = {
            "blueprint": "multi-node-hdfs-yarn",
            "default_password": "pw",
            "host_groups": [
                {"name": "master", "host_count": 1, "host_predicate": "Hosts/host_name=b.test"},
                {"name": "worker", "host_count": 1, "host_predicate": "Hosts/cpu_count>=2"},
            ],
        }
        assert api(base, "POST", "clusters/c1", template).status_code == 202
        assert ambari.requests[1].hosts == {"b.test": "master", "a.test": "worker"}
        template["host_groups"][0]["host_predicate"] = "Clusters/cluster_name=x"
        rejected = api(base, "POST", "clusters/c2", template)
        assert rejected.status_code == 400
        assert "only Hosts/* properties may be used" in rejected.json()["message"]
