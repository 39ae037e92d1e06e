"""The ``cloudagent`` command: ``main(argv, environ, stdout, stderr) -> exit status``."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TextIO

from cloudagent import __version__, config
from cloudagent.errors import CloudagentError, ConfigError
from cloudagent.members import Membership, parse_members
from cloudagent.reconcile import Reconciler
from cloudagent.serf.rpc import SerfRPC
from cloudagent.state import StatePaths, load_failures

EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cloudagent",
        description="Gossip membership agent: Serf membership -> dnsmasq DNS -> Ambari.",
        epilog="Configuration comes from environment variables; see README.md.",
    )
    parser.add_argument("--version", action="version", version=f"cloudagent {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks and debug logs")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    run = sub.add_parser("run", help="run the agent (the container's main process)")
    run.add_argument(
        "role",
        nargs="?",
        choices=config.ROLES,
        help="this node's role (default: AMBARI_ROLE, else agent)",
    )

    members = sub.add_parser("members", help="list the members the local serf knows")
    members.add_argument("--json", action="store_true", help="machine-readable output")

    sub.add_parser("hosts", help="print the hosts file the agent would write now")
    sub.add_parser("validate-config", help="check the environment's configuration")
    return parser


def main(
    argv: Sequence[str] | None = None,
    environ: Mapping[str, str] | None = None,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
) -> int:
    """Run one command; never raises for expected failures."""
    env = os.environ if environ is None else environ
    out = stdout or sys.stdout
    err = stderr or sys.stderr
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse has printed usage or help
        return int(exc.code or 0)
    commands: dict[str, Callable[[argparse.Namespace, Mapping[str, str], TextIO], int]] = {
        "run": _run,
        "members": _members,
        "hosts": _hosts,
        "validate-config": _validate_config,
    }
    try:
        return commands[args.command](args, env, out)
    except ConfigError as exc:
        print(f"cloudagent: {exc}", file=err)
        return EXIT_USAGE
    except CloudagentError as exc:
        if args.debug:
            raise
        print(f"cloudagent: {exc}", file=err)
        return EXIT_FAILURE
    except KeyboardInterrupt:
        return 130


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
