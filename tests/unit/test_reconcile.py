from cloudagent.arrivals import Arrivals
from cloudagent.reconcile import Reconciler


def raw(name: str, last: int, status: str = "alive") -> dict[str, object]:
    return {"Name": name, "Addr": bytes([10, 0, 0, last]), "Port": 7946, "Status": status}


def test_problems_are_reported_once_while_they_last() -> None:
    r = Reconciler("c.internal", grace=60)
    members = [raw("a", 1), raw("bad name", 2)]
    first = r.step(members, now=0)
    assert len(first.new_problems) == 1
    assert r.step(members, now=1).new_problems == ()
    assert r.step([raw("a", 1)], now=2).new_problems == ()
    assert len(r.step(members, now=3).new_problems) == 1  # came back: reported again


def test_failure_times_survive_in_the_reconciler_and_expire() -> None:
    r = Reconciler("c.internal", grace=10, failed_since={"b": 100.0})
    cycle = r.step([raw("a", 1), raw("b", 2, "failed")], now=105)
    assert "b.c.internal" in cycle.view.names
    assert cycle.failures_changed is False
    assert cycle.next_deadline == 110.0
    later = r.step([raw("a", 1), raw("b", 2, "failed")], now=111)
    assert "b.c.internal" not in later.view.names
    assert later.next_deadline is None


def test_summary_sentences() -> None:
    cycle = Reconciler("c.internal", grace=10).step([raw("a", 1), raw("b", 2, "failed")], now=0)
    assert cycle.summary(True) == (
        "wrote hosts (2 members, 2 addresses, 1 failed in grace), reloaded dnsmasq"
    )
    assert cycle.summary(False) == "hosts unchanged (2 members, 2 addresses, 1 failed in grace)"


def test_unchanged_view_reuses_the_rendered_text() -> None:
    r = Reconciler("c.internal", grace=10)
    first = r.step([raw("a", 1)], now=0)
    second = r.step([raw("a", 1)], now=1)
    assert second.hosts_text is first.hosts_text


def addr(name: str, address: bytes, status: str = "alive") -> dict[str, object]:
    return {"Name": name, "Addr": address, "Port": 7946, "Status": status}


LO1, LO2, LO3 = b"\x7f\x01\x00\x01", b"\x7f\x01\x00\x02", b"\x7f\x01\x00\x03"


def test_a_case_folded_newcomer_cannot_take_a_name() -> None:
    r = Reconciler("c.internal", grace=60, self_name="a")
    cluster = [addr("a", LO1), addr("p4n3", LO2)]
    r.step(cluster, now=0)
    attacked = r.step([*cluster, addr("P4N3", LO3)], now=1)
    assert [(e.address, e.names[0]) for e in attacked.view.entries] == [
        ("127.1.0.1", "a.c.internal"),
        ("127.1.0.2", "p4n3.c.internal"),
    ]
    assert attacked.new_problems == (
        "member 'P4N3' dropped: p4n3.c.internal is already held by member 'p4n3'",
    )
    assert r.step([*cluster, addr("P4N3", LO3)], now=2).new_problems == ()


def test_an_address_newcomer_is_not_served() -> None:
    r = Reconciler("c.internal", grace=60, self_name="a")
    cluster = [addr("a", LO1), addr("b", LO2)]
    r.step(cluster, now=0)
    # "aaa" sorts before "b": the old alphabetical rule would have given it the PTR.
    attacked = r.step([*cluster, addr("aaa", LO2), addr("own", LO3)], now=1)
    assert [e.names for e in attacked.view.entries] == [
        ("a.c.internal", "a"),
        ("b.c.internal", "b"),
        ("own.c.internal", "own"),
    ]
    assert attacked.new_problems == (
        "member 'aaa' not served: 127.1.0.2 is already held by b.c.internal",
    )


def test_a_live_member_still_takes_over_a_failed_ones_address() -> None:
    r = Reconciler("c.internal", grace=60, self_name="a")
    r.step([addr("a", LO1), addr("old", LO2)], now=0)
    cycle = r.step([addr("a", LO1), addr("old", LO2, "failed"), addr("new", LO2)], now=1)
    assert [e.names[0] for e in cycle.view.entries] == ["a.c.internal", "new.c.internal"]


def test_seniority_survives_a_restart_through_the_saved_record() -> None:
    first = Reconciler("c.internal", grace=60, self_name="a")
    first.step([addr("a", LO1), addr("p4n3", LO2)], now=0)
    cycle = first.step([addr("a", LO1), addr("p4n3", LO2)], now=1)
    assert cycle.arrivals_changed is False
    saved = first.arrivals.to_json()
    again = Reconciler("c.internal", grace=60, self_name="a", arrivals=Arrivals.from_json(saved))
    # After the restart the impostor is listed first and alphabetically earlier: still loses.
    cycle = again.step([addr("P4N3", LO3), addr("a", LO1), addr("p4n3", LO2)], now=2)
    assert cycle.arrivals_changed is True
    assert [m.key for m in cycle.membership.members] == ["a", "p4n3"]


def test_this_node_keeps_its_own_name_and_address_without_history() -> None:
    r = Reconciler("c.internal", grace=60, self_name="me")
    cycle = r.step([addr("ME", LO2), addr("me", LO1), addr("aaa", LO1)], now=0)
    assert [e.names for e in cycle.view.entries] == [("me.c.internal", "me")]


def test_loopback_members_only_in_a_loopback_cluster() -> None:
    on_lo = Reconciler("c.internal", grace=60, self_name="a")
    cycle = on_lo.step([addr("a", LO1), addr("net", bytes([10, 0, 0, 1]))], now=0)
    assert [m.name for m in cycle.membership.members] == ["a"]
    off_lo = Reconciler("c.internal", grace=60, self_name="net")
    cycle = off_lo.step([addr("a", LO1), addr("net", bytes([10, 0, 0, 1]))], now=0)
    assert [m.name for m in cycle.membership.members] == ["net"]


def test_names_outside_the_domain_are_not_served() -> None:
    cycle = Reconciler("c.internal", grace=60).step(
        [addr("www.example.com", LO1), addr("b.c.internal", LO2)], now=0
    )
    assert cycle.view.names == {"b.c.internal", "b"}
    assert cycle.new_problems == (
        "member 'www.example.com' dropped: "
        "www.example.com is outside the cluster domain c.internal",
    )
