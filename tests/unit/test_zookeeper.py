"""The ZooKeeper ensemble from membership: ids from tags, when to start, when to restart."""

from __future__ import annotations

from pathlib import Path

import pytest

from cloudagent.members import Membership, parse_members
from cloudagent.zookeeper import Ensemble, parse_id, render_zoo_cfg, servers_in

D = "c.internal"


def members(*rows: tuple[str, int, str | None, str]) -> Membership:
    """(name, last octet, zk tag or None, status) rows as Serf would send them."""
    return parse_members(
        {
            "Name": name,
            "Addr": bytes([10, 0, 0, last]),
            "Port": 7946,
            "Status": status,
            "Tags": {"role": "agent", **({"zk": zk} if zk is not None else {})},
        }
        for name, last, zk, status in rows
    )


def ensemble(my_id: int = 1, expected: int | None = 3, **kw: object) -> Ensemble:
    return Ensemble(my_id, f"zk{my_id}.{D}", D, Path("/data"), expected=expected, **kw)  # type: ignore[arg-type]


def test_waits_for_the_expected_ids_then_starts_once() -> None:
    e = ensemble()
    assert e.step(members(("zk1", 1, "1", "alive"))).action == "wait"
    two = e.step(members(("zk1", 1, "1", "alive"), ("zk2", 2, "2", "alive")))
    assert two.action == "wait"
    three = members(("zk1", 1, "1", "alive"), ("zk2", 2, "2", "alive"), ("zk3", 3, "3", "alive"))
    first = e.step(three)
    assert first.action == "start"
    assert "server.3=zk3.c.internal:2888:3888" in first.cfg_text
    assert e.step(three).action == "keep"
    assert first.summary().startswith("zookeeper: starting ZooKeeper (3 servers: 1=zk1.c.internal")


def test_departed_peers_stay_and_only_a_new_id_restarts() -> None:
    e = ensemble()
    full = members(("zk1", 1, "1", "alive"), ("zk2", 2, "2", "alive"), ("zk3", 3, "3", "alive"))
    assert e.step(full).action == "start"
    gone = members(("zk1", 1, "1", "alive"), ("zk2", 2, "2", "alive"), ("zk3", 3, "3", "left"))
    step = e.step(gone)
    assert (step.action, sorted(step.servers)) == ("keep", [1, 2, 3])
    back = members(("zk1", 1, "1", "alive"), ("zk2", 2, "2", "alive"), ("zk3", 9, "3", "alive"))
    assert e.step(back).action == "keep"  # a new address under the same name changes nothing
    grown = members(*[(f"zk{i}", i, str(i), "alive") for i in range(1, 5)])
    step = e.step(grown)
    assert (step.action, sorted(step.servers)) == ("restart", [1, 2, 3, 4])


def test_the_list_written_before_starts_at_once_after_a_restart() -> None:
    known = servers_in(render_zoo_cfg({1: f"zk1.{D}", 2: f"zk2.{D}", 3: f"zk3.{D}"}, Path("/d")))
    e = ensemble(my_id=3, known=known)
    assert e.step(members(("zk3", 7, "3", "alive"))).action == "start"


def test_bad_tags_are_ignored_with_one_warning_each() -> None:
    e = ensemble(expected=2)
    snapshot = members(
        ("zk1", 1, "1", "alive"),
        ("zk2", 2, "2", "alive"),
        ("evil", 3, "0", "alive"),
        ("evil2", 4, "1\nserver.9=x", "alive"),
        ("dup", 5, "2", "alive"),
        ("other.example.org", 6, "7", "alive"),
        ("mine", 8, "1", "alive"),
    )
    step = e.step(snapshot)
    # Neither claimant of id 2 held it before: the first name in order gets it.
    assert step.servers == {1: f"zk1.{D}", 2: f"dup.{D}"}
    assert "server.9" not in step.cfg_text and "evil" not in step.cfg_text
    assert "example.org" not in step.cfg_text
    assert len(step.new_problems) == 4  # zk=0, outside the domain, our id claimed, id 2 twice
    assert e.step(snapshot).new_problems == ()


def test_an_alive_holder_keeps_its_id_and_a_departed_ones_can_be_taken_over() -> None:
    e = ensemble(expected=2)
    e.step(members(("zk1", 1, "1", "alive"), ("zk2", 2, "2", "alive")))
    step = e.step(
        members(("zk1", 1, "1", "alive"), ("zk2", 2, "2", "alive"), ("aa", 3, "2", "alive"))
    )
    assert step.servers[2] == f"zk2.{D}" and step.action == "keep"
    moved = e.step(
        members(("zk1", 1, "1", "alive"), ("zk2", 2, "2", "left"), ("aa", 3, "2", "alive"))
    )
    assert (moved.servers[2], moved.action) == (f"aa.{D}", "restart")


@pytest.mark.parametrize("text", ["", "x", "-1", "256", "1.5", "٣"])
def test_ids_outside_1_to_255_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="not a ZooKeeper id"):
        parse_id(text)


def test_zoo_cfg_names_peers_by_fqdn_and_allows_srvr() -> None:
    text = render_zoo_cfg({1: f"zk1.{D}"}, Path("/var/lib/cloudagent/zookeeper/data"))
    assert "4lw.commands.whitelist=srvr," in text
    assert "dataDir=/var/lib/cloudagent/zookeeper/data\n" in text
    assert "server.1=zk1.c.internal:2888:3888\n" in text
    assert "admin.enableServer=false" in text
