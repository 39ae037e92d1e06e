"""``cloudagent cluster up|add|ls|down``: a local cluster of containers."""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from cloudagent.endpoint import Endpoint
from cloudagent.environ import Collector
from cloudagent.errors import CloudagentError, ExitStatus
from cloudagent.files import read_text
from cloudagent.secret import Secret
from cloudagent.topology import parse_rack
from cloudagent.values import encrypt_key, resolv_conf_upstreams

if TYPE_CHECKING:
    from cloudagent.dev.launch import ClusterSpec, Launcher

# The docker SDK is imported by the handlers only: it is an optional extra (cloudagent[docker])
# that the agent image does not install, and `cloudagent run` must stay light.
DEFAULT_PREFIX = "node"


def register(sub: Any) -> None:
    """Add ``cluster up|add|ls|down``."""
    cluster = sub.add_parser("cluster", help="a local cluster of cloudagent containers (Docker)")
    csub = cluster.add_subparsers(dest="cluster_command", metavar="ACTION", required=True)
    up = csub.add_parser("up", help="start N nodes; wait until every node resolves every other")
    up.add_argument("--nodes", type=int, default=3)
    add = csub.add_parser("add", help="add one node to a running cluster")
    for p in (up, add):
        p.add_argument("--image", default="cloudagent:latest")
        p.add_argument("--domain", default="cluster.internal")
        p.add_argument("--blueprint", help="blueprint for the server role (default by size)")
        p.add_argument(
            "--ambari",
            choices=("emulator", "installed", "off"),
            default="emulator",
            help="emulator (default), the image's own Ambari, or none",
        )
        p.add_argument(
            "--dns-upstream",
            default="host",
            help="'host' (this machine's resolvers), 'none', or ip[,ip...]",
        )
        p.add_argument(
            "--task-seconds",
            type=float,
            default=1.0,
            help="emulator: seconds per install/start stage",
        )
        p.add_argument("--timeout", type=float, default=120.0)
        p.add_argument(
            "--no-encrypt",
            action="store_true",
            help="open gossip: no key (default: SERF_ENCRYPT_KEY(_FILE), else up generates one)",
        )
        p.add_argument(
            "--rack",
            type=_rack,
            help="the nodes' Hadoop rack (default: /<the Docker engine's host name>)",
        )
    ls = csub.add_parser(
        "ls", help="list the clusters on this engine, or with --prefix the nodes of one"
    )
    ls.add_argument("--prefix", help="list this cluster's nodes")
    down = csub.add_parser("down", help="remove the containers and network that up/add made")
    for p in (up, add, down):
        p.add_argument(
            "--prefix", default=DEFAULT_PREFIX, help="node names are PREFIX1, PREFIX2, ..."
        )
    up.set_defaults(handler=_up)
    add.set_defaults(handler=_add)
    ls.set_defaults(handler=_ls)
    down.set_defaults(handler=_down)


def _rack(text: str) -> str:
    try:
        return parse_rack(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _upstream(choice: str) -> str:
    if choice != "host":
        return choice
    found = resolv_conf_upstreams(
        read_text(Path("/etc/resolv.conf")) or "", Endpoint("127.0.0.1", 53)
    )
    return ",".join(str(e) for e in found) or "none"


def _spec(args: argparse.Namespace, env: Mapping[str, str], nodes: int = 1) -> ClusterSpec:
    from cloudagent.dev.launch import ClusterSpec  # noqa: PLC0415 - see the note at the top

    passed = {k: env[k] for k in ("DEFAULT_PASSWORD", "CLUSTER_NAME") if env.get(k)}
    return ClusterSpec(
        nodes=nodes,
        image=args.image,
        domain=args.domain,
        prefix=args.prefix,
        blueprint=args.blueprint,
        ambari=args.ambari,
        dns_upstream=_upstream(args.dns_upstream),
        task_seconds=args.task_seconds,
        env=passed,
        gossip_key=None if args.no_encrypt else _given_key(env),
        open_gossip=args.no_encrypt,
        rack=args.rack,
    )


def _given_key(env: Mapping[str, str]) -> Secret | None:
    """The operator's gossip key (SERF_ENCRYPT_KEY or a 0600 SERF_ENCRYPT_KEY_FILE), checked."""
    c = Collector(env)
    key = c.secret("SERF_ENCRYPT_KEY", encrypt_key)
    c.finish()
    return key


def _launcher(out: TextIO) -> Launcher:
    from cloudagent.dev.launch import Launcher  # noqa: PLC0415 - see the note at the top

    def say(line: str) -> None:
        out.write(line + "\n")
        out.flush()

    return Launcher(say=say)


def _up(args: argparse.Namespace, env: Mapping[str, str], out: TextIO) -> int:
    _launcher(out).up(_spec(args, env, args.nodes), timeout=args.timeout)
    return ExitStatus.OK


def _add(args: argparse.Namespace, env: Mapping[str, str], out: TextIO) -> int:
    _launcher(out).add(_spec(args, env), timeout=args.timeout)
    return ExitStatus.OK


def _table(rows: list[tuple[str, ...]], out: TextIO) -> None:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for row in rows:
        out.write("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() + "\n")


def _ls(args: argparse.Namespace, env: Mapping[str, str], out: TextIO) -> int:
    from cloudagent.dev.launch import describe, describe_clusters  # noqa: PLC0415 - see the top

    launcher = _launcher(out)
    if args.prefix is None:
        _table(describe_clusters(launcher.clusters()), out)
    else:
        _table(describe(launcher.nodes(args.prefix)), out)
    return ExitStatus.OK


def _down(args: argparse.Namespace, env: Mapping[str, str], out: TextIO) -> int:
    launcher = _launcher(out)
    containers, networks = launcher.down(args.prefix)
    if containers or networks:
        out.write(f"removed {containers} container(s) and {networks} network(s)\n")
        return ExitStatus.OK
    others = sorted(launcher.clusters())
    if not others:
        out.write("no cloudagent cluster on this engine: nothing to remove\n")
        return ExitStatus.OK
    raise CloudagentError(
        f"no cluster with prefix {args.prefix!r}; the clusters on this engine are "
        f"{', '.join(others)}: say which with --prefix"
    )
