"""Node commands: run, members, hosts, validate-config."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
import time
from collections.abc import Mapping
from typing import Any, TextIO

from cloudagent import config
from cloudagent.members import Membership, parse_members
from cloudagent.reconcile import Reconciler
from cloudagent.serf.rpc import SerfRPC
from cloudagent.state import StatePaths, load_failures

EXIT_OK = 0


def register(sub: Any) -> None:
    """Add the node commands to the CLI's subparsers."""
    run = sub.add_parser("run", help="run the agent (the container's main process)")
    run.add_argument(
        "role",
        nargs="?",
        choices=config.ROLES,
        help="this node's role (default: AMBARI_ROLE, else agent)",
    )
    run.set_defaults(handler=_run)
    members = sub.add_parser("members", help="list the members the local serf knows")
    members.add_argument("--json", action="store_true", help="machine-readable output")
    members.set_defaults(handler=_members)
    sub.add_parser("hosts", help="print the hosts file the agent would write now").set_defaults(
        handler=_hosts
    )
    sub.add_parser("validate-config", help="check the environment's configuration").set_defaults(
        handler=_validate_config
    )


def _run(args: argparse.Namespace, env: Mapping[str, str], out: TextIO) -> int:
    from cloudagent.agent import Agent  # noqa: PLC0415 - keeps the light commands fast

    cfg = config.load(env, role=args.role)
    logging.basicConfig(
        level=logging.DEBUG if args.debug else getattr(logging, cfg.log_level),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    return asyncio.run(Agent(cfg).run())


async def _fetch_members(cfg: config.Config) -> list[dict[str, Any]]:
    rpc = await SerfRPC.connect(cfg.serf_rpc, cfg.rpc_auth, timeout=5.0)
    try:
        return await rpc.members()
    finally:
        await rpc.close()


def _membership(cfg: config.Config) -> tuple[list[dict[str, Any]], Membership]:
    raw = asyncio.run(_fetch_members(cfg))
    return raw, parse_members(raw)


def _members(args: argparse.Namespace, env: Mapping[str, str], out: TextIO) -> int:
    cfg = config.load(env)
    _, membership = _membership(cfg)
    rows: list[dict[str, Any]] = [
        {
            "name": m.name,
            "fqdn": m.fqdn(cfg.domain),
            "address": str(m.address),
            "port": m.port,
            "role": m.role or "",
            "status": m.status.value,
            "tags": dict(m.tags),
        }
        for m in membership.members
    ]
    if args.json:
        json.dump({"members": rows, "dropped": list(membership.problems)}, out, indent=2)
        out.write("\n")
        return EXIT_OK
    table: list[tuple[str, ...]] = [("NAME", "ADDRESS", "ROLE", "STATUS")] + [
        (r["fqdn"], f"{r['address']}:{r['port']}", r["role"], r["status"]) for r in rows
    ]
    widths = [max(len(row[i]) for row in table) for i in range(4)]
    for row in table:
        out.write("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
        out.write("\n")
    for problem in membership.problems:
        out.write(f"# {problem}\n")
    return EXIT_OK


def _hosts(args: argparse.Namespace, env: Mapping[str, str], out: TextIO) -> int:
    cfg = config.load(env)
    raw, _ = _membership(cfg)
    failures = load_failures(StatePaths(cfg.state_dir).failures)
    cycle = Reconciler(cfg.domain, cfg.failed_grace, failures).step(raw, time.time())
    out.write(cycle.hosts_text)
    return EXIT_OK


def _validate_config(args: argparse.Namespace, env: Mapping[str, str], out: TextIO) -> int:
    cfg = config.load(env)
    width = max(len(name) for name, _ in cfg.describe())
    for name, value in cfg.describe():
        out.write(f"{name.ljust(width)}  {value}\n")
    out.write("configuration OK\n")
    return EXIT_OK
