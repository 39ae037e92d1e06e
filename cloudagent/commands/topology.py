"""``cloudagent topology HOST...``: the rack script for Hadoop (``net.topology.script.file.name``).

Hadoop's ScriptBasedMapping runs the script with up to ``net.topology.script.number.args``
(default 100) host names or IP addresses as arguments and splits what it prints on whitespace:
exactly one rack per argument, in order, or the NameNode fails the lookup; so does a non-zero
exit. Hence: one rack per line, ``/default-rack`` for a host the table does not know, exit 0.
Source: ScriptBasedMapping and CommonConfigurationKeysPublic in github.com/apache/hadoop.

The NameNode runs it for every DataNode that registers, so it only reads the table the agent
keeps; it never talks to serf, and imports neither argparse nor the configuration.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, TextIO

from cloudagent import DEFAULT_STATE_DIR
from cloudagent.topology import DEFAULT_RACK, parse_table, resolve, table_path

if TYPE_CHECKING:
    import argparse

USAGE = (
    "usage: cloudagent topology HOST|ADDRESS ...\n"
    "Prints one rack per argument (Hadoop's net.topology.script.file.name contract), from\n"
    "$CLOUDAGENT_STATE_DIR/topology.table (default /var/lib/cloudagent/topology.table).\n"
)


def register(sub: Any) -> None:
    """Add ``topology`` to the CLI's subparsers (for --help; ``cli.main`` takes a fast path)."""
    parser = sub.add_parser("topology", help="print each host's rack (Hadoop's topology script)")
    parser.add_argument("hosts", nargs="*", metavar="HOST", help="host names or IP addresses")
    parser.set_defaults(handler=_handler)


def _handler(args: argparse.Namespace, env: Mapping[str, str], out: TextIO) -> int:
    return run(args.hosts, env, out, sys.stderr)


def run(hosts: Sequence[str], env: Mapping[str, str], out: TextIO, err: TextIO) -> int:
    """Print the rack of each host; always exit 0, as Hadoop requires."""
    if list(hosts) in (["-h"], ["--help"]):
        out.write(USAGE)
        return 0
    path = table_path(env.get("CLOUDAGENT_STATE_DIR") or DEFAULT_STATE_DIR)
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except OSError as exc:
        text = ""
        if hosts:
            err.write(
                f"cloudagent topology: cannot read {path} ({exc.strerror or exc}); every host is "
                f"on {DEFAULT_RACK} until the agent (cloudagent run) writes it\n"
            )
    out.write("".join(f"{rack}\n" for rack in resolve(parse_table(text), hosts)))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """The ``cloudagent-topology`` console script: one executable path for Hadoop to run."""
    hosts = sys.argv[1:] if argv is None else argv
    return run(hosts, os.environ, sys.stdout, sys.stderr)
