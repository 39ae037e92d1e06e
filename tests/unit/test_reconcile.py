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
