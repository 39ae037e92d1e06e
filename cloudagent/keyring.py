"""The gossip keyring: where it lives, how it is seeded, and what a key mismatch looks like.

Serf refuses ``encrypt_key`` together with ``keyring_file`` ("Encryption key not allowed while
using a keyring"), so whenever gossip is encrypted we run serf with a keyring file in the state
directory, seeded once from SERF_ENCRYPT_KEY. Serf rewrites that file on every ``install-key``,
``use-key`` and ``remove-key``, so a restart keeps the key that was last put in use.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

from cloudagent.files import read_text, write_atomic
from cloudagent.secret import Secret

log = logging.getLogger(__name__)

# What memberlist answers a join whose packets no installed key can read, and what it says
# when one side encrypts and the other does not.
_MISMATCH: Final = (
    "No installed keys could decrypt the message",
    "Remote state is encrypted and encryption is not configured",
    "Encryption is configured but remote state is not encrypted",
)
JOIN_PROBLEM_FILE: Final = "join-problem"


def keyring_path(state_dir: Path) -> Path:
    """Serf's keyring file under the state directory."""
    return state_dir / "serf" / "keyring.json"


def seed_keyring(path: Path, key: Secret | None) -> bool:
    """Write ``[key]`` as the keyring when there is none yet; True when serf should use it.

    An existing keyring wins over SERF_ENCRYPT_KEY: it holds the keys of the last rotation.
    """
    if read_text(path) is not None:
        return True
    if key is None:
        return False
    write_atomic(path, json.dumps([key.reveal()]) + "\n", mode=0o600)
    return True


def fingerprint(key: str) -> str:
    """A short, non-secret name for a key: the first 12 hex digits of its SHA-256.

    >>> fingerprint("QHOYjmYlxSCBhdfiolhtDQ==")
    'a5be3175ce2c'
    """
    return hashlib.sha256(key.encode()).hexdigest()[:12]


def is_key_mismatch(message: str) -> bool:
    """Whether a join error says this node's gossip key is not the cluster's."""
    return any(marker in message for marker in _MISMATCH)


def join_problem(message: str) -> str:
    """The sentence to log for a failed join; names the fix when the keys differ.

    >>> join_problem("Failed to join 10.0.0.1: No installed keys could decrypt the message")[:40]
    'the cluster uses a gossip key this node '
    """
    if not is_key_mismatch(message):
        return message
    return (
        "the cluster uses a gossip key this node does not have (was it down during a key "
        "rotation?); install the current key here: 'cloudagent keys install < KEYFILE' then "
        "'cloudagent keys use < KEYFILE'"
    )


def record_join_problem(state_dir: Path, message: str | None) -> None:
    """Keep the last join problem where ``health`` and ``doctor`` read it (None clears it)."""
    path = state_dir / JOIN_PROBLEM_FILE
    if message is None:
        path.unlink(missing_ok=True)
    elif read_text(path) != message + "\n":
        write_atomic(path, message + "\n")


def read_join_problem(state_dir: Path) -> str | None:
    """The join problem the agent recorded last, if it has not joined since."""
    text = read_text(state_dir / JOIN_PROBLEM_FILE)
    return text.strip() if text else None


def describe_reply(reply: Mapping[str, Any]) -> list[str]:
    """Human lines for a keyring reply: keys by fingerprint and per-node failures."""
    total = int(reply.get("NumNodes") or 0)
    lines = [
        f"{fingerprint(str(key))}  installed on {count}/{total} nodes"
        for key, count in sorted((reply.get("Keys") or {}).items())
    ]
    messages = reply.get("Messages") or {}
    lines += [f"{node}: {text}" for node, text in sorted(messages.items()) if text]
    answered = int(reply.get("NumResp") or 0)
    failed = int(reply.get("NumErr") or 0)
    lines.append(f"{answered}/{total} nodes answered, {failed} failed")
    return lines
