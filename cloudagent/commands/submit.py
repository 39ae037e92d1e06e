"""``cloudagent blueprint submit``: register a blueprint, create the cluster, follow it."""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Mapping
from typing import Any, TextIO

from cloudagent import config
from cloudagent.ambari.layout import Candidate, assign_hosts
from cloudagent.ambari.settings import DEFAULT_CLUSTER, load_ambari
from cloudagent.errors import CloudagentError, ExitStatus, UsageError
from cloudagent.members import Status, parse_members

BAR = 30


def register(bsub: Any) -> None:
    """Add ``blueprint submit``."""
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
    submit.add_argument(
        "--cluster", help=f"cluster name (default: CLUSTER_NAME, else {DEFAULT_CLUSTER})"
    )
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
            raise UsageError(f"--map {entry!r}: expected GROUP=HOST[,HOST...]")
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
        raise UsageError("say where the hosts go: --map GROUP=HOST[,HOST...] or --from-serf")
    layout: dict[str, list[str]] = {}
    for host, group in mapping.items():
        if group not in bp.host_groups:
            raise UsageError(
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
            return ExitStatus.FAILURE if state.failed else ExitStatus.OK
        time.sleep(poll)


def _submit(args: argparse.Namespace, env: Mapping[str, str], out: TextIO) -> int:
    # requests is imported here, not at the top: `cloudagent run` must stay light.
    from cloudagent.ambari.client import AmbariClient, AmbariError  # noqa: PLC0415
    from cloudagent.ambari.provision import ClusterOrder, provision_cluster  # noqa: PLC0415

    settings = load_ambari({**env, "BLUEPRINT": args.file})
    order = ClusterOrder.from_settings(settings, cluster=args.cluster)
    client = AmbariClient(args.ambari, user=settings.user, password=settings.password)
    try:
        submitted = provision_cluster(client, order, lambda bp: _layout(args, env, bp))
    except AmbariError as exc:
        raise CloudagentError(f"cluster {order.cluster}: {exc}") from exc
    out.write(f"blueprint {order.blueprint_name}: {submitted.registration}\n")
    for group, hosts in submitted.layout.items():
        out.write(f"  {group}: {', '.join(hosts)}\n")
    out.write(f"cluster {order.cluster}: request {submitted.request} accepted\n")
    if not args.wait:
        return ExitStatus.OK
    return follow(client, order.cluster, submitted.request, out, args.poll)
