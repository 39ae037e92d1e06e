"""The server role's provisioner against the emulator: create once, resume, scale up."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest

from cloudagent.ambari.blueprint import Blueprint
from cloudagent.ambari.client import AmbariClient
from cloudagent.ambari.layout import LayoutError
from cloudagent.ambari.provision import ClusterOrder, Layout, Provisioner, provision_cluster
from cloudagent.ambari.settings import load_ambari
from cloudagent.errors import CloudagentError
from cloudagent.members import Member, Membership, Status
from cloudagent.secret import Secret
from tests.unit.emulated import api, running, shipped

DOMAIN = "test.internal"


def members(*names: str, server: str = "n1") -> Membership:
    return Membership(
        tuple(
            Member(
                n,
                ipaddress.ip_address(f"127.0.0.{i + 10}"),
                7946,
                Status.ALIVE,
                {"role": "server" if n == server else "agent"},
            )
            for i, n in enumerate(names)
        )
    )


def provisioner(base: str, tmp_path: Path, expected: int = 2) -> Provisioner:
    settings = load_ambari(
        {
            "EXPECTED_HOST_COUNT": str(expected),
            "BLUEPRINT": "multi-node-hdfs-yarn",
            "CLUSTER_NAME": "c1",
            "DEFAULT_PASSWORD": "pw",
        }
    )
    client = AmbariClient(base, password=Secret("admin"), retries=0)
    return Provisioner(client, settings, DOMAIN, f"n1.{DOMAIN}", tmp_path / "provision.json")


def register(ambari: object, *names: str) -> None:
    for name in names:
        fqdn = f"{name}.{DOMAIN}"
        ambari.register(fqdn, "127.0.0.1", ambari.version)  # type: ignore[attr-defined]
        ambari.heartbeat(fqdn, 0)  # type: ignore[attr-defined]


def test_waits_for_hosts_then_creates_once_and_resumes(tmp_path: Path) -> None:
    with running(task_seconds=1.0) as (ambari, base, clock):
        p = provisioner(base, tmp_path)
        register(ambari, "n1", "stranger")
        status = p.step(members("n1", "n2"))
        assert status.phase == "waiting-for-hosts"
        assert "not registered yet: n2.test.internal" in status.message
        assert (
            "registered under a name no alive Serf member has: stranger.test.internal"
            in status.message
        )
        register(ambari, "n2")
        status = p.step(members("n1", "n2"))
        assert (status.phase, status.request) == ("provisioning", 1)
        hosts = {
            h["Hosts"]["host_name"]: h["Hosts"].get("cluster_name")
            for h in api(base, "GET", "hosts").json()["items"]
        }
        assert hosts == {
            "n1.test.internal": "c1",
            "n2.test.internal": "c1",
            "stranger.test.internal": None,
        }

        # A restarted agent (new Provisioner, same state dir or none) resumes; never re-creates.
        (tmp_path / "provision.json").unlink()
        again = provisioner(base, tmp_path)
        clock.now += 5
        status = again.step(members("n1", "n2"))
        assert (status.phase, status.request, status.progress) == ("completed", 1, 100.0)
        assert list(ambari.clusters) == ["c1"]
        assert status.tags()["ambari-phase"] == "completed"


def test_late_host_is_added_with_scale_up(tmp_path: Path) -> None:
    with running(task_seconds=1.0) as (ambari, base, clock):
        p = provisioner(base, tmp_path)
        register(ambari, "n1", "n2")
        p.step(members("n1", "n2"))
        clock.now += 5
        assert p.step(members("n1", "n2")).phase == "completed"
        register(ambari, "n3")
        status = p.step(members("n1", "n2", "n3"))
        assert status.phase == "scaling"
        assert "Scale Cluster 'c1' (+1 hosts)" in status.message
        assert p.step(members("n1", "n2", "n3")).phase == "scaling"  # not posted twice
        assert len(ambari.requests) == 2
        clock.now += 5
        assert p.step(members("n1", "n2", "n3")).phase == "completed"
        assert ambari.requests[2].hosts == {"n3.test.internal": "worker"}


def test_a_different_blueprint_under_the_same_name_is_an_error(tmp_path: Path) -> None:
    with running() as (ambari, base, _clock):
        other = shipped("multi-node-hdfs-yarn")
        other["configurations"] = [{"hdfs-site": {"properties": {"dfs.replication": "9"}}}]
        api(base, "POST", "blueprints/x", other)
        register(ambari, "n1", "n2")
        status = provisioner(base, tmp_path).step(members("n1", "n2"))
        assert status.phase == "error"
        assert "already registered in Ambari with different content" in status.message
        assert "hdfs-site/dfs.replication: '2' here, '9' in Ambari" in status.message


def test_failed_request_is_reported_as_failure(tmp_path: Path) -> None:
    with running(task_seconds=1.0) as (ambari, base, clock):
        ambari.faults.fail_component = "NAMENODE"
        p = provisioner(base, tmp_path)
        register(ambari, "n1", "n2")
        p.step(members("n1", "n2"))
        clock.now += 5
        status = p.step(members("n1", "n2"))
        assert status.phase == "failed"
        assert "FAILED" in status.message


def test_unreachable_ambari_is_a_wait_not_a_crash(tmp_path: Path) -> None:
    status = provisioner("http://127.0.0.1:1", tmp_path).step(members("n1"))
    assert status.phase == "waiting-for-ambari"


def test_server_role_checks_the_template_before_sending_anything(tmp_path: Path) -> None:
    settings = load_ambari(
        {"EXPECTED_HOST_COUNT": "2", "BLUEPRINT": "hive-mysql", "CLUSTER_NAME": "c1"}
    )
    with running() as (ambari, base, _clock):
        client = AmbariClient(base, password=Secret("admin"), retries=0)
        p = Provisioner(client, settings, DOMAIN, f"n1.{DOMAIN}", tmp_path / "provision.json")
        register(ambari, "n1", "n2")
        status = p.step(members("n1", "n2"))
        assert status.phase == "error"
        assert "cluster c1 would be rejected by Ambari: 400" in status.message
        assert "default_password" in status.message
        assert api(base, "GET", "blueprints").json()["items"] == []


def test_cluster_order_validates_once_and_takes_the_cluster_override() -> None:
    settings = load_ambari({"BLUEPRINT": "single-node-hdfs-yarn"})
    order = ClusterOrder.from_settings(settings)
    assert order.cluster == "hadoop"  # the one default, in settings
    assert order.checked is order.checked
    assert ClusterOrder.from_settings(settings, cluster="c9").cluster == "c9"
    broken = ClusterOrder("b", {"Blueprints": {"stack_name": "HDP"}}, "c")
    with pytest.raises(CloudagentError, match="blueprint 'b' would be rejected by Ambari: 400"):
        _ = broken.checked


def test_provision_cluster_sends_nothing_when_the_layout_fails(tmp_path: Path) -> None:
    order = ClusterOrder.from_settings(load_ambari({"BLUEPRINT": "single-node-hdfs-yarn"}))

    def no_layout(bp: Blueprint) -> Layout:
        raise LayoutError("no host for master")

    with running() as (_, base, _clock):
        client = AmbariClient(base, password=Secret("admin"), retries=0)
        with pytest.raises(LayoutError):
            provision_cluster(client, order, no_layout)
        assert api(base, "GET", "blueprints").json()["items"] == []
