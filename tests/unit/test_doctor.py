"""The doctor's checks on facts: each failure the issue names gives its own line and fix."""

from __future__ import annotations

import dataclasses
import io
import json
from typing import Any

import pytest

from cloudagent.commands.keys import read_key
from cloudagent.doctor import Facts, failed, run_checks, summary_payload
from cloudagent.errors import CloudagentError

GOOD = Facts(
    fqdn="hdp-01.cluster.internal",
    node_name="hdp-01",
    hostname_f="hdp-01.cluster.internal",
    getfqdn="hdp-01.cluster.internal",
    address="10.0.0.5",
    advertised=None,
    dns_forward=["10.0.0.5"],
    dns_reverse=["hdp-01.cluster.internal"],
    getent_name=["10.0.0.5", "hdp-01.cluster.internal", "hdp-01"],
    getent_address=["10.0.0.5", "hdp-01.cluster.internal", "hdp-01"],
    etc_hosts="127.0.0.1 localhost\n10.0.0.5 hdp-01.cluster.internal hdp-01\n",
    resolv_conf="nameserver 127.0.0.1\nsearch cluster.internal\n",
    dns_listen="127.0.0.1",
    jvm_name="hdp-01.cluster.internal",
    join_problem=None,
)


def lines(**changes: Any) -> list[str]:
    return [c.line() for c in failed(run_checks(dataclasses.replace(GOOD, **changes)))]


def test_a_clean_node_passes_every_check() -> None:
    assert failed(run_checks(GOOD)) == []
    assert json.loads(summary_payload(GOOD.fqdn, run_checks(GOOD))) == {
        "n": GOOD.fqdn, "p": 10, "t": 10, "f": "",
    }  # fmt: skip


def test_short_hostname_is_named() -> None:
    assert lines(hostname_f="hdp-01") == [
        "FAIL names: hostname -f says 'hdp-01' but the cluster serves 'hdp-01.cluster.internal'; "
        "fix: give the node the hostname hdp-01.cluster.internal (docker run --hostname "
        "hdp-01.cluster.internal, or hostnamectl) and list the FQDN first in /etc/hosts"
    ]


def test_loopback_mapping_and_short_name_first_in_etc_hosts() -> None:
    (line,) = lines(etc_hosts="127.0.1.1 hdp-01.cluster.internal hdp-01\n")
    assert line.startswith("FAIL etc-hosts: /etc/hosts line 1 maps hdp-01.cluster.internal to ")
    (line,) = lines(etc_hosts="10.0.0.5 hdp-01 hdp-01.cluster.internal\n")
    assert line.startswith("FAIL etc-hosts: /etc/hosts line 1 lists 'hdp-01' before the FQDN")


def test_docker_style_ptr_fails_the_reverse_checks() -> None:
    out = lines(
        dns_reverse=["hdp-01.mynet"],
        getent_address=["10.0.0.5", "hdp-01.mynet"],
        jvm_name="hdp-01.mynet",
    )
    assert [line.split(":")[0] for line in out] == [
        "FAIL dns-reverse", "FAIL resolver-reverse", "FAIL jvm",
    ]  # fmt: skip


def test_resolv_conf_advertise_and_gossip_key() -> None:
    assert lines(resolv_conf="nameserver 127.0.0.11\n")[0].startswith(
        "FAIL resolv-conf: resolv.conf names 127.0.0.11, not this node's dnsmasq 127.0.0.1"
    )
    assert lines(advertised="10.20.0.5") == [
        "FAIL advertise: peers see 10.0.0.5 but this node advertises 10.20.0.5; fix: set "
        "SERF_ADVERTISE_IP or CLOUDAGENT_ADVERTISE_CIDR to the address peers can reach, and "
        "restart the agent"
    ]
    problem = "the cluster uses another key; install it: 'cloudagent keys install < KEYFILE'"
    assert lines(join_problem=problem) == [
        "FAIL gossip: the cluster uses another key; fix: install it: "
        "'cloudagent keys install < KEYFILE'"
    ]


def test_no_jre_is_skipped_not_failed() -> None:
    checks = run_checks(dataclasses.replace(GOOD, jvm_name=None))
    assert failed(checks) == []
    assert [c.line() for c in checks if c.ok is None] == [
        "SKIP jvm: no JRE able to run the check on this node"
    ]


def test_the_query_answer_fits_serfs_limit() -> None:
    checks = run_checks(dataclasses.replace(GOOD, hostname_f="x" * 3000))
    assert len(summary_payload(GOOD.fqdn, checks)) <= 1000


def test_keys_read_from_stdin_are_validated_without_echoing_them() -> None:
    good = "QHOYjmYlxSCBhdfiolhtDQ=="
    assert read_key(None, io.StringIO(good + "\n")).reveal() == good
    with pytest.raises(CloudagentError) as caught:
        read_key(None, io.StringIO("c2VjcmV0\n"))
    assert str(caught.value) == (
        "the key on stdin decodes to 6 bytes; it must be 16, 24 or 32 (serf keygen)"
    )
    assert "c2VjcmV0" not in str(caught.value)
