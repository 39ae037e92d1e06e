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
    assert "folding to lower case" in membership.problems[0]


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
