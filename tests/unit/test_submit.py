"""``blueprint submit`` in process against the emulator: the path it shares with the server
role (validate, lay out, check the template, register, create) and its exit statuses."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from cloudagent.cli import main
from cloudagent.errors import ExitStatus
from tests.unit.emulated import api, running, shipped


def submit(base: str, *args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(
        ["blueprint", "submit", *args, "--ambari", base],
        environ={"CLOUDAGENT_AMBARI": "on", **(env or {})},
        stdout=out,
        stderr=err,
    )
    return code, out.getvalue(), err.getvalue()


def test_submit_registers_lays_out_and_creates() -> None:
    with running() as (_, base, _clock):
        code, out, err = submit(
            base,
            "single-node-hdfs-yarn",
            "--map",
            "master=N1.test.internal",
            env={"CLUSTER_NAME": "from-env"},
        )
        assert code == ExitStatus.OK, err
        assert out.splitlines() == [
            "blueprint single-node-hdfs-yarn: registered",
            "  master: n1.test.internal",
            "cluster from-env: request 1 accepted",
        ]
        assert api(base, "GET", "clusters/from-env").status_code == 200
        # Again under another name: the identical blueprint already there is fine.
        code, out, err = submit(
            base, "single-node-hdfs-yarn", "--map", "master=n2.x", "--cluster", "c2"
        )
        assert code == ExitStatus.OK, err
        assert "already registered (identical)" in out


def test_cloudbreak_wrapper_is_unwrapped(tmp_path: Path) -> None:
    wrapped = tmp_path / "wrapped.json"
    wrapped.write_text(json.dumps({"blueprint": shipped("single-node-hdfs-yarn"), "inputs": []}))
    with running() as (_, base, _clock):
        code, out, err = submit(base, str(wrapped), "--map", "master=n1.x")
        assert code == ExitStatus.OK, err
        assert out.startswith("blueprint single-node-hdfs-yarn: registered")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--map", "master"], "--map 'master': expected GROUP=HOST"),
        (["--map", "nogroup=n1.x"], "has no host group 'nogroup'"),
        ([], "say where the hosts go"),
    ],
)
def test_usage_errors_exit_2_and_send_nothing(args: list[str], message: str) -> None:
    with running() as (_, base, _clock):
        code, out, err = submit(base, "single-node-hdfs-yarn", *args)
        assert code == ExitStatus.USAGE
        assert message in err and out == ""
        assert api(base, "GET", "blueprints").json()["items"] == []


def test_template_ambari_would_refuse_is_caught_before_anything_is_sent() -> None:
    with running() as (_, base, _clock):
        code, _, err = submit(
            base,
            "hive-mysql",
            "--map",
            "master=m.x",
            "--map",
            "worker=w.x",
        )
        assert code == ExitStatus.FAILURE
        assert "would be rejected by Ambari: 400" in err
        assert "default_password" in err
        assert api(base, "GET", "blueprints").json()["items"] == []


def test_unreadable_blueprint_is_a_configuration_error(tmp_path: Path) -> None:
    with running() as (_, base, _clock):
        code, _, err = submit(base, str(tmp_path / "absent.json"), "--map", "g=h")
        assert code == ExitStatus.USAGE
        assert "BLUEPRINT: cannot read" in err
