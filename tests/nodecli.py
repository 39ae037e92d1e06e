"""Operator commands against a LocalNode, as the tests run them: in process, or as a process."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from typing import Any

from cloudagent.cli import main
from cloudagent.dev.localcluster import LocalNode


def cli(node: LocalNode, *args: str) -> subprocess.CompletedProcess[str]:
    """Run ``cloudagent ARGS`` against this node as a process, as an operator on it would."""
    return subprocess.run(
        [sys.executable, "-m", "cloudagent", *args],
        env=node.env_for_cli(),
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def status(node: LocalNode) -> dict[str, Any]:
    """``cloudagent status --json`` at this node; {} while it has nothing to say."""
    out = io.StringIO()
    main(["status", "--json"], environ=node.env_for_cli(), stdout=out, stderr=io.StringIO())
    try:
        result: dict[str, Any] = json.loads(out.getvalue())
    except ValueError:
        return {}
    return result
