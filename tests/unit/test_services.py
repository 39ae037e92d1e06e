"""Services: the tag format, the service view, the second hosts file, SRV answers, health."""

from __future__ import annotations

import ipaddress
import json
import logging
from pathlib import Path

import dns.message
import dns.rcode
import pytest

from cloudagent.daemon.health import HealthFacts, judge
from cloudagent.dns.render import render_dnsmasq_conf
from cloudagent.dns.services import ServiceView, build_service_view, render_service_hosts
from cloudagent.dns.srv import SrvTable
from cloudagent.dns.srvwire import answer
from cloudagent.dns.view import build_view
from cloudagent.endpoint import Endpoint
from cloudagent.logformat import JsonFormatter
from cloudagent.members import Member, Status
from cloudagent.services import Service, load_services, offered, parse_services

D = "cluster.internal"


def member(name: str, last: int, status: Status = Status.ALIVE, **tags: str) -> Member:
    return Member(name, ipaddress.ip_address(f"10.0.0.{last}"), 7946, status, tags)


def views(*members: Member, failed: dict[str, float] | None = None) -> ServiceView:
    view = build_view(members, failed or {}, 100.0, 30.0, D)
    return build_service_view(members, view, D)


def test_config_format_is_strict() -> None:
    assert load_services("namenode:8020,webhdfs:50070,zookeeper:2181") == (
        Service("namenode", 8020),
        Service("webhdfs", 50070),
        Service("zookeeper", 2181),
    )
    with pytest.raises(ValueError, match="port must be"):
        load_services("a:0")
    with pytest.raises(ValueError, match="protocol must be"):
        load_services("a:1/sctp")
    with pytest.raises(ValueError, match="already declared"):
        load_services("a:1,a:2")


@pytest.mark.parametrize(
    "hostile",
    ["-a:1", "a-:1", "a_b:1", "a.b:1", "x" * 64 + ":1", "a:65536", "a:-1", "a", "a:1/tcp/udp"],
)
def test_hostile_items_dropped(hostile: str) -> None:
    services, problems = parse_services(f"{hostile},ok:1")
    assert services == (Service("ok", 1),)
    assert len(problems) == 1


def test_overlong_tag_dropped_whole() -> None:
    assert parse_services("a:1," * 100) == ((), ["longer than 300 characters"])


def test_roles_imply_ambari_and_only_the_server_offers_it() -> None:
    assert offered({"role": "server", "services": "ambari:8443"})[0] == (Service("ambari", 8443),)
    assert offered({"role": "agent", "services": "ambari:8080"})[0] == ()


def test_view_follows_the_host_rules() -> None:
    sv = views(
        member("s", 1, role="server"),
        member("a", 2, services="nn:8020"),
        member("gone", 3, Status.LEFT, services="nn:8020"),
        member("late", 4, Status.FAILED, services="nn:8020"),
        failed={"late": 0.0},  # failed 100 s ago, grace 30 s
    )
    assert [(i.service, i.target) for i in sv.instances] == [
        ("ambari", f"s.{D}"),
        ("nn", f"a.{D}"),
    ]
    assert sv.addresses(D) == {f"ambari.{D}": ("10.0.0.1",), f"nn.{D}": ("10.0.0.2",)}


def test_one_ambari_server_and_one_note_per_member() -> None:
    sv = views(
        member("s2", 2, role="server"),
        member("s1", 1, role="server"),
        member("bad", 3, services="ok:1,bad_x:2,y:0"),
    )
    assert [i.target for i in sv.instances if i.service == "ambari"] == [f"s1.{D}"]
    assert len([n for n in sv.notes if n.startswith("member 'bad'")]) == 1


def test_service_hosts_file_leaves_host_names_to_hosts() -> None:
    members = (member("nn", 1, services="nn:8020,web:80"), member("b", 2, services="web:80"))
    view = build_view(members, {}, 0.0, 30.0, D)
    sv = build_service_view(members, view, D)
    lines = [x for x in render_service_hosts(sv, view, D).splitlines() if not x.startswith("#")]
    # nn.<domain> is a host name: the host keeps it; web names both members.
    assert lines == [f"10.0.0.1 web.{D}", f"10.0.0.2 web.{D}"]


def test_dnsmasq_reads_the_members_file_first() -> None:
    conf = render_dnsmasq_conf(
        listen=Endpoint("127.0.0.1", 53),
        hosts_file=Path("/s/dns/hosts"),
        domain=D,
        upstreams=(),
        user=None,
        services_hosts=Path("/s/dns/services"),
        srv=Endpoint("127.0.0.1", 4000),
    )
    files = [line for line in conf.splitlines() if line.startswith("addn-hosts=")]
    # dnsmasq reads addn-hosts last-listed first; the first name read for an address is its PTR.
    assert files == ["addn-hosts=/s/dns/services", "addn-hosts=/s/dns/hosts"]
    assert f"server=/_tcp.{D}/127.0.0.1#4000" in conf
    assert f"server=/_udp.{D}/127.0.0.1#4000" in conf


def _ask(table: SrvTable, name: str, rdtype: str = "SRV") -> dns.message.Message:
    wire = answer(dns.message.make_query(name, rdtype).to_wire(), table)
    assert wire is not None
    return dns.message.from_wire(wire)


def test_srv_answers() -> None:
    table = SrvTable.from_view(views(member("a", 2, services="nn:8020,dns:53/udp")), D)
    reply = _ask(table, f"_nn._tcp.{D}")
    assert [rr.to_text() for rrset in reply.answer for rr in rrset] == [f"0 10 8020 a.{D}."]
    assert reply.answer[0].ttl == 0
    assert [rr.to_text() for rrset in reply.additional for rr in rrset] == ["10.0.0.2"]
    assert reply.rcode() == dns.rcode.NOERROR
    assert _ask(table, f"_nn._udp.{D}").rcode() == dns.rcode.NXDOMAIN
    assert _ask(table, f"_dns._udp.{D}").answer
    nodata = _ask(table, f"_nn._tcp.{D}", "A")
    assert nodata.rcode() == dns.rcode.NOERROR and not nodata.answer
    assert answer(b"\x00garbage", table) is None


def test_large_answers_are_truncated_for_udp() -> None:
    many = [member(f"n{i}", i, services="web:80") for i in range(1, 60)]
    table = SrvTable.from_view(views(*many), D)
    wire = answer(dns.message.make_query(f"_web._tcp.{D}", "SRV").to_wire(), table, 512)
    assert wire is not None and len(wire) <= 512
    assert dns.message.from_wire(wire).flags & dns.flags.TC
    full = answer(dns.message.make_query(f"_web._tcp.{D}", "SRV").to_wire(), table)
    assert full is not None and len(dns.message.from_wire(full).answer[0]) == 59


def test_saved_view_round_trips() -> None:
    sv = views(member("s", 1, role="server"))
    assert ServiceView.from_json(sv.to_json()).instances == sv.instances
    assert ServiceView.from_json("not json").instances == ()


def test_health_judgement() -> None:
    good = HealthFacts(100.0, 0.0, True, True, True, last_success=90.0)
    assert judge(good, 30.0).healthy
    stale = judge(HealthFacts(100.0, 0.0, True, True, True, 50.0, "OSError: x", 3), 30.0)
    assert not stale.healthy
    assert stale.document["dns"] == "stale" and stale.document["last_error"] == "OSError: x"
    # A loop that never succeeded is unhealthy once the bound has passed since start.
    assert judge(HealthFacts(10.0, 0.0, True, True, True, None), 30.0).healthy
    assert not judge(HealthFacts(40.0, 0.0, True, True, True, None), 30.0).healthy
    assert not judge(HealthFacts(1.0, 0.0, True, False, True, 1.0), 30.0).healthy


def test_json_log_lines_carry_the_text_fields() -> None:
    record = logging.LogRecord("cloudagent.x", logging.WARNING, "f", 1, "a %s", ("b",), None)
    doc = json.loads(JsonFormatter().format(record))
    assert doc["level"] == "WARNING" and doc["logger"] == "cloudagent.x" and doc["message"] == "a b"
