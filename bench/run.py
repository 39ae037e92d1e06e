"""``make bench``: membership -> DNS latency and scale, cloudagent against the Serf floor and
against the 2014 design, in one run. Writes bench/results/<date>-<host>.json and
docs/benchmarks.md with its plot.

    python -m bench.run --sizes 10,50,100 --trials 5
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import json
import os
import platform
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import containers as container_bench
from bench import report, scenarios, verdicts
from bench.nodes import Baseline, Cloudagent, System
from bench.probe import Sweeper
from bench.simulated import simulated
from cloudagent.dev import imagebuild
from cloudagent.dev.localcluster import require_programs


def say(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", flush=True)


def machine() -> dict[str, Any]:
    cpu = next(
        (
            ln.split(":", 1)[1].strip()
            for ln in Path("/proc/cpuinfo").read_text().splitlines()
            if ln.startswith("model name")
        ),
        platform.processor(),
    )
    mem = int(Path("/proc/meminfo").read_text().split()[1]) / 1024 / 1024
    serf = subprocess.run(
        ["serf", "version"], capture_output=True, text=True, check=False
    ).stdout.split("\n")[0]
    dnsmasq = subprocess.run(
        ["dnsmasq", "--version"], capture_output=True, text=True, check=False
    ).stdout.split("  ")[0]
    return {
        "host": socket.gethostname(),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gb": mem,
        "kernel": platform.release(),
        "python": platform.python_version(),
        "serf": serf,
        "dnsmasq": dnsmasq,
    }


def converge(system: System, count: int, timeout: float) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        nodes = scenarios.running(system)
        if len(nodes) == count and all(system.served(n) == count for n in nodes):
            return time.monotonic() - started
        time.sleep(0.2)
    served = sorted(system.served(n) for n in scenarios.running(system))
    raise RuntimeError(
        f"{system.label}: not converged on {count} members after {timeout:g}s ({served[:5]}...)"
    )


async def measure(
    system: System, n: int, trials: int, crashes: int, steady_s: float
) -> dict[str, Any]:
    say(f"{system.label} N={n}: starting {n} nodes")
    for i in range(1, n + 1):
        system.start(i, join=None if i == 1 else 1)
        await asyncio.sleep(0.02)
    took = converge(system, n, 60 + 2 * n)
    say(f"{system.label} N={n}: converged {took:.1f}s after the last start; idle {steady_s:g}s")
    await asyncio.sleep(scenarios.QUIET)
    out: dict[str, Any] = {"steady": scenarios.steady(system, steady_s)}
    sweeper = Sweeper()
    try:
        say(f"{system.label} N={n}: {trials} joins")
        joins = await scenarios.join(system, sweeper, n + 1, trials)
        out["join"] = report.summarise_trials(joins)
        say(f"{system.label} N={n}: {trials} graceful leaves")
        out["leave"] = report.summarise_trials(
            await scenarios.leave(system, sweeper, range(n + 1, n + 1 + trials))
        )
        say(f"{system.label} N={n}: {crashes} crashes (SIGKILL)")
        out["crash"] = report.summarise_trials(
            await scenarios.crash(system, sweeper, range(n, n - crashes, -1))
        )
        storm_n = max(1, n // 2)
        say(f"{system.label} N={n}: storm of {storm_n} joins")
        out["storm"] = await scenarios.storm(system, sweeper, n + trials + 1, storm_n)
    finally:
        sweeper.close()
        say(f"{system.label} N={n}: stopping")
        system.stop_all()
    return out


def _simulated(args: argparse.Namespace, base: Path) -> dict[str, Any]:
    sizes = [int(s) for s in args.sim_sizes.split(",") if s]
    if not sizes:
        return {}
    say(f"SIMULATED membership: {args.sim_sizes} members, {args.sim_rate:g} changes/s")
    return simulated(
        base / "simulated",
        sizes,
        rate=args.sim_rate,
        duration=args.sim_duration,
        net=args.net,
        grace=args.grace,
    )


def _containers(args: argparse.Namespace) -> dict[str, Any]:
    """The image (built from this tree) and container start -> served; never skipped silently."""
    if args.containers <= 0:
        say("containers: SKIPPED (--containers 0)")
        return {"image": {}, "containers": {"skipped": "--containers 0"}}
    reason = container_bench.unavailable()
    if reason:
        say(f"containers: SKIPPED: {reason}")
        return {"image": {}, "containers": {"skipped": reason}}
    say(f"image: building {args.container_image} from this tree")
    imagebuild.build(args.container_image)
    image = container_bench.image_facts(args.container_image)
    say(f"image: {image['mb']:.0f} MB")
    measured = container_bench.containers(
        args.container_image, args.containers, args.trials, args.container_prefix, say
    )
    return {"image": image, "containers": measured}


# The parts of a results file that a partial run (e.g. --sizes '' --sim-sizes '') measures.
PARTS = ("render_reload", "simulated", "image", "containers", "sizes")


def merge(result: dict[str, Any], later: dict[str, Any]) -> None:
    """Put ``later``'s measured parts into ``result``, with a note naming its file and load."""
    taken = [part for part in PARTS if later.get(part)]
    for part in taken:
        result[part] = later[part]
    load = " to ".join(f"{x:.0f}" for x in later.get("load", [])) or "not recorded"
    result.setdefault("notes", []).append(
        f"* {', '.join(taken) or 'nothing'}: from `bench/results/{later['file']}` "
        f"(another run; 1-min load average {load} on this shared machine)."
    )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="make bench", description=__doc__)
    parser.add_argument(
        "--sizes", default="10,50,100", help="comma-separated N (default 10,50,100)"
    )
    parser.add_argument("--trials", type=int, default=5, help="joins and leaves per N")
    parser.add_argument("--crashes", type=int, default=2, help="SIGKILLs per N")
    parser.add_argument("--grace", type=float, default=3.0, help="CLOUDAGENT_FAILED_GRACE (s)")
    parser.add_argument("--steady", type=float, default=20.0, help="idle window (s)")
    parser.add_argument("--render-sizes", default="1000,10000,50000")
    parser.add_argument("--systems", default="cloudagent,baseline")
    parser.add_argument(
        "--sim-sizes",
        default="10000,50000",
        help="SIMULATED membership sizes (synthetic serf, real agent and dnsmasq); '' for none",
    )
    parser.add_argument("--sim-rate", type=float, default=10.0, help="changes per second")
    parser.add_argument("--sim-duration", type=float, default=30.0, help="churn seconds")
    parser.add_argument(
        "--profiles",
        default="lan,local",
        help="serf timing profiles for cloudagent (lan,local: side by side; the first is the "
        "one the targets and the baseline use)",
    )
    parser.add_argument(
        "--net",
        type=int,
        default=150,
        help="nodes live in 127.NET.200-255.x (distinct NETs let runs share a machine)",
    )
    parser.add_argument(
        "--containers",
        type=int,
        default=10,
        help="container start -> served at this many containers of our image (0: skip; "
        "needs root and a Docker engine, else skipped with the reason in the report)",
    )
    parser.add_argument(
        "--container-image", default="cloudagent:bench", help="tag the bench builds and runs"
    )
    parser.add_argument(
        "--container-prefix",
        default=f"bench{os.getpid()}-c",
        help="name prefix and label of the bench's containers and network (always removed)",
    )
    parser.add_argument("--results", type=Path, default=report.ROOT / "bench" / "results")
    parser.add_argument(
        "--docs",
        type=Path,
        default=report.ROOT / "docs",
        help="where benchmarks.md and the plot go ('-' for nowhere)",
    )
    parser.add_argument(
        "--report",
        type=Path,
        action="append",
        metavar="RESULTS.json",
        help="only regenerate the docs from a results file; repeated: the later files' "
        "measured parts replace the first's, and the docs say which came from where",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.report:
        saved: dict[str, Any] = json.loads(args.report[0].read_text())
        for later in args.report[1:]:
            merge(saved, json.loads(later.read_text()))
        report.write(saved, args.report[0].parent, args.docs, save=False)
        say(f"docs regenerated from {', '.join(map(str, args.report))}")
        return 0
    require_programs()
    sizes = [int(s) for s in args.sizes.split(",") if s]
    if sizes and (
        len(sizes) * (len(args.profiles.split(",")) + 1) > 50
        or max(sizes) + max(sizes) // 2 + args.trials + 1 > 240
    ):
        parser.error(
            "N too large for one /24 of loopback addresses (N + N/2 + trials <= 240), or "
            "too many sizes and profiles for 127.NET.200-255"
        )
    result: dict[str, Any] = {
        "file": f"{datetime.date.today().isoformat()}-{socket.gethostname()}.json",
        "machine": machine(),
        "load": [os.getloadavg()[0]],  # 1-min load average at the start and at the end
        "args": {k: str(v) for k, v in vars(args).items()},
        "grace": args.grace,
        "sizes": {},
        "notes": [],
    }
    base = Path(tempfile.mkdtemp(prefix="cloudagent-bench-"))
    os.chmod(base, 0o755)  # noqa: S103 - dnsmasq (nobody) reads below it
    try:
        say("render + reload without the network")
        result["render_reload"] = scenarios.render_reload(
            base / "render",
            [int(s) for s in args.render_sizes.split(",") if s],
            listen=f"127.{args.net}.199.1",
        )
        result.update(_containers(args))
        result["simulated"] = _simulated(args, base)
        profiles = [p for p in args.profiles.split(",") if p]
        runs = [(kind, profiles[0]) for kind in args.systems.split(",")]
        runs += [("cloudagent", p) for p in profiles[1:] if "cloudagent" in args.systems]
        for index, n in enumerate(sizes):
            per: dict[str, Any] = {}
            for slot, (kind, profile) in enumerate(runs):
                cls = Cloudagent if kind == "cloudagent" else Baseline
                system = cls(
                    base / f"{kind}-{profile}{n}",
                    f"127.{args.net}.{200 + len(runs) * index + slot}",
                    args.grace,
                    profile,
                )
                label = kind if profile == profiles[0] else f"{kind}-{profile}"
                per[label] = asyncio.run(measure(system, n, args.trials, args.crashes, args.steady))
                per[label]["profile"] = profile
                time.sleep(2)
            result["sizes"][str(n)] = per
    finally:
        shutil.rmtree(base, ignore_errors=True)
    result["load"].append(os.getloadavg()[0])
    path = report.write(result, args.results, None if str(args.docs) == "-" else args.docs)
    say(f"results: {path}")
    for name, limit, value, met in verdicts.verdicts(result):
        verdict = "" if met is None else ("ok" if met else "MISSED")
        say(f"  {name}: {value} (target {limit}) {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
