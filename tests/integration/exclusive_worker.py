"""One contender of the exclusive-lock stress test: ``python exclusive_worker.py ARGS``.

It runs ROUNDS holders one after another, each a forked process that runs the real
``cloudagent exclusive`` command (forking saves an interpreter start per round). Each holder's
child takes an flock on the oracle file: the kernel drops it the instant the child dies, so a
child that finds it taken has met another child that is still alive - an overlap. The child
journals ``enter``/``exit`` (and ``overlap``) lines. The worker prints its exit-status counts as
JSON on stdout.
"""

from __future__ import annotations

import collections
import json
import os
import sys

from cloudagent.cli import main

CHILD = (
    'exec 9>>"$1"; flock -n 9 || echo "overlap $$" >>"$2"; echo "enter $$" >>"$2"; '
    'echo "exit $$" >>"$2"'
)


def run(
    lock_dir: str, journal: str, oracle: str, rounds: int, *, heartbeat: str, stale: str
) -> None:
    """Run ``rounds`` holders in turn; print how each ended."""
    codes: collections.Counter[int] = collections.Counter()
    argv = ["exclusive", "--lock-dir", lock_dir, "--heartbeat", heartbeat, "--stale-after", stale]
    argv += ["--grace", "1", "--wait", "--", "/bin/sh", "-c", CHILD, "sh", oracle, journal]
    for _ in range(rounds):
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                code = main(argv)
            finally:
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        codes[os.waitstatus_to_exitcode(status)] += 1
    print(json.dumps({str(k): v for k, v in codes.items()}), flush=True)


if __name__ == "__main__":
    a = sys.argv[1:]
    run(a[0], a[1], a[2], int(a[3]), heartbeat=a[4], stale=a[5])
