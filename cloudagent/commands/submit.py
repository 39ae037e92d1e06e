"""``cloudagent blueprint submit``: register a blueprint, create the cluster, follow it."""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Mapping
from typing import Any, TextIO

from cloudagent import config
from cloudagent.ambari.layout import Candidate, assign_hosts
from cloudagent.ambari.settings import AmbariSettings, load_ambari, load_blueprint
from cloudagent.ambari.validate import check_blueprint
from cloudagent.errors import CloudagentError
from cloudagent.members import Status, parse_members

EXIT_OK, EXIT_FAILED = 0, 1
BAR = 30


def register(bsub: Any) -> None:
    submit = bsub.add_parser(
        "submit",
        help="register a blueprint and create a cluster from it",
        description="Validates FILE offline, registers it (an identical blueprint already "
        "there is fine), lays the hosts out on its host groups and creates the cluster. "
        "Credentials: AMBARI_USER, AMBARI_PASSWORD or AMBARI_PASSWORD_FILE; the cluster's "
        "default_password: DEFAULT_PASSWORD or DEFAULT_PASSWORD_FILE.",
    )
    submit.add_argument("file", metavar="FILE", help="a blueprint file or a shipped name")
    submit.add_argument(
        "--ambari",
        required=True,
        metavar="URL",
        help="the Ambari API, e.g. http://AMBARI_HOST:8080",
    )
    submit.add_argument("--cluster", help="cluster name (default: CLUSTER_NAME, else hadoop)")
    submit.add_argument(
        "--map",
        action="append",
        default=[],
        metavar="GROUP=HOST[,HOST...]",
        help="put these hosts in this host group (repeatable)",
    )
    submit.add_argument(
        "--from-serf", action="store_true", help="lay out the alive members the local serf knows"
    )
    submit.add_argument(
        "--wait",
        action="store_true",
        help="follow the request to the end; exit 1 unless it COMPLETED",
    )
    submit.add_argument("--poll", type=float, default=2.0, help="seconds between polls (--wait)")
    submit.set_defaults(handler=_submit)


def parse_map(entries: list[str]) -> dict[str, str]:
    """``GROUP=HOST[,HOST...]`` options -> host -> group.

    >>> parse_map(["master=a.x", "worker=b.x,C.x"])
    {'a.x': 'master', 'b.x': 'worker', 'c.x': 'worker'}
    """
    mapping: dict[str, str] = {}
    for entry in entries:
        group, sep, hosts = entry.partition("=")
        if not sep or not group or not hosts:
            raise CloudagentError(f"--map {entry!r}: expected GROUP=HOST[,HOST...]")
        for host in hosts.split(","):
            if host.strip():
                mapping[host.strip().lower()] = group
    return mapping


async def _serf_candidates(env: Mapping[str, str]) -> list[Candidate]:
    from cloudagent.serf.rpc import SerfRPC  # noqa: PLC0415 - keeps `cloudagent run` light

    cfg = config.load(env)
    rpc = await SerfRPC.connect(cfg.serf_rpc, cfg.rpc_auth, timeout=5.0)
    try:
        membership = parse_members(await rpc.members())
    finally:
        await rpc.close()
    return [
        Candidate(m.fqdn(cfg.domain), m.tags.get("hostgroup"), m.role == "server")
        for m in membership.members
        if m.status is Status.ALIVE
    ]


def _layout(args: argparse.Namespace, env: Mapping[str, str], bp: Any) -> dict[str, list[str]]:
    mapping = parse_map(args.map)
    if args.from_serf:
        candidates = asyncio.run(_serf_candidates(env))
        candidates = [
            Candidate(c.fqdn, mapping.get(c.fqdn, c.hostgroup), c.is_server) for c in candidates
        ]
        return assign_hosts(bp, candidates)
    if not mapping:
        raise CloudagentError("say where the hosts go: --map GROUP=HOST[,HOST...] or --from-serf")
    layout: dict[str, list[str]] = {}
    for host, group in mapping.items():
        if group not in bp.host_groups:
            raise CloudagentError(
                f"--map: blueprint {bp.name!r} has no host group {group!r} "
                f"(it has: {', '.join(bp.host_groups)})"
            )
        layout.setdefault(group, []).append(host)
    return layout


def _progress_line(status: str, progress: float) -> str:
    filled = int(BAR * max(0.0, min(progress, 100.0)) / 100)
    return f"[{'#' * filled}{'.' * (BAR - filled)}] {progress:5.1f}% {status}"


def follow(client: Any, cluster: str, request: int, out: TextIO, poll: float) -> int:
    """Show the request's progress until it ends; the exit status tells how it ended."""
    tty = out.isatty()
    last = ""
    while True:
        state = client.request(cluster, request)
        line = _progress_line(state.status, state.progress)
        if tty:
            out.write(f"\r{line}")
        elif line != last:
            out.write(f"{line}\n")
        out.flush()
        last = line
        if state.finished:
            if tty:
                out.write("\n")
            verdict = "completed" if not state.failed else f"FAILED ({state.status})"
            out.write(f"request {request} ({state.context}): {verdict}\n")
            return EXIT_FAILED if state.failed else EXIT_OK
        time.sleep(poll)


def _submit(args: argparse.Namespace, env: Mapping[str, str], out: TextIO) -> int:
    # requests is imported here, not at the top: `cloudagent run` must stay light.
    from cloudagent.ambari.client import AmbariClient, AmbariError  # noqa: PLC0415
    from cloudagent.ambari.provision import cluster_template, register_blueprint  # noqa: PLC0415

    settings: AmbariSettings = load_ambari({**env, "BLUEPRINT": args.file})
    name, doc = load_blueprint(args.file)
    verdict = check_blueprint(doc, url_name=name, ambari=settings.ambari_version)
    if not verdict.accepted or verdict.blueprint is None:
        out.write(f"{args.file}: Ambari would reject it: {verdict.status} {verdict.message}\n")
        return EXIT_FAILED
    bp = verdict.blueprint
    layout = _layout(args, env, bp)
    client = AmbariClient(args.ambari, user=settings.user, password=settings.password)
    cluster = args.cluster or env.get("CLUSTER_NAME") or "hadoop"
    outcome = register_blueprint(client, settings, bp)
    out.write(f"blueprint {name}: {outcome}\n")
    for group, hosts in layout.items():
        out.write(f"  {group}: {', '.join(hosts)}\n")
    password = settings.default_password.reveal() if settings.default_password else None
    try:
        request = client.create_cluster(cluster, cluster_template(name, layout, password))
    except AmbariError as exc:
        raise CloudagentError(f"creating cluster {cluster}: {exc}") from exc
    out.write(f"cluster {cluster}: request {request} accepted\n")
    if not args.wait:
        return EXIT_OK
    return follow(client, cluster, request, out, args.poll)
