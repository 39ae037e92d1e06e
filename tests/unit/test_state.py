from pathlib import Path

import pytest

from cloudagent.daemon.state import StatePaths, load_failures, load_text, prepare_state_dir
from cloudagent.errors import CloudagentError
from cloudagent.reconcile import FailedMember


def test_hidden_state_dir_is_refused_for_an_unprivileged_dnsmasq(open_tmp: Path) -> None:
    hidden = open_tmp / "private"
    hidden.mkdir(mode=0o700)
    hidden.chmod(0o700)
    with pytest.raises(CloudagentError, match=r"chmod o\+x .*private"):
        prepare_state_dir(StatePaths(hidden / "state"), "nobody")


def test_traversable_state_dir_is_prepared(open_tmp: Path) -> None:
    paths = StatePaths(open_tmp / "state")
    prepare_state_dir(paths, "nobody")
    assert paths.dns_dir.stat().st_mode & 0o777 == 0o755
    assert paths.serf_dir.stat().st_mode & 0o777 == 0o700


def test_unknown_dnsmasq_user(tmp_path: Path) -> None:
    with pytest.raises(CloudagentError, match="no user 'no-such-user'"):
        prepare_state_dir(StatePaths(tmp_path / "s"), "no-such-user")


def test_failures_file_tolerates_damage(tmp_path: Path) -> None:
    path = tmp_path / "failed.json"
    assert load_failures(path) == {}
    path.write_text('{"a": 12.5, "b": "x"}')  # the format of older versions: times only
    assert load_failures(path) == {"a": FailedMember(12.5)}
    path.write_text("{broken")
    assert load_failures(path) == {}
    assert not path.exists()  # set aside, not left to fail every start


def test_damaged_state_is_set_aside_by_the_daemon_but_not_by_commands(tmp_path: Path) -> None:
    failures = tmp_path / "failed-members.json"
    failures.write_text("[" * 100_000)  # nesting deep enough to exhaust the recursion limit
    assert load_failures(failures, read_only=True) == {}
    assert failures.exists()  # `cloudagent hosts` never changes the daemon's files
    assert load_failures(failures) == {}
    assert not failures.exists()
    assert [p.name.split("-")[0] for p in tmp_path.glob("failed-members.json.corrupt-*")] == [
        "failed"
    ]
    hosts = tmp_path / "hosts"
    hosts.write_bytes(b"10.0.0.1 \xff\n")
    assert load_text(hosts) is None and not hosts.exists()
    directory = tmp_path / "dnsmasq.conf"
    (directory / "inner").mkdir(parents=True)
    assert load_text(directory) is None and not directory.exists()
