import io
from pathlib import Path

from cloudagent.cli import main


def run(argv: list[str], env: dict[str, str] | None = None) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    base = {"CLOUDAGENT_NODE_NAME": "node1", "MYDOMAIN": "cluster.internal"}
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
