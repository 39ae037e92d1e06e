"""``cloudagent ambari-emulator``: the emulated Ambari server, and its emulated agent."""

from __future__ import annotations

import argparse
import contextlib
import logging
import signal
import sys
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TextIO

from cloudagent.endpoint import Endpoint
from cloudagent.environ import Collector
from cloudagent.errors import CloudagentError, ExitStatus, UsageError
from cloudagent.values import parse_endpoint

DEFAULT_VERSION = "2.6.2.2"


def _endpoint(text: str) -> Endpoint:
    try:
        return parse_endpoint(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def register(sub: Any) -> None:
    """Add ``ambari-emulator`` (server) and ``ambari-emulator agent``."""
    emu = sub.add_parser(
        "ambari-emulator",
        help="run the Ambari emulator (tests and the demo)",
        description="An HTTP server that follows Ambari's REST contract: blueprints, clusters, "
        "requests, tasks, hosts, services, host components, stacks, users, scale-up, operations, "
        "query predicates and partial responses, and agent registration (docs/ambari.md). "
        "Password: AMBARI_PASSWORD or AMBARI_PASSWORD_FILE (default admin).",
    )
    emu.add_argument(
        "--listen",
        type=_endpoint,
        default=Endpoint("127.0.0.1", 8080),
        metavar="HOST:PORT",
        help="REST API address (default 127.0.0.1:8080)",
    )
    emu.add_argument(
        "--agent-listen",
        type=_endpoint,
        action="append",
        metavar="HOST:PORT",
        help="agent registration address (default: the API host, port 8440); repeat it to "
        "serve agents on several addresses, as an Ambari behind a moving name does",
    )
    emu.add_argument("--version", default=DEFAULT_VERSION, help="Ambari version to emulate")
    emu.add_argument(
        "--task-seconds",
        type=float,
        default=2.0,
        help="how long each install/start stage takes (default 2)",
    )
    emu.add_argument(
        "--heartbeat-timeout",
        type=float,
        default=120.0,
        help="seconds without heartbeat before a host is lost (default 120)",
    )
    emu.set_defaults(handler=_server)
    emu_sub = emu.add_subparsers(dest="emulator_command", metavar="agent")
    agent = emu_sub.add_parser("agent", help="run an emulated ambari-agent")
    agent.add_argument(
        "--config",
        type=Path,
        default=Path("/etc/ambari-agent/conf/ambari-agent.ini"),
        help="the agent's ini file ([server] hostname, url_port)",
    )
    agent.add_argument(
        "--resolver",
        type=_endpoint,
        metavar="IP:PORT",
        help="ask this DNS server instead of the system resolver",
    )
    agent.add_argument(
        "--hostname-from-ptr",
        metavar="ADDRESS",
        help="own name = the PTR of ADDRESS at --resolver (loopback clusters)",
    )
    agent.add_argument("--hostname", help="report this name instead of getfqdn()")
    agent.add_argument("--agent-version", default=DEFAULT_VERSION)
    agent.add_argument("--interval", type=float, default=1.0, help="heartbeat interval (s)")
    agent.set_defaults(handler=_agent)


def _logging(args: argparse.Namespace) -> None:
    logging.basicConfig(
        level=logging.DEBUG if args.debug else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )


def _password(env: Mapping[str, str]) -> str:
    c = Collector(env)
    password = c.secret("AMBARI_PASSWORD")
    c.finish()
    return password.reveal() if password is not None else "admin"


def _server(args: argparse.Namespace, env: Mapping[str, str], out: TextIO) -> int:
    # Imported here, not at the top: `cloudagent run` must not load the emulator.
    from cloudagent.emulator.model import Ambari  # noqa: PLC0415
    from cloudagent.emulator.server import EmulatorServer  # noqa: PLC0415

    _logging(args)
    ambari = Ambari(
        version=args.version,
        password=_password(env),
        task_seconds=args.task_seconds,
        heartbeat_timeout=args.heartbeat_timeout,
    )
    agent_listen = args.agent_listen or [Endpoint(args.listen.host, 8440)]
    try:
        servers = [EmulatorServer((e.host, e.port), ambari) for e in (args.listen, *agent_listen)]
    except OSError as exc:
        raise CloudagentError(f"cannot listen: {exc}") from exc
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    for server in servers:
        server.start()
    logging.getLogger("cloudagent.emulator").info(
        "Ambari %s emulator: API on http://%s, agents on %s",
        args.version,
        args.listen,
        ", ".join(map(str, agent_listen)),
    )
    with contextlib.suppress(KeyboardInterrupt):
        stop.wait()
    for server in servers:
        server.shutdown()
    return ExitStatus.OK


def _agent(args: argparse.Namespace, env: Mapping[str, str], out: TextIO) -> int:
    from cloudagent.emulator.agent import Identity, run_agent  # noqa: PLC0415 - as above

    _logging(args)
    if args.hostname_from_ptr and not args.resolver:
        raise UsageError("--hostname-from-ptr needs --resolver")
    if not args.config.exists():
        raise CloudagentError(f"{args.config}: no such file (the agent's ini)")
    identity = Identity(args.resolver, args.hostname_from_ptr, args.hostname)
    return run_agent(args.config, identity, args.agent_version, args.interval)
