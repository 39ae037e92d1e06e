"""validate-config's checks of this machine, on real sockets bound in 127.<net>.250.0/24."""

from __future__ import annotations

import errno
import io
import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from cloudagent import config, preflight, values
from cloudagent.cli import main
from cloudagent.endpoint import Endpoint
from cloudagent.errors import ExitStatus
from tests.unit.loopback import HOST, free_port


def environment(state_dir: Path, **extra: str) -> dict[str, str]:
    return {
        "CLOUDAGENT_NODE_NAME": "node1",
        "MYDOMAIN": "cluster.internal",
        "DNS_UPSTREAM": "none",
        "CLOUDAGENT_STATE_DIR": str(state_dir),
        "CLOUDAGENT_DNS_LISTEN": f"{HOST}:{free_port()}",
        "CLOUDAGENT_SERF_BIND": f"{HOST}:{free_port()}",
        "CLOUDAGENT_SERF_RPC": f"{HOST}:{free_port()}",
        "CLOUDAGENT_DNSMASQ_USER": "root",
        **extra,
    }


@pytest.fixture
def held(tmp_path: Path) -> Iterator[tuple[dict[str, str], socket.socket]]:
    """An environment whose serf RPC port this test process holds (listening TCP)."""
    env = environment(tmp_path)
    rpc = values.parse_endpoint(env["CLOUDAGENT_SERF_RPC"])
    with socket.socket() as sock:
        sock.bind((rpc.host, rpc.port))
        sock.listen()
        yield env, sock


def test_a_free_machine_has_no_problem(tmp_path: Path) -> None:
    assert preflight.check(config.load(environment(tmp_path))) == []


def test_a_taken_port_names_its_holder(held: tuple[dict[str, str], socket.socket]) -> None:
    env, _ = held
    (problem,) = preflight.check(config.load(env))
    assert problem.startswith(
        f"CLOUDAGENT_SERF_RPC: serf cannot listen on {env['CLOUDAGENT_SERF_RPC']} (TCP): "
        "the port is in use by "
    )
    assert f"(pid {os.getpid()})" in problem


def test_a_taken_udp_port_is_found(tmp_path: Path) -> None:
    env = environment(tmp_path)
    dns = values.parse_endpoint(env["CLOUDAGENT_DNS_LISTEN"])
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((dns.host, dns.port))
        (problem,) = preflight.check(config.load(env))
    assert problem.startswith("CLOUDAGENT_DNS_LISTEN: dnsmasq cannot listen on")
    assert "(UDP)" in problem and f"(pid {os.getpid()})" in problem


def test_ports_of_this_nodes_running_agent_are_fine(
    held: tuple[dict[str, str], socket.socket], tmp_path: Path
) -> None:
    env, _ = held
    (tmp_path / "serf.pid").write_text(f"{os.getpid()}\n")
    assert preflight.check(config.load(env)) == []


def test_programs_and_user_must_exist(tmp_path: Path) -> None:
    env = environment(
        tmp_path,
        CLOUDAGENT_SERF_BIN=str(tmp_path / "serf"),
        CLOUDAGENT_DNSMASQ_BIN="no-such-dnsmasq",
        CLOUDAGENT_DNSMASQ_USER="no-such-user-cloudagent",
    )
    problems = preflight.check(config.load(env))
    assert [p.split(":")[0] for p in problems] == [
        "CLOUDAGENT_SERF_BIN",
        "CLOUDAGENT_DNSMASQ_BIN",
        "CLOUDAGENT_DNSMASQ_USER",
    ]
    assert "install the serf package" in problems[0]


def test_bind_errors_other_than_in_use(tmp_path: Path) -> None:
    def refuse(endpoint: Endpoint, proto: preflight.Proto) -> OSError | None:
        code = errno.EACCES if endpoint.port == 53 else errno.EADDRNOTAVAIL
        return OSError(code, os.strerror(code))

    system = preflight.System(bind=refuse)
    cfg = config.load(
        environment(tmp_path, CLOUDAGENT_DNS_LISTEN="127.0.0.1:53", CLOUDAGENT_SERF_BIND="10.9.9.9")
    )
    problems = preflight.check(cfg, system, skip={"CLOUDAGENT_SERF_RPC"})
    assert problems == [
        "CLOUDAGENT_DNS_LISTEN: dnsmasq cannot listen on 127.0.0.1:53 (UDP): permission denied; "
        "run as root or choose a port above 1023",
        "CLOUDAGENT_SERF_BIND: serf cannot listen on 10.9.9.9:7946 (TCP): 10.9.9.9 is not an "
        "address of this machine",
    ]


def test_validate_config_reports_the_machine_with_the_variables(
    held: tuple[dict[str, str], socket.socket],
) -> None:
    env, _ = held
    out, err = io.StringIO(), io.StringIO()
    code = main(
        ["validate-config"],
        environ={**env, "AMBARI_POLL": "-1", "CLOUDAGENT_SERF_BIN": "/nonexistent/serf"},
        stdout=out,
        stderr=err,
    )
    assert code == ExitStatus.USAGE and out.getvalue() == ""
    names = [line.strip().split(":")[0] for line in err.getvalue().splitlines()[1:]]
    assert names == ["AMBARI_POLL", "CLOUDAGENT_SERF_BIN", "CLOUDAGENT_SERF_RPC"]


def test_validate_config_ok(tmp_path: Path) -> None:
    out, err = io.StringIO(), io.StringIO()
    code = main(["validate-config"], environ=environment(tmp_path), stdout=out, stderr=err)
    assert code == ExitStatus.OK, err.getvalue()
    assert out.getvalue().endswith("configuration OK\n")
