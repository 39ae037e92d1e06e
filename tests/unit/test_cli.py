import io
from pathlib import Path

import pytest

from cloudagent.cli import main
from cloudagent.errors import ExitStatus
from tests.unit.loopback import HOST, free_port


def run(argv: list[str], env: dict[str, str] | None = None) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    # validate-config binds the ports: free ones on this checkout's own loopback net.
    base = {
        "CLOUDAGENT_NODE_NAME": "node1",
        "MYDOMAIN": "cluster.internal",
        "CLOUDAGENT_DNS_LISTEN": f"{HOST}:{free_port()}",
        "CLOUDAGENT_SERF_BIND": f"{HOST}:{free_port()}",
        "CLOUDAGENT_SERF_RPC": f"{HOST}:{free_port()}",
    }
    code = main(argv, environ={**base, **(env or {})}, stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def test_validate_config_ok_masks_secrets() -> None:
    code, out, err = run(["validate-config"], {"SERF_RPC_AUTH": "tok3n", "DNS_UPSTREAM": "none"})
    assert code == 0, err
    assert "node1.cluster.internal" in out
    assert "rpc auth           on" in out
    assert "tok3n" not in out
    assert out.endswith("configuration OK\n")


def test_validate_config_reports_all_errors_and_exits_2() -> None:
    code, out, err = run(
        ["validate-config"], {"AMBARI_ROLE": "boss", "CLOUDAGENT_FAILED_GRACE": "never"}
    )
    assert code == 2
    assert out == ""
    assert "AMBARI_ROLE" in err and "CLOUDAGENT_FAILED_GRACE" in err


def test_unreachable_serf_is_one_line_and_exit_1() -> None:
    code, _, err = run(["members"], {"CLOUDAGENT_SERF_RPC": "127.0.0.1:1"})
    assert code == 1
    assert err.count("\n") == 1
    assert "cannot reach serf RPC at 127.0.0.1:1" in err


def test_usage_errors_exit_2(capsys: object) -> None:
    assert run(["frobnicate"])[0] == 2
    assert run(["run", "boss"])[0] == 2


def test_help_exits_0() -> None:
    assert run(["--help"])[0] == 0
    assert run(["members", "--help"])[0] == 0


def test_run_with_bad_state_dir_fails_clearly(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    code, _, err = run(
        ["run"],
        {"CLOUDAGENT_STATE_DIR": str(blocker / "state"), "DNS_UPSTREAM": "none"},
    )
    assert code == 1
    assert "cannot prepare the state directory" in err


def test_bad_options_exit_2_everywhere(tmp_path: Path) -> None:
    bp = tmp_path / "b.json"
    bp.write_text("{}")
    code, out, err = run(["blueprint", "validate", str(bp), "--stack", "HDP"])
    assert (code, out) == (ExitStatus.USAGE, "")
    assert "--stack 'HDP': expected NAME-VERSION" in err
    code, _, err = run(["blueprint", "validate", str(bp), "--ambari-version", "x"])
    assert code == ExitStatus.USAGE and "--ambari-version" in err


def test_argparse_writes_to_the_streams_main_was_given(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(["--help"])
    assert code == ExitStatus.OK and "usage: cloudagent" in out
    code, out, err = run(["members", "--no-such-flag"])
    assert code == ExitStatus.USAGE
    assert "unrecognized arguments: --no-such-flag" in err and out == ""
    code, out, _ = run(["--version"])
    assert out.startswith("cloudagent ")
    assert capsys.readouterr() == ("", "")  # nothing reached the process's own streams


def test_validate_config_reports_agent_and_ambari_problems_at_once() -> None:
    code, out, err = run(
        ["validate-config"],
        {
            "SERF_JOIN_IP": "bad_host",
            "AMBARI_POLL": "0",
            "EXPECTED_HOST_COUNT": "0",
            "CLOUDAGENT_AMBARI": "perhaps",
            "CLOUDAGENT_STATE_DIR": "/tmp/a\nb",
        },
    )
    assert code == ExitStatus.USAGE and out == ""
    lines = err.splitlines()[1:]
    assert [line.strip().split(":")[0] for line in lines] == [
        "SERF_JOIN_IP",
        "CLOUDAGENT_STATE_DIR",
        "EXPECTED_HOST_COUNT",
        "CLOUDAGENT_AMBARI",
        "AMBARI_POLL",
    ]
