"""rack_info from the members' rack tags reaches Ambari's hosts (the emulator over real HTTP)."""

from __future__ import annotations

import ipaddress
from pathlib import Path

from cloudagent.ambari.client import AmbariClient
from cloudagent.ambari.provision import Provisioner, cluster_template
from cloudagent.ambari.settings import load_ambari
from cloudagent.members import Member, Membership, Status
from cloudagent.secret import Secret
from tests.unit.emulated import api, running, shipped

DOMAIN = "test.internal"


def membership(racks: dict[str, str | None]) -> Membership:
    members = []
    for i, (name, rack) in enumerate(racks.items()):
        tags = {"role": "server" if i == 0 else "agent"}
        if rack is not None:
            tags["rack"] = rack
        address = ipaddress.ip_address(f"127.0.0.{i + 10}")
        members.append(Member(name, address, 7946, Status.ALIVE, tags))
    return Membership(tuple(members))


def provisioner(base: str, tmp_path: Path, expected: int) -> Provisioner:
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


def racks_in_ambari(base: str) -> dict[str, str]:
    items = api(base, "GET", "hosts", params={"fields": "Hosts/*"}).json()["items"]
    return {h["Hosts"]["host_name"]: h["Hosts"]["rack_info"] for h in items}


def test_cluster_template_carries_rack_info_per_host() -> None:
    template = cluster_template(
        "bp", {"master": ["a.x"], "worker": ["b.x", "c.x"]}, None, {"a.x": "/r1", "b.x": "/r2"}
    )
    assert template["host_groups"] == [
        {"name": "master", "hosts": [{"fqdn": "a.x", "rack_info": "/r1"}]},
        {"name": "worker", "hosts": [{"fqdn": "b.x", "rack_info": "/r2"}, {"fqdn": "c.x"}]},
    ]
    assert cluster_template("bp", {"g": ["a.x"]}, None)["host_groups"][0]["hosts"] == [
        {"fqdn": "a.x"}
    ]


def test_rack_tags_reach_ambari_hosts_at_creation_and_scale_up(tmp_path: Path) -> None:
    racks: dict[str, str | None] = {"n1": "/dc1/host-a", "n2": "/dc1/host-b", "n3": "bad rack"}
    with running(task_seconds=1.0) as (ambari, base, clock):
        register(ambari, "n1", "n2", "n3", "stranger")
        p = provisioner(base, tmp_path, expected=3)
        assert p.step(membership(racks)).phase == "provisioning"
        assert racks_in_ambari(base) == {
            "n1.test.internal": "/dc1/host-a",
            "n2.test.internal": "/dc1/host-b",
            "n3.test.internal": "/default-rack",  # an invalid tag is not passed on
            "stranger.test.internal": "/default-rack",  # in no request: Ambari's default
        }
        clock.now += 5
        assert p.step(membership(racks)).phase == "completed"
        # A late host joins by scale-up, with its rack.
        register(ambari, "n4")
        racks["n4"] = "/dc2/host-c"
        assert p.step(membership(racks)).phase == "scaling"
        assert racks_in_ambari(base)["n4.test.internal"] == "/dc2/host-c"
        one = api(base, "GET", "hosts/n4.test.internal").json()
        assert one["Hosts"]["rack_info"] == "/dc2/host-c"


def test_scale_request_with_hosts_rack_info_before_the_agent_registers(tmp_path: Path) -> None:
    with running(task_seconds=1.0) as (ambari, base, _clock):
        api(base, "POST", "blueprints/multi-node-hdfs-yarn", shipped("multi-node-hdfs-yarn"))
        template = {
            "blueprint": "multi-node-hdfs-yarn",
            "default_password": "pw",
            "host_groups": [
                {"name": "master", "hosts": [{"fqdn": "m.x", "rack_info": "/r1"}]},
                {"name": "worker", "hosts": [{"fqdn": "w.x"}]},
            ],
        }
        assert api(base, "POST", "clusters/c1", template).status_code == 202
        entry = {
            "blueprint": "multi-node-hdfs-yarn",
            "host_group": "worker",
            "host_name": "late.x",
            "Hosts/rack_info": "/r7",
        }
        assert api(base, "POST", "clusters/c1/hosts", [entry]).status_code == 202
        # Reserved hosts take their rack when their agent registers.
        for name in ("m.x", "w.x", "late.x"):
            ambari.register(name, "127.0.0.1", ambari.version)
            ambari.heartbeat(name, 0)
        assert racks_in_ambari(base) == {"late.x": "/r7", "m.x": "/r1", "w.x": "/default-rack"}
