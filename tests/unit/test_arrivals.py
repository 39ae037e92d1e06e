import ipaddress

import pytest

from cloudagent.arrivals import FORGET_AFTER, SEEN_EVERY, Arrivals
from cloudagent.members import Member, Status


def member(name: str, address: str, serf_name: str = "") -> Member:
    return Member(name, ipaddress.ip_address(address), 7946, Status.ALIVE, serf_name=serf_name)


A, B = member("a", "10.0.0.1"), member("b", "10.0.0.2")


def test_members_are_numbered_in_the_order_first_seen() -> None:
    record = Arrivals().record([A], now=0).record([A, B], now=1)
    assert (record.order(A), record.order(B)) == (1, 2)
    together = Arrivals().record([B, A], now=0)
    assert together.order(A) == together.order(B) == 1
    assert record.order(member("c", "10.0.0.3")) == record.next_order == 3


def test_unchanged_cycle_returns_the_same_record() -> None:
    record = Arrivals().record([A, B], now=0)
    assert record.record([A, B], now=SEEN_EVERY - 1) is record
    refreshed = record.record([A, B], now=SEEN_EVERY)
    assert refreshed is not record and refreshed.order(A) == 1


def test_a_member_that_moves_is_new_at_its_new_address() -> None:
    record = Arrivals().record([A], now=0).record([B], now=1)
    moved = record.record([member("a", "10.0.0.2"), B], now=2)
    assert moved.order(member("a", "10.0.0.2")) == 1
    assert moved.address_order(member("a", "10.0.0.2")) == 3
    assert moved.address_order(B) == 2


def test_case_variants_are_different_members() -> None:
    impostor = member("a", "10.0.0.9", serf_name="A")
    record = Arrivals().record([A], now=0).record([A, impostor], now=1)
    assert (record.order(A), record.order(impostor)) == (1, 2)


def test_absent_members_are_remembered_for_a_while() -> None:
    record = Arrivals().record([A, B], now=0).record([B], now=1)
    assert record.order(A) == 1
    back = record.record([A, B], now=FORGET_AFTER - 1)
    assert back.order(A) == 1
    forgotten = record.record([B], now=FORGET_AFTER + 1)
    assert A.key not in forgotten.members


def test_order_ignores_the_clock() -> None:
    # A clock stepped backwards cannot make a newcomer senior: orders are a counter.
    record = Arrivals().record([A], now=1_000_000).record([A, B], now=5)
    assert record.order(A) < record.order(B)


def test_json_round_trip_and_a_damaged_file() -> None:
    record = Arrivals().record([A], now=0).record([A, B], now=1)
    assert Arrivals.from_json(record.to_json()) == record
    damaged = '{"next_order": 1, "members": {"a": [5, "10.0.0.1", 5, 0], "b": "junk"}}'
    loaded = Arrivals.from_json(damaged)
    assert loaded.order(A) == 5 and loaded.next_order == 6
    with pytest.raises(ValueError):
        Arrivals.from_json("[]")
