"""The ``cloudagent`` command: ``main(argv, environ, stdout, stderr) -> exit status``."""

from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import sys
from collections.abc import Mapping, Sequence
from typing import TextIO

from cloudagent import __version__
from cloudagent.errors import CloudagentError, ConfigError, ExitStatus, UsageError

COMMANDS = (
    "node",
    "blueprint",
    "emulator",
    "cluster",
    "cloudinit",
    "topology",
    "wait",
    "doctor",
    "keys",
    "exclusive",
)


def _parser(modules: Sequence[str] = COMMANDS) -> argparse.ArgumentParser:
    # The command modules are imported here, not at the top: `cloudagent topology` must not
    # pay for them (see main).
    parser = argparse.ArgumentParser(
        prog="cloudagent",
        description="Gossip membership agent: Serf membership -> dnsmasq DNS -> Ambari.",
        epilog="Configuration comes from environment variables; see README.md.",
    )
    parser.add_argument("--version", action="version", version=f"cloudagent {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks and debug logs")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in modules:
        importlib.import_module(f"cloudagent.commands.{name}").register(sub)
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
    arguments = list(sys.argv[1:] if argv is None else argv)
    if arguments[:1] == ["topology"]:
        # Hadoop's NameNode runs this for every DataNode that registers: answer from the
        # table without building the parser or importing any other command.
        from cloudagent.commands.topology import run  # noqa: PLC0415

        return run(arguments[1:], env, out, err)
    # The daemon runs for months: it does not carry the other commands' imports (jinja2,
    # dnspython, the stack data: ~7 MB of RSS).
    parser = _parser(("node",) if arguments[:1] == ["run"] else COMMANDS)
    try:
        # argparse prints help, usage and errors to sys.stdout/sys.stderr itself.
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            args = parser.parse_args(arguments)
    except SystemExit as exc:  # argparse has printed usage or help
        return ExitStatus.USAGE if exc.code else ExitStatus.OK
    try:
        code: int = args.handler(args, env, out)
    except (ConfigError, UsageError) as exc:
        print(f"cloudagent: {exc}", file=err)
        return ExitStatus.USAGE
    except CloudagentError as exc:
        if args.debug:
            raise
        print(f"cloudagent: {exc}", file=err)
        return ExitStatus.FAILURE
    except KeyboardInterrupt:
        return ExitStatus.INTERRUPTED
    return code
