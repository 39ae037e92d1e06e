"""The Docker SDK is an optional extra: without it, `cluster` says what to install and the rest
of the CLI works. A child interpreter where ``import docker`` fails stands for a machine
without the extra."""

from __future__ import annotations

import subprocess
import sys

SCRIPT = """
import io, sys
sys.modules["docker"] = None  # makes `import docker` raise ImportError, as when not installed
from cloudagent.cli import main
err = io.StringIO()
code = main(["cluster", "ls"], environ={}, stdout=io.StringIO(), stderr=err)
print(code, err.getvalue().strip())
code = main(["cloudinit", "render", "--role", "server"], environ={}, stdout=io.StringIO())
print(code)
"""


def test_cluster_without_the_sdk_says_what_to_install() -> None:
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=60, check=True
    )
    first, second = result.stdout.splitlines()
    assert first == (
        "1 cloudagent: the Docker SDK for Python is not installed; "
        "install it with: pip install 'cloudagent[docker]'"
    )
    assert second == "0"
