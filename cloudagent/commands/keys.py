"""``cloudagent keys list|install|use|remove``: gossip key rotation over serf's keyring RPC.

Keys never come from argv: ``install``, ``use`` and ``remove`` read the key from stdin or
from ``--key-file`` (which must not be readable by group or others).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TextIO

from cloudagent import config, values
from cloudagent.errors import CloudagentError
from cloudagent.keyring import describe_reply
from cloudagent.secret import Secret, read_secret_file
from cloudagent.serf.rpc import SerfRPC, SerfRPCError

COMMANDS = {"list": "list-keys", "install": "install-key", "use": "use-key", "remove": "remove-key"}


def register(sub: Any) -> None:
    """Add ``keys`` to the CLI's subparsers."""
    p = sub.add_parser("keys", help="list, install, use or remove gossip keys on every member")
    p.add_argument("action", choices=tuple(COMMANDS))
    p.add_argument(
        "--key-file",
        type=Path,
        metavar="PATH",
        help="read the key from this 0600 file (default: stdin); never pass a key as argument",
    )
    p.set_defaults(handler=_keys)


def read_key(key_file: Path | None, stdin: TextIO) -> Secret:
    """The key from ``key_file`` or ``stdin``, validated as a Serf key."""
    try:
        text = read_secret_file(key_file) if key_file else stdin.readline()
    except OSError as exc:
        raise CloudagentError(f"--key-file: {exc}") from exc
    try:
        return values.encrypt_key(text.strip())
    except ValueError as exc:
        source = str(key_file) if key_file else "stdin"
        raise CloudagentError(f"the key on {source} {exc}") from None


async def run_keyring(cfg: config.Config, command: str, key: Secret | None) -> dict[str, Any]:
    """One keyring command against the local serf, which relays it to every member."""
    rpc = await SerfRPC.connect(cfg.serf_rpc, cfg.rpc_auth, timeout=10.0)
    try:
        return await rpc.keyring(command, key)
    finally:
        await rpc.close()


def _keys(args: argparse.Namespace, env: Mapping[str, str], out: TextIO) -> int:
    cfg = config.load(env)
    key = None if args.action == "list" else read_key(args.key_file, sys.stdin)
    try:
        reply = asyncio.run(run_keyring(cfg, COMMANDS[args.action], key))
    except SerfRPCError as exc:
        if not isinstance(exc.body, dict):
            raise
        for line in describe_reply(exc.body):
            out.write(line + "\n")
        out.write(f"keys {args.action} failed on some nodes: {exc.message}; fix them and rerun\n")
        return 1
    for line in describe_reply(reply):
        out.write(line + "\n")
    return 0
