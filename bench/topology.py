"""How long Hadoop's NameNode waits for ``cloudagent topology``: one call with 100 arguments
(``net.topology.script.number.args``' default) against the table of a 1,000-member cluster.

    python -m bench.topology --members 1000 --args 100 --runs 30

The table is built the way the agent builds it (Reconciler -> table_rows -> render_table);
each command is a fresh process, as ScriptBasedMapping starts it. The interpreter's own start
(``python -c pass``) is measured beside it as the floor.
"""

from __future__ import annotations

import argparse
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from cloudagent.reconcile import Reconciler
from cloudagent.topology import render_table, table_path, table_rows

DOMAIN = "cluster.internal"


def membership(size: int) -> list[dict[str, object]]:
    """``size`` alive members on 10.x.y.z, 20 to a rack."""
    return [
        {
            "Name": f"node{i}",
            "Addr": bytes([10, 1 + i // 65536, (i // 256) % 256, i % 256]),
            "Port": 7946,
            "Status": "alive",
            "Tags": {"role": "agent", "rack": f"/dc1/host-{i // 20}"},
        }
        for i in range(1, size + 1)
    ]


def timed(argv: list[str], env: dict[str, str], runs: int, expect: int | None) -> list[float]:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        done = subprocess.run(argv, env=env, capture_output=True, text=True, check=True)
        times.append(time.perf_counter() - started)
        if expect is not None and len(done.stdout.split()) != expect:
            raise SystemExit(f"{argv[0]}: {len(done.stdout.split())} racks for {expect} hosts")
    return times


def main() -> None:
    """Build the table, time the commands, print one line each."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--members", type=int, default=1000)
    parser.add_argument("--args", type=int, default=100)
    parser.add_argument("--runs", type=int, default=30)
    options = parser.parse_args()

    cycle = Reconciler(DOMAIN, grace=300).step(membership(options.members), now=0)
    rows, _ = table_rows(cycle.view, cycle.membership.members, DOMAIN)
    bindir = Path(sys.executable).parent
    with tempfile.TemporaryDirectory() as state:
        Path(table_path(state)).write_text(render_table(rows))
        # Hadoop asks by address mostly, by name sometimes; a few hosts are unknown.
        hosts = random.Random(7).sample([h for h, _ in rows], options.args - 5)  # noqa: S311 - a fixed sample, not a secret
        hosts += [f"unknown{i}.example" for i in range(5)]
        env = {"CLOUDAGENT_STATE_DIR": state, "PATH": str(bindir)}
        print(
            f"table: {options.members} members, {len(rows)} rows; "
            f"{options.args} arguments per call; {options.runs} runs each"
        )
        for label, argv, expect in (
            ("python -c pass (floor)", [sys.executable, "-c", "pass"], None),
            ("cloudagent-topology", [str(bindir / "cloudagent-topology"), *hosts], len(hosts)),
            ("cloudagent topology", [str(bindir / "cloudagent"), "topology", *hosts], len(hosts)),
        ):
            times = sorted(timed(argv, env, options.runs, expect))
            p90 = times[int(0.9 * (len(times) - 1))]
            print(
                f"{label:24} median {statistics.median(times) * 1000:6.1f} ms"
                f"   p90 {p90 * 1000:6.1f} ms   max {times[-1] * 1000:6.1f} ms"
            )


if __name__ == "__main__":
    main()
