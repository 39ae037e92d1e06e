"""The incremental view against the view built from scratch: any sequence of Serf snapshots
(and of single changes from Serf's log) gives the same hosts file, problems and failure times.
"""

import ipaddress
import itertools

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cloudagent.members import fingerprint, parse_one
from cloudagent.reconcile import MemberEvent, Reconciler

DOMAIN = "c.internal"
# Few names and addresses, so that conflicts (case folding, "a" against "a.c.internal", shared
# addresses, address reuse after a crash) happen often.
NAMES = [
    "a",
    "A",
    "b",
    "a.c.internal",
    "a.other.org",
    "b.x.c.internal",
    "n1",
    "N1",
    "bad name",
    "k\u212a",
    "me",
]
ADDRESSES = [
    b"\x7f\x01\x00\x01",
    b"\x7f\x01\x00\x02",
    b"\x7f\x01\x00\x03",
    bytes(10) + b"\xff\xff\x7f\x01\x00\x02",  # v4-mapped: the same address as the second
    b"\x0a\x00\x00\x01",
    bytes(15) + b"\x01",
    b"\x00\x00\x00\x00",
    "127.1.0.3",
    b"\x01\x02",
]
STATUSES = ["alive", "leaving", "left", "failed", "none", "bogus"]
TAGS: list[object] = [
    {},
    {"role": "agent"},
    {"role": "server"},
    {"role": "king"},
    {"x": "a\nb"},
    None,
    [],
]

member = st.fixed_dictionaries(
    {
        "Name": st.sampled_from(NAMES),
        "Addr": st.sampled_from(ADDRESSES),
        "Port": st.sampled_from([7946, 7947, -1]),
        "Status": st.sampled_from(STATUSES),
        "Tags": st.sampled_from(TAGS),
    }
)
nameless: st.SearchStrategy[dict[str, object]] = st.fixed_dictionaries(
    {"Name": st.sampled_from([None, 7, b"a"]), "Status": st.just("alive")}
)


@st.composite
def snapshot(draw: st.DrawFn) -> list[dict[str, object]]:
    members: list[dict[str, object]] = list(
        draw(st.lists(member, max_size=8, unique_by=lambda m: m["Name"]))
    )
    members += draw(st.lists(nameless, max_size=1))
    return draw(st.permutations(members))


# An edit: a member (re)appears or changes, or a name leaves Serf's list.
edit = st.one_of(member, st.sampled_from(NAMES))


@st.composite
def steps(draw: st.DrawFn) -> list[tuple[list[dict[str, object]], float]]:
    """Snapshots that evolve a few members at a time, as Serf's list does, with time steps
    around the grace period (and the clock stepping back now and then)."""
    current = {m["Name"]: m for m in draw(snapshot())}
    out = [(list(current.values()), 0.0)]
    for _ in range(draw(st.integers(min_value=0, max_value=12))):
        for change in draw(st.lists(edit, max_size=3)):
            if isinstance(change, dict):
                current[change["Name"]] = change
            else:
                current.pop(change, None)
        dt = draw(st.sampled_from([0.0, 0.5, 1.0, 2.9, 3.0, 3.1, 5.0, -1.0]))
        out.append((draw(st.permutations(list(current.values()))), dt))
    return out


def reconcilers(self_name: str | None) -> tuple[Reconciler, Reconciler]:
    checked = Reconciler(DOMAIN, grace=3.0, self_name=self_name, check_every=0.0)
    trusting = Reconciler(DOMAIN, grace=3.0, self_name=self_name, check_every=1e9)
    return checked, trusting


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps(), st.sampled_from([None, "me", "a"]))
def test_any_sequence_of_snapshots_gives_the_same_file_as_from_scratch(
    sequence: list[tuple[list[dict[str, object]], float]], self_name: str | None
) -> None:
    checked, trusting = reconcilers(self_name)
    now = 1000.0
    for members, dt in sequence:
        now += dt
        a = checked.step(members, now)
        b = trusting.step(members, now)
        assert checked.repairs == 0  # every step: incremental == from scratch
        assert (a.hosts_text, a.new_problems, a.next_deadline) == (
            b.hosts_text,
            b.new_problems,
            b.next_deadline,
        )
        assert (a.failures_changed, a.members_count, a.in_grace) == (
            b.failures_changed,
            b.members_count,
            b.in_grace,
        )
        assert a.view == b.view
        assert a.membership.members == b.membership.members
        assert set(a.membership.problems) == set(b.membership.problems)
        assert checked.failed_since == trusting.failed_since


event = st.builds(
    MemberEvent,
    st.sampled_from(["join", "leave", "failed"]),
    st.sampled_from(NAMES),
    st.sampled_from(["127.1.0.1", "127.1.0.2", "127.1.0.9", "10.0.0.1", "::1", "nonsense"]),
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps(), st.lists(st.lists(event, max_size=3), min_size=12, max_size=12))
def test_single_changes_from_the_log_keep_the_view_equal_to_from_scratch(
    sequence: list[tuple[list[dict[str, object]], float]], events: list[list[MemberEvent]]
) -> None:
    r = Reconciler(DOMAIN, grace=3.0, self_name="me", check_every=0.0)
    now = 1000.0
    for (members, dt), after in zip(sequence, events, strict=False):
        now += dt
        r.step(members, now)
        for e in after:
            now += 1.0
            r.apply_event(e, now)
            assert r.verify()
        assert r.repairs == 0


def raw(name: str, address: str, status: str = "alive") -> dict[str, object]:
    return {
        "Name": name,
        "Addr": ipaddress.ip_address(address).packed,
        "Port": 7946,
        "Status": status,
        "Tags": {"role": "agent"},
    }


def test_a_join_from_the_log_is_served_before_the_full_read() -> None:
    r = Reconciler(DOMAIN, grace=3.0)
    r.step([raw("a", "10.0.0.1")], now=0)
    cycle = r.apply_event(MemberEvent("join", "b", "10.0.0.2"), now=1)
    assert cycle is not None
    assert "10.0.0.2 b.c.internal b\n" in cycle.hosts_text
    confirmed = r.step([raw("a", "10.0.0.1"), raw("b", "10.0.0.2")], now=2)
    assert confirmed.hosts_text == cycle.hosts_text


def test_a_departure_from_the_log_needs_the_known_member_at_that_address() -> None:
    r = Reconciler(DOMAIN, grace=3.0)
    r.step([raw("a", "10.0.0.1"), raw("b", "10.0.0.2")], now=0)
    # A member named "x\n... EventMemberLeave: b" would make serf log b's name with x's address.
    assert r.apply_event(MemberEvent("leave", "b", "10.0.0.9"), now=1) is None
    assert r.apply_event(MemberEvent("leave", "ghost", "10.0.0.3"), now=1) is None
    left = r.apply_event(MemberEvent("leave", "b", "10.0.0.2"), now=1)
    assert left is not None
    assert "b.c.internal" not in left.hosts_text
    failed = r.apply_event(MemberEvent("failed", "a", "10.0.0.1"), now=2)
    assert failed is not None
    assert failed.in_grace == ("a.c.internal",)
    assert r.failed_since == {"a": 2}


def test_no_snapshot_yet_means_no_fast_path() -> None:
    assert (
        Reconciler(DOMAIN, grace=3.0).apply_event(MemberEvent("join", "a", "10.0.0.1"), 0) is None
    )


def test_a_diverged_view_is_logged_and_repaired(caplog: object) -> None:
    r = Reconciler(DOMAIN, grace=3.0, check_every=10.0)
    members = [raw("a", "10.0.0.1"), raw("b", "10.0.0.2")]
    r.step(members, now=0)
    view = r._view  # corrupt the state on purpose: the check must catch it
    assert view is not None
    view.text += "10.9.9.9 ghost.c.internal ghost\n"
    assert r.step(members, now=5).hosts_text.endswith("ghost\n")  # not checked yet
    repaired = r.step(members, now=11)
    assert "ghost" not in repaired.hosts_text
    assert r.repairs == 1
    assert "ghost" not in r.step(members, now=12).hosts_text


def test_forgotten_only_by_the_full_record() -> None:
    r = Reconciler(DOMAIN, grace=3.0, check_every=3600.0)
    r.step([raw("a", "10.0.0.1")], now=0)
    assert "a" in r.arrivals.members
    r.step([], now=10)
    r.step([], now=49 * 3600)  # due: the full record forgets a long-gone member
    assert "a" not in r.arrivals.members


def test_fingerprint_ignores_tag_order_and_sees_every_field_the_view_reads() -> None:
    base = {"Name": "a", "Addr": b"\x7f\x01\x00\x01", "Port": 7946, "Status": "alive"}
    # Serf encodes Tags in Go map order, which is random: the same tags, another order.
    one = fingerprint({**base, "Tags": {"role": "agent", "rack": "/r1"}})
    assert one == fingerprint({**base, "Tags": {"rack": "/r1", "role": "agent"}})
    assert one == fingerprint({**base, "Tags": {"role": "agent", "rack": "/r1"}, "ProtocolCur": 4})
    others = [
        {**base, "Tags": {"role": "agent", "rack": "/r2"}},
        {**base, "Tags": {"role": "agent"}},
        {**base, "Name": "b", "Tags": {"role": "agent", "rack": "/r1"}},
        {**base, "Port": 7947, "Tags": {"role": "agent", "rack": "/r1"}},
        {**base, "Status": "failed", "Tags": {"role": "agent", "rack": "/r1"}},
        {**base, "Addr": "127.1.0.1", "Tags": {"role": "agent", "rack": "/r1"}},
    ]
    assert one not in {fingerprint(o) for o in others}
    # An empty map and an empty list parse differently (the list is "not a map").
    assert fingerprint({**base, "Tags": {}}) != fingerprint({**base, "Tags": []})
    assert fingerprint({**base, "Tags": {1: "x", "a": "y"}}) == fingerprint(
        {**base, "Tags": {1: "x", "a": "y"}}
    )


# Values that hash alike but parse differently: -1 and -2, 1 and 1.0 and True, str and bytes.
ODD: dict[str, list[object]] = {
    "Name": ["a", "b", b"a", "A"],
    "Addr": [*ADDRESSES, b"127.1.0.3", "\x7f\x01\x00\x01"],
    "Port": [7946, 7946.0, -1, -2, 1, 1.0, True, 65536, None],
    "Status": ["alive", "failed", b"alive", None],
    "Tags": [*TAGS, {"role": 1}, {"role": 1.0}, {"role": True}, {"rack": "/r1", "role": "agent"}],
}


def test_entries_that_differ_in_one_field_have_other_fingerprints_when_they_parse_otherwise() -> (
    None
):
    base = {"Name": "a", "Addr": b"\x7f\x01\x00\x01", "Port": 7946, "Status": "alive", "Tags": {}}
    for field, values in ODD.items():
        for one, other in itertools.combinations(values, 2):
            a, b = {**base, field: one}, {**base, field: other}
            if parse_one(a) != parse_one(b):
                assert fingerprint(a) != fingerprint(b), (field, one, other)


@given(member, member)
def test_entries_with_one_fingerprint_parse_alike(
    a: dict[str, object], b: dict[str, object]
) -> None:
    # The full check reuses the member parsed from an entry with the same fingerprint.
    if fingerprint(a) == fingerprint(b):
        assert parse_one(a) == parse_one(b)
    tags = a["Tags"]
    if isinstance(tags, dict):
        reordered = {**a, "Tags": dict(reversed(list(tags.items())))}
        assert fingerprint(reordered) == fingerprint(a)
