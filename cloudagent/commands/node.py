"""Node commands: run, members, hosts, validate-config."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from typing import Any, TextIO

from cloudagent import config
from cloudagent.address import resolve_advertise
from cloudagent.ambari.election import Election, elect
from cloudagent.ambari.settings import AmbariSettings, collect_ambari
from cloudagent.daemon.state import StatePaths, load_arrivals, load_failures
from cloudagent.endpoint import Endpoint
from cloudagent.environ import Collector
from cloudagent.errors import CloudagentError, ExitStatus
from cloudagent.keyring import read_join_problem
from cloudagent.logformat import setup_logging
from cloudagent.members import Membership, members_document, parse_members
from cloudagent.reconcile import Reconciler
from cloudagent.serf.rpc import SerfRPC, SerfRPCError
from cloudagent.workload import collect_service, load_service


def register(sub: Any) -> None:
    """Add the node commands to the CLI's subparsers."""
    run = sub.add_parser("run", help="run the agent (the container's main process)")
    run.add_argument(
        "role",
        nargs="?",
        choices=config.ROLES,
        help="this node's role (default: AMBARI_ROLE, else agent)",
    )
    run.add_argument(
        "--log-format",
        choices=("text", "json"),
        help="log lines as text or one JSON object each (default: CLOUDAGENT_LOG_FORMAT, text)",
    )
    run.set_defaults(handler=_run)
    members = sub.add_parser("members", help="list the members the local serf knows")
    members.add_argument("--json", action="store_true", help="machine-readable output")
    members.set_defaults(handler=_members)
    sub.add_parser("hosts", help="print the hosts file the agent would write now").set_defaults(
        handler=_hosts
    )
    sub.add_parser(
        "health",
        help="exit 0 when serf answers and the local dnsmasq serves this node (HEALTHCHECK)",
    ).set_defaults(handler=_health)
    status = sub.add_parser("status", help="the cluster's provisioning status, from any node")
    status.add_argument("--json", action="store_true", help="machine-readable output")
    status.set_defaults(handler=_status)
    sub.add_parser(
        "validate-config",
        help="check the environment's configuration and this machine: programs, user, ports",
        description="Every problem is one line; all are reported at once (exit status 2). "
        "Ports held by this node's running serf or dnsmasq count as free.",
    ).set_defaults(handler=_validate_config)


def _run(args: argparse.Namespace, env: Mapping[str, str], out: TextIO) -> int:
    from cloudagent.daemon.agent import Agent  # noqa: PLC0415 - keeps the light commands fast

    cfg, ambari = load_all(env, role=args.role)
    service = load_service(env)
    cfg = resolve_advertise(cfg)  # CLOUDAGENT_ADVERTISE_CIDR: pick the interface address
    level = logging.DEBUG if args.debug else getattr(logging, cfg.log_level)
    setup_logging(level, args.log_format or cfg.log_format)
    return asyncio.run(Agent(cfg, ambari=ambari, service=service).run())


async def _fetch_members(cfg: config.Config) -> list[dict[str, Any]]:
    try:
        rpc = await SerfRPC.connect(cfg.serf_rpc, cfg.rpc_auth, timeout=5.0)
        try:
            return await rpc.members()
        finally:
            await rpc.close()
    except SerfRPCError as exc:
        if "authentication" not in exc.message.lower():
            raise
        # The agent generates a token when SERF_RPC_AUTH is not given; only its user reads it.
        raise CloudagentError(
            f"serf RPC at {cfg.serf_rpc} refused us ({exc.message}); run this as the user "
            f"that runs the agent (the token is in {cfg.rpc_token_file}), or set "
            "SERF_RPC_AUTH / SERF_RPC_AUTH_FILE to the agent's token"
        ) from None


def _membership(cfg: config.Config) -> tuple[list[dict[str, Any]], Membership]:
    raw = asyncio.run(_fetch_members(cfg))
    return raw, parse_members(raw)


def _members(args: argparse.Namespace, env: Mapping[str, str], out: TextIO) -> int:
    cfg = config.load(env)
    _, membership = _membership(cfg)
    document = members_document(membership, cfg.domain)
    if args.json:
        json.dump(document, out, indent=2)
        out.write("\n")
        return ExitStatus.OK
    rows: list[dict[str, Any]] = document["members"]
    table: list[tuple[str, ...]] = [("NAME", "ADDRESS", "ROLE", "STATUS")] + [
        (r["fqdn"], f"{r['address']}:{r['port']}", r["role"], r["status"]) for r in rows
    ]
    widths = [max(len(row[i]) for row in table) for i in range(4)]
    for row in table:
        out.write("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
        out.write("\n")
    for problem in membership.problems:
        out.write(f"# {problem}\n")
    return ExitStatus.OK


def _hosts(args: argparse.Namespace, env: Mapping[str, str], out: TextIO) -> int:
    cfg = config.load(env)
    raw, _ = _membership(cfg)
    paths = StatePaths(cfg.state_dir)
    reconciler = Reconciler(
        cfg.domain,
        cfg.failed_grace,
        arrivals=load_arrivals(paths.arrivals, read_only=True),
        self_name=cfg.node_name,
        remembered=load_failures(paths.failures, read_only=True),
    )
    cycle = reconciler.step(raw, time.time())
    out.write(cycle.hosts_text)
    return ExitStatus.OK


def load_all(
    env: Mapping[str, str], role: str | None = None, *, check_machine: bool = False
) -> tuple[config.Config, AmbariSettings]:
    """The node's and Ambari's configuration, read by one collector: every problem of both
    (and with ``check_machine``, of this machine: programs, user, ports) reported at once."""
    c = Collector(env)
    cfg = config.collect(c, role=role)
    ambari = collect_ambari(c)
    collect_service(c)  # read again by `run`; checked here so every problem shows at once
    if check_machine:
        from cloudagent import preflight  # noqa: PLC0415 - only validate-config reads /proc

        # A variable that is itself wrong is not checked again against the machine.
        skip = {problem.partition(":")[0] for problem in c.problems}
        for problem in preflight.check(cfg, skip=skip):
            c.problem(problem)
    c.finish()
    return cfg, ambari


def _describe_ambari(s: AmbariSettings, role: str) -> list[tuple[str, str]]:
    if not s.enabled:
        return [("ambari", "off (CLOUDAGENT_AMBARI=off)")]
    rows = [
        ("ambari agent ini", str(s.agent_ini)),
        ("ambari agent cmd", " ".join(s.agent_command) or "(none: not managed)"),
    ]
    if role == "server":
        rows += [
            ("ambari url", s.url),
            ("ambari server cmd", " ".join(s.server_command) or "(none: not managed)"),
            ("blueprint", s.blueprint_name),
            ("cluster", s.cluster),
            ("expected hosts", str(s.expected_hosts)),
            ("default password", "set" if s.default_password else "not set"),
        ]
    return rows


def _validate_config(args: argparse.Namespace, env: Mapping[str, str], out: TextIO) -> int:
    cfg, ambari = load_all(env, check_machine=True)
    rows = cfg.describe() + _describe_ambari(ambari, cfg.role) + load_service(env).describe()
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        out.write(f"{name.ljust(width)}  {value}\n")
    out.write("configuration OK\n")
    return ExitStatus.OK


def _election(cfg: config.Config, membership: Membership) -> Election:
    failures = load_failures(StatePaths(cfg.state_dir).failures, read_only=True)
    since = {name: failed.since for name, failed in failures.items()}
    return elect(membership.members, since, time.time(), cfg.failed_grace)


def _status(args: argparse.Namespace, env: Mapping[str, str], out: TextIO) -> int:
    """What the acting server publishes in its ambari-* tags; exit 1 on failure."""
    cfg = config.load(env)
    _, membership = _membership(cfg)
    election = _election(cfg, membership)
    server = election.acting
    if server is None:
        if args.json:
            doc = {"server": None, "phase": "no-server", "ignored": list(election.ignored)}
            out.write(json.dumps(doc) + "\n")
        else:
            out.write(f"{election.describe(cfg.node_name, cfg.domain)}\n")
        return ExitStatus.FAILURE
    standby = [
        m.fqdn(cfg.domain)
        for m in membership.members
        if m.name in election.candidates and m.name != server.name
    ]
    tags = {k.removeprefix("ambari-"): v for k, v in server.tags.items() if k.startswith("ambari-")}
    phase = tags.get("phase", "starting")
    if args.json:
        doc = {
            "server": server.fqdn(cfg.domain),
            "server_status": server.status.value,
            **tags,
            "standby": standby,
            "this_node": _node_role(cfg, membership, election),
        }
        out.write(json.dumps(doc, indent=2) + "\n")
    else:
        progress = f", {tags['progress']}%" if "progress" in tags else ""
        request = f", request {tags['request']}" if "request" in tags else ""
        others = f"; standby: {', '.join(standby)}" if standby else ""
        out.write(
            f"cluster {tags.get('cluster', '?')} on {server.fqdn(cfg.domain)} "
            f"({server.status.value}, acting{others}): {phase}{request}{progress}, "
            f"hosts {tags.get('hosts', '?')}\n"
        )
        if _node_role(cfg, membership, election) == "standby":
            out.write(f"this node ({cfg.fqdn}) is a standby Ambari server\n")
    return ExitStatus.FAILURE if phase in ("failed", "error") else ExitStatus.OK


def _node_role(cfg: config.Config, membership: Membership, election: Election) -> str:
    """``acting`` / ``standby`` for a node whose member is tagged role=server, else ``agent``."""
    me = membership.by_name().get(cfg.node_name)
    if me is None or me.role != "server":
        return "agent"
    return "acting" if election.is_acting(cfg.node_name) else "standby"


def _health(args: argparse.Namespace, env: Mapping[str, str], out: TextIO) -> int:
    """Healthy: the agent refreshes its status and its cycles succeed with every task up, the
    local serf answers and lists us alive, and our dnsmasq resolves our FQDN both ways."""
    from cloudagent.daemon.status import judge_status, pid_alive, read_status  # noqa: PLC0415

    cfg = config.load(env)
    if problem := read_join_problem(cfg.state_dir):
        out.write(f"unhealthy: cannot join the cluster: {problem}\n")
        return ExitStatus.FAILURE
    status_file = StatePaths(cfg.state_dir).health
    if (problem := judge_status(read_status(status_file), time.time(), pid_alive)) is not None:
        out.write(f"unhealthy: {problem}\n")
        return ExitStatus.FAILURE
    _, membership = _membership(cfg)
    me = membership.by_name().get(cfg.node_name)
    if me is None or me.status.value != "alive":
        out.write(f"unhealthy: serf does not list {cfg.node_name} as alive\n")
        return ExitStatus.FAILURE
    from cloudagent.dns.query import DNSError, Lookup  # noqa: PLC0415 - `run` needs no dnspython

    lookup = Lookup(cfg.dns_listen, timeout=2.0)
    try:
        forward = lookup.addresses(cfg.fqdn)
        reverse = lookup.names(str(me.address))
    except DNSError as exc:
        out.write(f"unhealthy: dnsmasq at {cfg.dns_listen} does not answer ({exc})\n")
        return ExitStatus.FAILURE
    if forward != [str(me.address)] or reverse != [cfg.fqdn]:
        out.write(f"unhealthy: {cfg.fqdn} -> {forward}, {me.address} -> {reverse}\n")
        return ExitStatus.FAILURE
    if cfg.http_listen is not None and (verdict := _agent_health(cfg.http_listen)) is not None:
        out.write(f"unhealthy: {verdict}\n")
        return ExitStatus.FAILURE
    ambari = ""
    if me.role == "server":
        election = _election(cfg, membership)
        acting = election.acting.fqdn(cfg.domain) if election.acting else "none"
        role = _node_role(cfg, membership, election)
        ambari = f", Ambari server: {role}" + ("" if role == "acting" else f" (acting: {acting})")
    out.write(f"healthy: {cfg.fqdn} {me.address} ({len(membership.members)} members{ambari})\n")
    return ExitStatus.OK


def _agent_health(listen: Endpoint) -> str | None:
    """The agent's own judgement (``/health``): None when healthy, else its problems."""
    url = f"http://{listen}/health"
    try:
        with urllib.request.urlopen(url, timeout=3.0) as reply:
            json.load(reply)
    except urllib.error.HTTPError as exc:
        try:
            problems = json.load(exc).get("problems") or [f"HTTP {exc.code}"]
        except ValueError:
            problems = [f"HTTP {exc.code}"]
        return "; ".join(problems)
    except (OSError, ValueError) as exc:
        return f"the agent does not answer {url} ({exc})"
    return None
