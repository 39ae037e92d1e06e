import ipaddress

import pytest

from cloudagent.members import Member, Status, parse_address, parse_members


def raw(
    name: object, addr: object = b"\x7f\x00\x00\x0b", status: str = "alive", **tags: str
) -> dict[str, object]:
    return {"Name": name, "Addr": addr, "Port": 7946, "Status": status, "Tags": tags}


HOSTILE = [
    "bad name.test",
    "evil\naddress=/x.test/6.6.6.6",
    "-dash.test",
    "dash-.test",
    "a..b",
    "x" * 70 + ".test",
    ".".join(["a" * 60] * 5),  # 304 characters: over 253
    "trailing.dot.",
    "under_score.test",
    "10.0.0.1",
    "",
    "ünïcode.test",
]


@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_names_are_dropped_with_a_reason(name: str) -> None:
    membership = parse_members([raw(name), raw("good.test", b"\x7f\x00\x00\x0c")])
    assert [m.name for m in membership.members] == ["good.test"]
    assert len(membership.problems) == 1
    assert repr(name) in membership.problems[0]
    # The reason is printable: a newline in a name never becomes a new log line.
    assert "\n" not in membership.problems[0]


def test_names_are_folded_to_lower_case() -> None:
    (member,) = parse_members([raw("Node1.Cluster.INTERNAL")]).members
    assert member.name == "node1.cluster.internal"


def test_names_equal_after_folding_keep_the_live_one() -> None:
    membership = parse_members(
        [raw("NODE1.test", b"\x0a\x00\x00\x01", "failed"), raw("node1.test", b"\x0a\x00\x00\x02")]
    )
    (member,) = membership.members
    assert member.address == ipaddress.ip_address("10.0.0.2")
    assert member.status is Status.ALIVE
    assert membership.problems == (
        "member 'NODE1.test' dropped: node1.test is already held by member 'node1.test'",
    )


@pytest.mark.parametrize(
    ("addr", "expected"),
    [
        (b"\x0a\x00\x00\x01", "10.0.0.1"),
        (bytes(10) + b"\xff\xff" + b"\x0a\x00\x00\x01", "10.0.0.1"),
        (b"\x20\x01\x0d\xb8" + bytes(11) + b"\x01", "2001:db8::1"),
        ("10.1.2.3", "10.1.2.3"),
    ],
)
def test_addresses_decode_from_serf_bytes(addr: object, expected: str) -> None:
    assert str(parse_address(addr)) == expected


@pytest.mark.parametrize("addr", [b"\x01\x02\x03", None, "not-an-ip", 12])
def test_bad_addresses_drop_the_member(addr: object) -> None:
    membership = parse_members([raw("node1.test", addr)])
    assert membership.members == ()
    assert "invalid address" in membership.problems[0]


def test_unknown_status_and_bad_port_drop_the_member() -> None:
    bad_port = raw("b.test")
    bad_port["Port"] = 70000
    membership = parse_members([raw("a.test", status="zombie"), bad_port])
    assert membership.members == ()
    assert "unknown status" in membership.problems[0]
    assert "invalid port" in membership.problems[1]


def test_hostile_tag_is_dropped_but_member_kept() -> None:
    membership = parse_members([raw("node1.test", role="agent\naddress=/x/1.2.3.4", rack="r1")])
    (member,) = membership.members
    assert member.tags == {"rack": "r1"}
    assert member.role is None
    assert "ignored" in membership.problems[0]


def test_role_tag() -> None:
    (member,) = parse_members([raw("node1.test", role="server")]).members
    assert member.role == "server"
    assert member.fqdn("x.internal") == "node1.test"
    short = Member("node2", ipaddress.ip_address("10.0.0.2"), 7946, Status.ALIVE)
    assert short.fqdn("x.internal") == "node2.x.internal"


def test_members_are_sorted_by_name() -> None:
    membership = parse_members(
        [raw("b.test", b"\x0a\x00\x00\x02"), raw("a.test", b"\x0a\x00\x00\x01")]
    )
    assert [m.name for m in membership.members] == ["a.test", "b.test"]


def test_non_ascii_name_is_dropped_even_when_it_folds_to_ascii() -> None:
    # The Kelvin sign lower-cases to "k" in Python: it must not pose as kelvin.test.
    membership = parse_members([raw("\u212aelvin.test"), raw("kelvin.test", b"\x0a\x00\x00\x02")])
    assert [m.name for m in membership.members] == ["kelvin.test"]
    assert membership.problems == (
        "member '\u212aelvin.test' dropped: invalid host name (not ASCII)",
    )


def test_upper_case_name_is_folded_when_nobody_holds_the_folded_name() -> None:
    (member,) = parse_members([raw("P4N3")]).members
    assert (member.name, member.key, member.canonical) == ("p4n3", "P4N3", False)


def test_name_conflict_goes_to_the_senior_member() -> None:
    entries = [raw("P4N3", b"\x0a\x00\x00\x01"), raw("p4n3", b"\x0a\x00\x00\x02")]
    membership = parse_members(entries, seniority=lambda m: m.key != "P4N3")
    ((member,), problems) = membership.members, membership.problems
    assert member.key == "P4N3"
    assert problems == ("member 'p4n3' dropped: p4n3 is already held by member 'P4N3'",)
    # Without history the name Serf already spells in lower case wins.
    (member,) = parse_members(entries).members
    assert member.key == "p4n3"


def test_a_member_that_left_holds_no_name() -> None:
    entries = [raw("p4n3", b"\x0a\x00\x00\x01", "left"), raw("P4N3", b"\x0a\x00\x00\x02")]
    (member,) = parse_members(entries).members
    assert member.key == "P4N3"


def test_short_and_dotted_name_of_one_fqdn_conflict() -> None:
    entries = [raw("a", b"\x0a\x00\x00\x01"), raw("a.c.internal", b"\x0a\x00\x00\x02")]
    membership = parse_members(entries, domain="c.internal", seniority=lambda m: m.key != "a")
    (member,) = membership.members
    assert member.key == "a"
    assert "a.c.internal is already held by member 'a'" in membership.problems[0]


@pytest.mark.parametrize("name", ["www.example.com", "c.internal", "x.notc.internal"])
def test_names_outside_the_domain_are_dropped(name: str) -> None:
    membership = parse_members([raw(name), raw("ok", b"\x0a\x00\x00\x02")], domain="c.internal")
    assert [m.name for m in membership.members] == ["ok"]
    assert membership.problems == (
        f"member {name!r} dropped: {name} is outside the cluster domain c.internal",
    )


def test_names_inside_the_domain_are_kept() -> None:
    entries = [raw("a"), raw("b.c.internal", b"\x0a\x00\x00\x02"), raw("d.e.c.internal", "::2")]
    membership = parse_members(entries, domain="c.internal")
    assert [m.name for m in membership.members] == ["a", "b.c.internal", "d.e.c.internal"]


@pytest.mark.parametrize(
    ("addr", "reason"),
    [
        (b"\x00\x00\x00\x00", "0.0.0.0 (unspecified)"),
        ("::", ":: (unspecified)"),
        (b"\xe0\x00\x00\x01", "224.0.0.1 (multicast)"),
        (b"\xef\xff\xff\xff", "239.255.255.255 (multicast)"),
        ("ff02::1", "ff02::1 (multicast)"),
        (b"\xff\xff\xff\xff", "255.255.255.255 (broadcast)"),
    ],
)
def test_unusable_addresses_drop_the_member(addr: object, reason: str) -> None:
    membership = parse_members([raw("node1.test", addr)])
    assert membership.members == ()
    assert membership.problems == (f"member 'node1.test' dropped: unusable address {reason}",)


def test_loopback_and_other_addresses_never_mix() -> None:
    entries = [raw("lo", b"\x7f\x00\x00\x0b"), raw("net", b"\x0a\x00\x00\x01")]
    on_loopback = parse_members(entries, loopback=True)
    assert [m.name for m in on_loopback.members] == ["lo"]
    assert on_loopback.problems == (
        "member 'net' dropped: address 10.0.0.1 does not belong in a loopback cluster",
    )
    off_loopback = parse_members(entries, loopback=False)
    assert [m.name for m in off_loopback.members] == ["net"]
    assert "127.0.0.11 does not belong in a non-loopback cluster" in off_loopback.problems[0]
    assert len(parse_members(entries).members) == 2  # no rule when the caller does not know


@pytest.mark.parametrize("role", ["ambari-server", "Server", "server ", "leader", ""])
def test_unknown_role_is_ignored(role: str) -> None:
    membership = parse_members([raw("node1.test", role=role)])
    (member,) = membership.members
    assert member.role is None
    assert membership.problems == (
        f"member 'node1.test': tag 'role'={role!r} ignored (not a role: server, agent)",
    )
