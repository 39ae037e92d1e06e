"""wait's decision and polling loop, with a fake resolver and clock."""

from __future__ import annotations

import ipaddress
from typing import Any

from cloudagent.commands.wait import wait_ready
from cloudagent.config import load
from cloudagent.readiness import Want

ENV = {"CLOUDAGENT_NODE_NAME": "n2", "MYDOMAIN": "c.internal", "DNS_UPSTREAM": "none"}


def raw(name: str, addr: str, role: str) -> dict[str, Any]:
    packed = ipaddress.ip_address(addr).packed
    return {"Name": name, "Addr": packed, "Port": 7946, "Status": "alive", "Tags": {"role": role}}


class FakeDNS:
    def __init__(self, records: dict[str, str]) -> None:
        self.records = records

    def addresses(self, name: str) -> list[str] | None:
        return [self.records[name]] if name in self.records else None

    def names(self, address: str) -> list[str] | None:
        found = [n for n, a in self.records.items() if a == address and n.count(".") > 1]
        return found or None


def test_ready_at_once_when_everything_is_served() -> None:
    cfg = load(ENV, is_root=False)
    members = [raw("n1", "10.0.0.1", "server"), raw("n2", "10.0.0.2", "agent")]
    dns = FakeDNS(
        {
            "n1.c.internal": "10.0.0.1",
            "n2.c.internal": "10.0.0.2",
            "namenode.c.internal": "10.0.0.1",
        }
    )
    gaps = wait_ready(cfg, Want(2, ("server",), ("namenode",)), 10, fetch=lambda: members, dns=dns)
    assert gaps == []


def test_timeout_names_every_gap() -> None:
    cfg = load(ENV, is_root=False)
    now = [0.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    members = [raw("n2", "10.0.0.2", "agent")]
    gaps = wait_ready(
        cfg, Want(2, ("server",)), 2.0, fetch=lambda: members, dns=FakeDNS({}),
        clock=lambda: now[0], sleep=sleep,
    )  # fmt: skip
    assert gaps == [
        "n2.c.internal -> NXDOMAIN, want 10.0.0.2",
        "10.0.0.2 -> NXDOMAIN, want n2.c.internal",
        "0 of 2 members served",
        "role server (no served member)",
    ]
    assert sum(slept) == 2.0
