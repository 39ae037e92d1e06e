"""Address choice on multi-homed hosts, with a fake interface list."""

from __future__ import annotations

import pytest

from cloudagent.address import InterfaceAddress, resolve_advertise
from cloudagent.config import load
from cloudagent.errors import ConfigError

HOST = [
    InterfaceAddress("lo", "127.0.0.1"),
    InterfaceAddress("docker0", "172.17.0.1"),
    InterfaceAddress("eth1", "10.20.3.4"),
]
ENV = {"CLOUDAGENT_NODE_NAME": "n1", "MYDOMAIN": "c.internal"}


def test_the_interface_inside_the_cidr_is_advertised() -> None:
    cfg = load({**ENV, "CLOUDAGENT_ADVERTISE_CIDR": "10.20.0.0/16"}, is_root=False)
    assert resolve_advertise(cfg, lambda: HOST).advertise == "10.20.3.4"


def test_serf_advertise_ip_wins() -> None:
    env = {**ENV, "CLOUDAGENT_ADVERTISE_CIDR": "10.20.0.0/16", "SERF_ADVERTISE_IP": "10.9.9.9"}
    assert resolve_advertise(load(env, is_root=False), lambda: HOST).advertise == "10.9.9.9"


def test_no_match_is_a_config_error_listing_the_interfaces() -> None:
    cfg = load({**ENV, "CLOUDAGENT_ADVERTISE_CIDR": "192.168.0.0/24"}, is_root=False)
    with pytest.raises(ConfigError) as caught:
        resolve_advertise(cfg, lambda: HOST)
    assert "(this host has: lo 127.0.0.1, docker0 172.17.0.1, eth1 10.20.3.4)" in str(caught.value)


def test_bad_ttl_and_cidr_are_reported_together() -> None:
    with pytest.raises(ConfigError) as caught:
        load(
            {**ENV, "CLOUDAGENT_DNS_TTL": "-1", "CLOUDAGENT_ADVERTISE_CIDR": "nope"}, is_root=False
        )
    text = str(caught.value)
    assert "CLOUDAGENT_DNS_TTL: '-1' is not a TTL" in text
    assert "CLOUDAGENT_ADVERTISE_CIDR: " in text


def test_authoritative_dns_needs_no_upstream_and_no_slash_zero() -> None:
    env = {**ENV, "CLOUDAGENT_DNS_AUTHORITATIVE": "10.20.0.0/16"}
    with pytest.raises(ConfigError) as caught:
        load({**env, "DNS_UPSTREAM": "10.0.0.2"}, is_root=False)
    assert "set DNS_UPSTREAM=none or unset it" in str(caught.value)
    with pytest.raises(ConfigError) as caught:
        load({**env, "DNS_UPSTREAM": "none", "CLOUDAGENT_DNS_AUTHORITATIVE": "0.0.0.0/0"})
    assert "a /0 network breaks dnsmasq's zone" in str(caught.value)
    cfg = load({**env, "DNS_UPSTREAM": "none"}, is_root=False)
    assert [str(n) for n in cfg.dns_authoritative] == ["10.20.0.0/16"]
