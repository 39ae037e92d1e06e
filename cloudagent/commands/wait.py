"""``cloudagent wait``: the readiness gate for entrypoints and recipes.

Exits 0 as soon as this node's own name resolves forward and reverse through its own dnsmasq,
at least N alive members are served, and every named role and service has a served member;
exits 1 with one line naming what is still missing when the timeout runs out.

Services are checked by asking the local dnsmasq for ``<service>.<MYDOMAIN>``, the A record
served for every member offering the service, so this command does not depend on how the
service list is carried in Serf's tags.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Callable, Mapping
from typing import Any, Protocol, TextIO

from cloudagent import config
from cloudagent.dns.query import DNSError, Lookup
from cloudagent.members import Status, parse_members
from cloudagent.readiness import Observation, Want, missing
from cloudagent.serf.rpc import SerfError, SerfRPC

POLL = 0.5


class Resolver(Protocol):
    """The A and PTR lookups ``wait`` needs (a :class:`Lookup` on the node's dnsmasq)."""

    def addresses(self, name: str) -> list[str] | None: ...

    def names(self, address: str) -> list[str] | None: ...


def register(sub: Any) -> None:
    """Add ``wait`` to the CLI's subparsers."""
    p = sub.add_parser("wait", help="wait until this node and the cluster are resolvable")
    p.add_argument("--members", type=int, default=1, metavar="N", help="alive members served")
    p.add_argument("--role", action="append", default=[], metavar="ROLE", help="repeatable")
    p.add_argument("--service", action="append", default=[], metavar="NAME", help="repeatable")
    p.add_argument("--timeout", type=float, default=300.0, metavar="SECONDS")
    p.set_defaults(handler=_wait)


def observe(
    cfg: config.Config, raw: list[dict[str, Any]], dns: Resolver, want: Want
) -> Observation:
    """Look at this node once: who serf lists and what our dnsmasq answers."""
    membership = parse_members(raw)
    me = membership.by_name().get(cfg.node_name)
    forward = dns.addresses(cfg.fqdn)
    reverse = dns.names(str(me.address)) if me is not None else None
    served = tuple(
        m
        for m in membership.members
        if m.status is Status.ALIVE and dns.addresses(m.fqdn(cfg.domain)) == [str(m.address)]
    )
    services = {name: bool(dns.addresses(f"{name}.{cfg.domain}")) for name in want.services}
    return Observation(cfg.fqdn, me, forward, reverse, served, services)


async def _members(cfg: config.Config) -> list[dict[str, Any]]:
    rpc = await SerfRPC.connect(cfg.serf_rpc, cfg.rpc_auth, timeout=5.0)
    try:
        return await rpc.members()
    finally:
        await rpc.close()


def wait_ready(
    cfg: config.Config,
    want: Want,
    timeout: float,
    *,
    fetch: Callable[[], list[dict[str, Any]]],
    dns: Resolver,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> list[str]:
    """Poll until ready (returns []) or until ``timeout`` (returns what is still missing)."""
    deadline = clock() + timeout
    while True:
        try:
            gaps = missing(want, observe(cfg, fetch(), dns, want))
        except SerfError as exc:
            gaps = [f"serf not answering ({exc})"]
        except DNSError as exc:
            gaps = [f"dnsmasq at {cfg.dns_listen} not answering ({type(exc).__name__})"]
        if not gaps or clock() >= deadline:
            return gaps
        sleep(min(POLL, max(0.0, deadline - clock())))


def _wait(args: argparse.Namespace, env: Mapping[str, str], out: TextIO) -> int:
    cfg = config.load(env)
    want = Want(args.members, tuple(args.role), tuple(args.service))
    gaps = wait_ready(
        cfg,
        want,
        args.timeout,
        # Reload each time: an entrypoint may start waiting before the agent has generated
        # its RPC token, which config.load reads from the state directory.
        fetch=lambda: asyncio.run(_members(config.load(env))),
        dns=Lookup(cfg.dns_listen, timeout=1.0),
    )
    if gaps:
        out.write(f"not ready after {args.timeout:g}s: {'; '.join(gaps)}\n")
        return 1
    out.write(f"ready: {cfg.fqdn}\n")
    return 0
