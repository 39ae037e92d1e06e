from pathlib import Path

import pytest

from cloudagent.daemon.state import StatePaths, load_failures, prepare_state_dir
from cloudagent.errors import CloudagentError


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
    path.write_text('{"a": 12.5, "b": "x"}')
    assert load_failures(path) == {"a": 12.5}
    path.write_text("{broken")
    assert load_failures(path) == {}
