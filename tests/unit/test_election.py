"""The acting-Ambari-server rule: the same answer on every node, from the membership alone."""

from __future__ import annotations

import ipaddress
import itertools
from pathlib import Path

import pytest

from cloudagent.ambari.election import ACTING, SINCE, elect
from cloudagent.ambari.runner import load_since
from cloudagent.errors import CloudagentError
from cloudagent.members import Member, Status

GRACE = 300.0
NOW = 10_000.0


def member(
    name: str,
    since: int | None = None,
    *,
    acting: bool = False,
    status: Status = Status.ALIVE,
    role: str = "server",
) -> Member:
    tags = {"role": role}
    if since is not None:
        tags[SINCE] = str(since)
        tags[ACTING] = "yes" if acting else "no"
    address = ipaddress.ip_address(f"10.0.0.{len(name)}")
    return Member(name, address, 7946, status, tags)


def test_longest_serving_server_acts_ties_by_name() -> None:
    members = [member("b", 200), member("c", 100), member("a", 100), member("w", role="agent")]
    for order in itertools.permutations(members):  # every node sees its own order
        result = elect(order, {}, NOW, GRACE)
        assert result.acting_name() == "a"
        assert result.candidates == ("a", "b", "c")


def test_a_later_or_rogue_member_never_displaces_the_acting_server() -> None:
    acting = member("master", 500, acting=True)
    rogue = member("a-rogue")  # a bare serf agent tagged role=server: no ambari-since
    older_newcomer = member("aa", 1)  # an older start time, but it does not act yet
    result = elect([acting, rogue, older_newcomer], {}, NOW, GRACE)
    assert result.acting_name() == "master"
    assert result.ignored == ("a-rogue",)
    assert "ignored (no ambari-since tag): a-rogue" in result.describe("w", "x")


def test_failed_acting_server_keeps_the_role_for_the_grace_period() -> None:
    down = member("a", 100, acting=True, status=Status.FAILED)
    standby = member("b", 200)
    assert elect([down, standby], {"a": NOW - 10}, NOW, GRACE).acting_name() == "a"
    assert elect([down, standby], {"a": NOW - GRACE}, NOW, GRACE).acting_name() == "b"


def test_a_left_or_leaving_acting_server_is_replaced_at_once() -> None:
    for status in (Status.LEFT, Status.LEAVING):
        gone = member("a", 100, acting=True, status=status)
        assert elect([gone, member("b", 200)], {}, NOW, GRACE).acting_name() == "b"


def test_a_healed_partition_keeps_exactly_one_of_two_claimants() -> None:
    left_side = member("b", 100, acting=True)
    right_side = member("a", 200, acting=True)
    for order in ([left_side, right_side], [right_side, left_side]):
        assert elect(order, {}, NOW, GRACE).acting_name() == "b"


def test_nobody_acts_without_a_candidate() -> None:
    result = elect([member("a-rogue"), member("w", role="agent")], {}, NOW, GRACE)
    assert result.acting is None
    assert "no acting Ambari server" in result.describe("w", "x")


def test_malformed_since_tags_are_not_candidates() -> None:
    bad = [member("x", 1), member("y", 2)]
    bad[0].tags[SINCE] = "-5"  # type: ignore[index]
    bad[1].tags[SINCE] = "9" * 20  # type: ignore[index]
    assert elect(bad, {}, NOW, GRACE).ignored == ("x", "y")


def test_ambari_since_is_written_once_and_kept(tmp_path: Path) -> None:
    path = tmp_path / "state" / "ambari-since"
    assert load_since(path, 1234.9) == (1234, True)
    assert load_since(path, 9999.0) == (1234, False)  # a restart keeps its seniority
    path.write_text("garbage\n")
    assert load_since(path, 5000.0) == (5000, True)


def test_ambari_since_in_an_unusable_state_dir_is_one_clear_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    with pytest.raises(CloudagentError, match="make CLOUDAGENT_STATE_DIR a writable directory"):
        load_since(tmp_path / "file" / "state" / "ambari-since", 1.0)
