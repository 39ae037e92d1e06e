from pathlib import Path

from cloudagent.dns.render import render_dnsmasq_conf
from cloudagent.endpoint import Endpoint


def test_dnsmasq_conf_without_upstream() -> None:
    text = render_dnsmasq_conf(
        listen=Endpoint("127.0.0.11", 5353),
        hosts_file=Path("/state/dns/hosts"),
        domain="cluster.internal",
        upstreams=[],
        user=None,
    )
    lines = text.splitlines()
    assert "port=5353" in lines
    assert "listen-address=127.0.0.11" in lines
    assert "addn-hosts=/state/dns/hosts" in lines
    assert "local=/cluster.internal/" in lines
    assert "no-resolv" in lines
    assert not any(line.startswith(("server=", "user=")) for line in lines)


def test_dnsmasq_conf_with_upstreams_and_user() -> None:
    text = render_dnsmasq_conf(
        listen=Endpoint("127.0.0.1", 53),
        hosts_file=Path("/h"),
        domain="d.internal",
        upstreams=[Endpoint("10.0.0.2", 53), Endpoint("fd00::53", 5353)],
        user="nobody",
    )
    assert "server=10.0.0.2#53\nserver=fd00::53#5353\n" in text
    assert "user=nobody\n" in text
