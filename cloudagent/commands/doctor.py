"""``cloudagent doctor [--json] [--all]``: the hostname round trip Hadoop needs, checked.

Locally it runs every check of :mod:`cloudagent.doctor` and prints one line per failure with
the reason and the fix. ``--all`` asks every member through a Serf query (each agent answers
with its own local result) and prints a table.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
from collections.abc import Mapping
from typing import Any, TextIO

from cloudagent import config, hostnames
from cloudagent.address import resolve_advertise
from cloudagent.doctor import QUERY_NAME, as_json, failed, run_checks
from cloudagent.errors import ConfigError
from cloudagent.hostfacts import gather
from cloudagent.members import Status, parse_members
from cloudagent.serf.rpc import SerfError, SerfRPC

QUERY_TIMEOUT = 90.0  # a JVM start on a loaded node takes seconds


def register(sub: Any) -> None:
    """Add ``doctor`` to the CLI's subparsers."""
    p = sub.add_parser("doctor", help="check this node's (or every node's) hostname round trip")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--all", action="store_true", help="run the check on every member")
    p.set_defaults(handler=_doctor)


def advertised(cfg: config.Config) -> str | None:
    """The address this node means to advertise, if it chooses one itself."""
    try:
        return resolve_advertise(cfg).advertise
    except ConfigError:
        return None


async def _members(cfg: config.Config) -> tuple[str | None, list[dict[str, Any]]]:
    """The running agent's node name and the members its serf knows."""
    try:
        rpc = await SerfRPC.connect(cfg.serf_rpc, cfg.rpc_auth, timeout=5.0)
    except SerfError:
        return None, []  # the checks say what that means (serf does not list this node)
    try:
        name = (await rpc.stats()).get("agent", {}).get("name")
        return (name if isinstance(name, str) else None), await rpc.members()
    finally:
        await rpc.close()


def local_checks(cfg: config.Config) -> tuple[config.Config, list[Any]]:
    """Gather this node's facts and judge them, under the name the running agent uses (the
    default name comes from getfqdn(), which a broken /etc/hosts changes under us)."""
    name, raw = asyncio.run(_members(cfg))
    if name and hostnames.normalise(name) != cfg.node_name:
        cfg = dataclasses.replace(cfg, node_name=hostnames.normalise(name))
    return cfg, run_checks(gather(cfg, raw, advertised=advertised(cfg)))


async def ask_all(
    cfg: config.Config, timeout: float
) -> tuple[list[str], dict[str, dict[str, Any]]]:
    """Every alive member's name, and the answers of those that answered the doctor query."""
    rpc = await SerfRPC.connect(cfg.serf_rpc, cfg.rpc_auth, timeout=10.0)
    try:
        alive = [m.name for m in parse_members(await rpc.members()).members
                 if m.status is Status.ALIVE]  # fmt: skip
        answers: dict[str, dict[str, Any]] = {}
        async for record in await rpc.query(QUERY_NAME, b"", timeout):
            if record.get("Type") == "done":
                break
            if record.get("Type") == "response":
                try:
                    answers[str(record.get("From"))] = dict(
                        json.loads(record.get("Payload") or b"")
                    )
                except (ValueError, TypeError):
                    answers[str(record.get("From"))] = {"f": "unreadable answer"}
            if set(alive) <= {hostnames.normalise(name) for name in answers}:
                break  # everyone answered: no need to wait for the query's timeout
        return alive, answers
    finally:
        await rpc.close()


def table(alive: list[str], answers: Mapping[str, Mapping[str, Any]]) -> tuple[list[str], bool]:
    """Rows (name, checks passed, first failure) and whether every member passed."""
    rows = [("NAME", "PASSED", "FIRST FAILURE")]
    ok = True
    for name in sorted(set(alive) | set(answers)):
        answer = answers.get(name)
        if answer is None:
            rows.append((name, "-", "no answer (is cloudagent running there?)"))
            ok = False
            continue
        first = str(answer.get("f") or "")
        ok = ok and not first
        rows.append((name, f"{answer.get('p', '?')}/{answer.get('t', '?')}", first or "-"))
    widths = [max(len(r[i]) for r in rows) for i in range(2)]
    lines = [f"{r[0].ljust(widths[0])}  {r[1].ljust(widths[1])}  {r[2]}" for r in rows]
    return lines, ok


def _doctor(args: argparse.Namespace, env: Mapping[str, str], out: TextIO) -> int:
    cfg = config.load(env)
    if args.all:
        alive, answers = asyncio.run(ask_all(cfg, QUERY_TIMEOUT))
        lines, ok = table(alive, answers)
        if args.json:
            out.write(json.dumps({"members": alive, "answers": answers}, indent=2) + "\n")
        else:
            out.write("\n".join(lines) + "\n")
        return 0 if ok else 1
    cfg, checks = local_checks(cfg)
    bad = failed(checks)
    if args.json:
        out.write(json.dumps(as_json(cfg.fqdn, checks), indent=2) + "\n")
    else:
        for check in checks:
            if check.ok is not True:
                out.write(check.line() + "\n")
        ran = [c for c in checks if c.ok is not None]
        out.write(f"{cfg.fqdn}: {len(ran) - len(bad)}/{len(ran)} checks passed\n")
    return 1 if bad else 0
