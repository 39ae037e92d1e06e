"""Service names and SRV records at every node's dnsmasq; /health, /metrics and /members."""

from __future__ import annotations

import io
import json
import statistics
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from functools import partial
from typing import Any

import dns.exception
import dns.message
import dns.query
import pytest
from prometheus_client.parser import text_string_to_metric_families

from cloudagent.cli import main as cli_main
from cloudagent.dev.localcluster import LocalCluster, LocalNode, wait_for
from tests.integration.conftest import MakeCluster

RawSerf = Callable[..., subprocess.Popen[bytes]]
DOMAIN = "cluster.internal"


def dig(node: LocalNode, *query: str) -> list[str]:
    """``dig +short`` at the node's dnsmasq (a real resolver, as an operator would run it)."""
    argv = ["dig", "+short", "+time=2", "+tries=1", "-p", str(node.dns_port), f"@{node.address}"]
    result = subprocess.run([*argv, *query], capture_output=True, text=True, check=True)
    return sorted(line for line in result.stdout.splitlines() if line)


def _dig_is(node: LocalNode, name: str, expected: list[str]) -> bool:
    return dig(node, name) == expected


def _srv_is(node: LocalNode, name: str, expected: list[tuple[int, str]]) -> bool:
    return srv(node, name)[0] == expected


def srv(node: LocalNode, name: str) -> tuple[list[tuple[int, str]], list[str]]:
    """SRV (port, target) pairs and the additional section's A records."""
    reply = dns.query.udp(
        dns.message.make_query(name, "SRV"), node.address, port=node.dns_port, timeout=2.0
    )
    answers = sorted((rr.port, rr.target.to_text()) for rrset in reply.answer for rr in rrset)
    extra = sorted(f"{s.name} {rr.address}" for s in reply.additional for rr in s if s.rdtype == 1)
    return answers, extra


def http(node: LocalNode, path: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://{node.address}:8301{path}", timeout=3) as reply:
            return reply.status, reply.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def metrics(node: LocalNode) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample, parsed by prometheus_client's own text parser."""
    _, text = http(node, "/metrics")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def start_cluster(
    make_cluster: MakeCluster, services: dict[int, str], size: int = 3, **kw: Any
) -> LocalCluster:
    cluster: LocalCluster = make_cluster(0, **kw)
    for index in range(1, size + 1):
        node = cluster.add("server" if index == 1 else "agent", start=False)
        if index in services:
            node.env["CLOUDAGENT_SERVICES"] = services[index]
        node.start("server" if index == 1 else "agent")
    nodes = cluster.nodes
    wait_for(
        lambda: all(cluster.resolves_everywhere(t, nodes) for t in nodes),
        timeout=30,
        what="every node resolving every node",
    )
    return cluster


def test_service_names_and_srv_at_every_node(make_cluster: MakeCluster) -> None:
    cluster = start_cluster(make_cluster, {2: "namenode:8020,zookeeper:2181/udp"})
    server, nn, _ = cluster.nodes
    for node in cluster.nodes:
        wait_for(partial(_dig_is, node, f"namenode.{DOMAIN}", [nn.address]), 20, what="nn")
        wait_for(partial(_dig_is, node, f"ambari.{DOMAIN}", [server.address]), 20, what="ambari")
        assert dig(node, "SRV", f"_ambari._tcp.{DOMAIN}") == [f"0 10 8080 {server.fqdn}."]
        assert dig(node, "SRV", f"_zookeeper._udp.{DOMAIN}") == [f"0 10 2181 {nn.fqdn}."]
        assert dig(node, "SRV", f"_zookeeper._tcp.{DOMAIN}") == []
        answers, extra = srv(node, f"_namenode._tcp.{DOMAIN}")
        assert answers == [(8020, f"{nn.fqdn}.")]
        assert extra == [f"{nn.fqdn}. {nn.address}"]
        # Service names never become PTR targets: the host keeps its address's PTR.
        assert dig(node, "-x", server.address) == [f"{server.fqdn}."]
        assert dig(node, "-x", nn.address) == [f"{nn.fqdn}."]


def test_service_moves_with_its_member(make_cluster: MakeCluster) -> None:
    cluster = start_cluster(make_cluster, {2: "namenode:8020"})
    _, old, observer = cluster.nodes
    wait_for(lambda: dig(observer, f"namenode.{DOMAIN}") == [old.address], 20, what="namenode")
    old.stop()
    # Gone from the service at the same moment as its host name: both in one reload.
    wait_for(lambda: dig(observer, old.fqdn) == [], 20, what="old host gone")
    assert dig(observer, f"namenode.{DOMAIN}") == []
    assert dig(observer, "SRV", f"_namenode._tcp.{DOMAIN}") == []
    new = cluster.add(start=False)
    new.env["CLOUDAGENT_SERVICES"] = "namenode:8021"
    new.start()
    wait_for(lambda: dig(observer, f"namenode.{DOMAIN}") == [new.address], 30, what="moved")
    assert srv(observer, f"_namenode._tcp.{DOMAIN}") == (
        [(8021, f"{new.fqdn}.")],
        [f"{new.fqdn}. {new.address}"],
    )


def test_hostile_service_tag_dropped_with_one_warning(
    make_cluster: MakeCluster, raw_serf: RawSerf
) -> None:
    cluster = start_cluster(make_cluster, {}, size=2)
    observer = cluster.nodes[0]
    hostile = "ambari:1,bad_name:80,ok:81,x:99999,ok:82"
    raw_serf("hostile", cluster.address(50), observer.address, f"services={hostile}")
    wait_for(lambda: dig(observer, f"ok.{DOMAIN}") == [cluster.address(50)], 20, what="ok")
    assert dig(observer, f"ambari.{DOMAIN}") == [observer.address]
    assert dig(observer, "SRV", f"_ok._tcp.{DOMAIN}") == [f"0 10 81 hostile.{DOMAIN}."]
    time.sleep(2 * 10.0 + 1)  # two resync cycles: the warning is not repeated
    log = observer.log_file.read_text()
    assert log.count("member 'hostile': services ignored") == 1
    services = (observer.state_dir / "dns" / "services").read_text()
    assert "bad_name" not in services and "x" not in services.split()


def test_no_unanswered_query_during_service_changes(
    make_cluster: MakeCluster, raw_serf: RawSerf
) -> None:
    cluster = start_cluster(make_cluster, {}, size=2)
    observer = cluster.nodes[0]
    member = cluster.address(50)
    raw_serf("mover", member, observer.address, "services=web:9000")
    name = f"_web._tcp.{DOMAIN}"
    wait_for(lambda: srv(observer, name)[0] == [(9000, f"mover.{DOMAIN}.")], 20, what="web")

    stop = threading.Event()
    counts = {"sent": 0, "unanswered": 0}

    def query() -> None:
        queries = [
            dns.message.make_query(name, "SRV"),
            dns.message.make_query(f"web.{DOMAIN}", "A"),
        ]
        while not stop.is_set():
            for q in queries:
                counts["sent"] += 1
                try:
                    dns.query.udp(q, observer.address, port=observer.dns_port, timeout=2.0)
                except dns.exception.Timeout:
                    counts["unanswered"] += 1

    def serf_tags(*args: str) -> None:
        subprocess.run(
            ["serf", "tags", f"-rpc-addr={member}:7373", *args], check=True, capture_output=True
        )

    thread = threading.Thread(target=query)
    thread.start()
    service_latency = []
    try:
        for k in range(1, 21):
            started = time.monotonic()
            serf_tags("-set", f"services=web:{9000 + k}")
            expected = [(9000 + k, f"mover.{DOMAIN}.")]
            wait_for(partial(_srv_is, observer, name, expected), 20, 0.01, f"change {k}")
            service_latency.append(time.monotonic() - started)
    finally:
        stop.set()
        thread.join()
    host_latency = []
    for k in range(5):
        started = time.monotonic()
        raw_serf(f"host{k}", cluster.address(60 + k), observer.address)
        host = partial(_dig_is, observer, f"host{k}.{DOMAIN}", [cluster.address(60 + k)])
        wait_for(host, 20, 0.01, "host")
        host_latency.append(time.monotonic() - started)
    print(
        f"queries {counts['sent']}, unanswered {counts['unanswered']}; service change -> SRV "
        f"median {statistics.median(service_latency):.2f}s (max {max(service_latency):.2f}s); "
        f"host join -> A median {statistics.median(host_latency):.2f}s"
    )
    assert counts["sent"] > 100
    assert counts["unanswered"] == 0


def _cli_health(node: LocalNode) -> int:
    out = io.StringIO()
    return cli_main(["health"], environ=node.env_for_cli(), stdout=out, stderr=out)


def test_health_turns_503_when_the_cycle_breaks_and_metrics_move(
    make_cluster: MakeCluster, raw_serf: RawSerf
) -> None:
    cluster = start_cluster(
        make_cluster,
        {},
        size=2,
        extra_env={"CLOUDAGENT_CYCLE_STALE": "4s", "CLOUDAGENT_LOG_FORMAT": "json"},
    )
    node = cluster.nodes[0]
    status, body = http(node, "/health")
    assert status == 200, body
    doc = json.loads(body)
    assert doc["serf"] == doc["dnsmasq"] == doc["dns"] == "ok"
    assert "ambari" not in doc  # CLOUDAGENT_AMBARI=off in this cluster
    assert _cli_health(node) == 0

    # DNS may answer from serf's log line a few ms before the full read that fills /members
    # and the metrics: wait for that read.
    wait_for(
        lambda: metrics(node).get(("cloudagent_members", (("status", "alive"),))) == 2,
        10,
        what="the full read after the fast path",
    )
    before = metrics(node)
    writes = before[("cloudagent_hosts_writes_total", ())]
    assert before[("cloudagent_render_seconds_count", ())] >= 1

    # /members is `cloudagent members --json`.
    out = io.StringIO()
    cli_main(["members", "--json"], environ=node.env_for_cli(), stdout=out)
    assert json.loads(http(node, "/members")[1]) == json.loads(out.getvalue())

    dns_dir = node.state_dir / "dns"
    subprocess.run(["chattr", "+i", str(dns_dir)], check=True)
    try:
        raw_serf("joiner", cluster.address(50), node.address)  # a change the agent cannot write
        wait_for(lambda: http(node, "/health")[0] == 503, 40, what="/health 503")
        doc = json.loads(http(node, "/health")[1])
        assert doc["dns"] == "stale" and doc["last_error"]
        assert _cli_health(node) == 1
        assert metrics(node)[("cloudagent_cycle_errors_total", ())] >= 1
    finally:
        subprocess.run(["chattr", "-i", str(dns_dir)], check=True)
    wait_for(lambda: http(node, "/health")[0] == 200, 40, what="/health 200 again")
    wait_for(lambda: dig(node, f"joiner.{DOMAIN}") == [cluster.address(50)], 20, what="joiner")
    after = metrics(node)
    assert after[("cloudagent_members", (("status", "alive"),))] == 3
    assert after[("cloudagent_hosts_writes_total", ())] > writes
    assert after[("cloudagent_reload_seconds_count", ())] >= 1

    cluster.nodes[1].stop()  # a graceful leave: alive 3 -> 2, left 0 -> 1
    wait_for(
        lambda: metrics(node).get(("cloudagent_members", (("status", "left"),))) == 1,
        30,
        what="left counted",
    )
    assert metrics(node)[("cloudagent_members", (("status", "alive"),))] == 2

    node.signal_child("dnsmasq", 9)
    wait_for(
        lambda: (
            metrics(node).get(("cloudagent_child_restarts_total", (("program", "dnsmasq"),))) == 1
        ),
        30,
        what="dnsmasq restart counted",
    )
    for line in node.log_file.read_text().splitlines():
        assert set(json.loads(line)) >= {"time", "level", "logger", "message"}, line


@pytest.fixture(autouse=True)
def _dig_installed() -> None:
    # dig is a real program these tests need: fail, never skip, when it is missing.
    subprocess.run(["dig", "-v"], capture_output=True, check=True)
