import ipaddress

from cloudagent.dns.render import render_hosts
from cloudagent.dns.view import HostEntry, build_view, next_expiry, track_failures
from cloudagent.members import Member, Status

DOMAIN = "cluster.internal"


def member(name: str, address: str, status: Status = Status.ALIVE) -> Member:
    return Member(name, ipaddress.ip_address(address), 7946, status)


def test_alive_and_leaving_are_served_left_is_not() -> None:
    view = build_view(
        [
            member("a", "10.0.0.1"),
            member("b", "10.0.0.2", Status.LEAVING),
            member("c", "10.0.0.3", Status.LEFT),
        ],
        {},
        now=100.0,
        grace=60.0,
        domain=DOMAIN,
    )
    assert view.entries == (
        HostEntry("10.0.0.1", ("a.cluster.internal", "a")),
        HostEntry("10.0.0.2", ("b.cluster.internal", "b")),
    )


def test_failed_member_is_served_during_grace_then_removed() -> None:
    failed = [member("a", "10.0.0.1"), member("b", "10.0.0.2", Status.FAILED)]
    since = track_failures(failed, {}, now=100.0)
    assert since == {"b": 100.0}
    during = build_view(failed, since, now=159.0, grace=60.0, domain=DOMAIN)
    assert "b.cluster.internal" in during.names
    assert during.in_grace == ("b.cluster.internal",)
    after = build_view(failed, since, now=160.0, grace=60.0, domain=DOMAIN)
    assert "b.cluster.internal" not in after.names
    assert next_expiry(since, 60.0, now=159.0) == 160.0
    assert next_expiry(since, 60.0, now=160.0) is None


def test_recovered_member_forgets_its_failure() -> None:
    since = track_failures([member("b", "10.0.0.2", Status.FAILED)], {}, now=1.0)
    assert track_failures([member("b", "10.0.0.2")], since, now=2.0) == {}


def test_alive_member_takes_over_the_address_of_a_failed_one() -> None:
    members = [member("old", "10.0.0.5", Status.FAILED), member("new", "10.0.0.5")]
    view = build_view(members, {"old": 0.0}, now=1.0, grace=60.0, domain=DOMAIN)
    assert view.entries == (HostEntry("10.0.0.5", ("new.cluster.internal", "new")),)
    assert view.in_grace == ()
    assert any("lost 10.0.0.5" in note for note in view.notes)


def test_two_live_members_on_one_address_serve_only_the_senior() -> None:
    # First come keeps: the other member is not served at all (it used to share the line).
    members = [member("b", "10.0.0.9"), member("a", "10.0.0.9")]
    view = build_view(members, {}, now=0, grace=1, domain=DOMAIN)
    assert view.entries == (HostEntry("10.0.0.9", ("a.cluster.internal", "a")),)
    assert view.notes == ("member 'b' not served: 10.0.0.9 is already held by a.cluster.internal",)
    senior_b = build_view(
        members, {}, now=0, grace=1, domain=DOMAIN, seniority=lambda m: m.name != "b"
    )
    assert senior_b.entries == (HostEntry("10.0.0.9", ("b.cluster.internal", "b")),)


def test_failed_members_on_one_address_keep_one_in_grace() -> None:
    members = [member("a", "10.0.0.9", Status.FAILED), member("b", "10.0.0.9", Status.FAILED)]
    view = build_view(members, {"a": 0.0, "b": 0.0}, now=1, grace=60, domain=DOMAIN)
    assert view.entries == (HostEntry("10.0.0.9", ("a.cluster.internal", "a")),)
    assert view.in_grace == ("a.cluster.internal",)


def test_ambiguous_short_alias_is_not_served() -> None:
    view = build_view(
        [member("web.east.org", "10.0.0.1"), member("web.west.org", "10.0.0.2")],
        {},
        now=0,
        grace=1,
        domain=DOMAIN,
    )
    assert view.names == {"web.east.org", "web.west.org"}


def test_short_and_full_name_of_one_fqdn_serve_once() -> None:
    view = build_view(
        [member("a", "10.0.0.1"), member("a.cluster.internal", "10.0.0.2")],
        {},
        now=0,
        grace=1,
        domain=DOMAIN,
    )
    assert len(view.entries) == 1
    assert any("already served" in note for note in view.notes)


def test_entries_sorted_numerically_ipv4_before_ipv6() -> None:
    view = build_view(
        [member("c", "2001:db8::1"), member("b", "10.0.0.10"), member("a", "10.0.0.9")],
        {},
        now=0,
        grace=1,
        domain=DOMAIN,
    )
    assert [e.address for e in view.entries] == ["10.0.0.9", "10.0.0.10", "2001:db8::1"]


def test_rendered_hosts_file() -> None:
    view = build_view([member("a", "10.0.0.1"), member("b", "10.0.0.2")], {}, 0, 1, DOMAIN)
    lines = [line for line in render_hosts(view).splitlines() if not line.startswith("#")]
    assert lines == ["10.0.0.1 a.cluster.internal a", "10.0.0.2 b.cluster.internal b"]
    assert render_hosts(view).endswith("\n")


def test_empty_view_renders_only_comments() -> None:
    text = render_hosts(build_view([], {}, 0, 1, DOMAIN))
    assert all(line.startswith("#") for line in text.splitlines())
