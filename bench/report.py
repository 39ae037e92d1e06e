"""Statistics, the results file, docs/benchmarks.md and its plot."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench import containers, verdicts

ROOT = Path(__file__).resolve().parent.parent
TARGETS = {
    "join_p50_over_floor_ms": 30,
    "join_p99_over_floor_ms": 100,
    "join_speedup_p50": 3,
    "leave_p50_over_floor_ms": 30,
    "leave_p99_over_floor_ms": 100,
    "leave_speedup_p50": 3,
    "storm_after_floor_s": 2.0,
    "storm_renders_per_node": 10,
    "render_reload_10k_ms": 30,
    "render_reload_50k_ms": 150,
    "agent_rss_mb": 35,
    "sim_10k_p99_ms": 100,
    "sim_10k_cpu_percent": 20,
    "sim_50k_rss_mb": 80,
    "agent_idle_cpu_percent": 0.3,
    "image_mb": 200,  # checked in bench/containers.py with the next one
    "container_served_over_floor_ms": 100,
    "local_join_p50_s": 0.5,
}


def pct(values: Sequence[float], q: float) -> float | None:
    """The q-th percentile (nearest rank).

    >>> pct([1, 2, 3, 4], 50), pct([1, 2, 3, 4], 99), pct([], 50)
    (2, 4, None)
    """
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


def stats(values: Sequence[float]) -> dict[str, float | None]:
    return {
        "n": len(values),
        "p50": pct(values, 50),
        "p95": pct(values, 95),
        "p99": pct(values, 99),
        "max": max(values) if values else None,
    }


def summarise_trials(trials: Sequence[dict[str, Any]]) -> dict[str, Any]:
    def flat(key: str) -> list[float]:
        return [v for t in trials for v in t[key]]

    return {
        "floor": stats(flat("floor")),
        "dns": stats(flat("dns")),
        "over_floor": stats(flat("delta")),
        "missing": sum(t["missing"] for t in trials),
        "missed": sorted({m for t in trials for m in t.get("missed", [])}),
    }


def fmt_ms(value: float | None) -> str:
    return "–" if value is None else f"{1000 * value:.0f}"


def fmt_s(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}"


def _simulated_table(sim: dict[str, Any]) -> list[str]:
    if not sim:
        return []
    rate = next(iter(sim.values()))["rate"]
    lines = [
        "",
        "## SIMULATED membership (synthetic serf; real cloudagent and dnsmasq)",
        "",
        f"bench/synthetic.py speaks Serf's RPC protocol with K synthetic members and "
        f"{rate:g} changes/s (joins and leaves alternating, each logged as serf logs it); "
        "latency = from the change to the agent's dnsmasq answering it (A+PTR / NXDOMAIN).",
        "",
        "| members | changes | p50 ms | p99 ms | max ms | unanswered | writes | "
        "agent CPU % | agent RSS MB | RSS max MB | start → served s |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for size, s in sim.items():
        lat = s["latency_s"]
        lines.append(
            f"| {size} | {s['changes']} | {fmt_ms(pct(lat, 50))} | {fmt_ms(pct(lat, 99))} | "
            f"{fmt_ms(max(lat) if lat else None)} | {s['unanswered']} | {s['writes']} | "
            f"{s['cpu_percent']:.1f} | {s['rss_mb']:.1f} | {s['rss_max_mb']:.1f} | "
            f"{s['ready_s']:.1f} |"
        )
    return lines


def _systems(result: dict[str, Any], n: str) -> list[str]:
    """The systems measured at N: cloudagent, then other serf profiles of it, the baseline."""
    return sorted(result["sizes"][n], key=lambda s: (s == "baseline", s != "cloudagent", s))


def plot(result: dict[str, Any], target: Path) -> None:
    import matplotlib  # noqa: PLC0415 - a benchmark-only dependency

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    sizes = sorted(result["sizes"], key=int)
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    for ax, scenario in zip(axes, ("join", "leave"), strict=True):
        for label, system, key, style in (
            ("Serf floor", "cloudagent", "floor", "k--"),
            ("cloudagent", "cloudagent", "dns", "b-o"),
            ("cloudagent, serf profile local", "cloudagent-local", "dns", "g-^"),
            ("baseline (2014 design)", "baseline", "dns", "r-s"),
        ):
            xs, p50, p99 = [], [], []
            for n in sizes:
                s = result["sizes"][n].get(system, {}).get(scenario, {}).get(key, {})
                if s.get("p50") is not None:
                    xs.append(int(n))
                    p50.append(s["p50"])
                    p99.append(s["p99"])
            if xs:
                ax.plot(xs, p50, style, label=f"{label} p50")
                ax.fill_between(xs, p50, p99, alpha=0.12, color=style[0])
        ax.set_title(
            f"{scenario} → {'resolvable' if scenario == 'join' else 'NXDOMAIN'} everywhere"
        )
        ax.set_xlabel("nodes (N)")
        ax.set_ylabel("seconds after the change (p50; band to p99)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(target, dpi=110)


def _load(result: dict[str, Any]) -> str:
    """How busy the (maybe shared) machine was; older results files did not record it."""
    loads = result.get("load") or [None]
    return "" if loads[0] is None else f"; 1-min load average {loads[0]:.0f}–{loads[-1]:.0f}"


def markdown(result: dict[str, Any], plot_name: str) -> str:
    m, load = result["machine"], _load(result)
    lines = [
        "# Benchmarks",
        "",
        "Generated by `make bench` (bench/run.py) from "
        f"`bench/results/{result['file']}`. Machine: {m['cpu']}, {m['cores']} cores, "
        f"{m['memory_gb']:.0f} GiB, {m['kernel']}; Python {m['python']}, serf {m['serf']}, "
        f"{m['dnsmasq']}. All nodes on loopback addresses of this one machine{load}.",
        "",
        "Floor = the moment an observer's local serf lists the change (`members`: alive for a "
        "join, left for a graceful leave, failed for a crash); cloudagent and "
        "baseline = the moment that observer's dnsmasq answers (A and PTR for a join, NXDOMAIN "
        "for a leave or after a crash). Times are from the change (process start, SIGTERM, "
        "SIGKILL). Baseline = the 2014 design: Serf event handler → rewrite dnsmasq config → "
        "restart dnsmasq (bench/nodes.py).",
        "",
        f"![latency against N]({plot_name})",
        "",
        "## Targets (largest N)",
        "",
        "| target | limit | measured | met |",
        "|---|---|---|---|",
    ]
    for name, limit, value, met in verdicts.verdicts(result):
        lines.append(
            f"| {name} | {limit} | {value} | {'–' if met is None else ('yes' if met else '**no**')} |"
        )
    lines += [
        "",
        "## Join, leave, crash (seconds after the change)",
        "",
        "| N | scenario | system | floor p50 | p50 | p95 | p99 | max | − floor p50 | − floor p99 | not seen |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for n in sorted(result["sizes"], key=int):
        for scenario in ("join", "leave", "crash"):
            for system in _systems(result, n):
                s = result["sizes"][n].get(system, {}).get(scenario)
                if not s:
                    continue
                d, f, o = s["dns"], s["floor"], s["over_floor"]
                lines.append(
                    f"| {n} | {scenario} | {system} | {fmt_s(f['p50'])} | {fmt_s(d['p50'])} | {fmt_s(d['p95'])} | "
                    f"{fmt_s(d['p99'])} | {fmt_s(d['max'])} | {fmt_ms(o['p50'])} ms | {fmt_ms(o['p99'])} ms | {s['missing']} |"
                )
    lines += [
        "",
        "Crash: the floor is *marked failed*; cloudagent keeps a failed member for "
        f"`CLOUDAGENT_FAILED_GRACE` ({result['grace']:g} s here) before removing it, the "
        "baseline removes it at the failed event (the original's behaviour).",
        "",
        "## Storm (N/2 bare serf agents start at once and join)",
        "",
        "| N | system | new nodes | floor (all seen) | all resolvable | after floor | writes/node max | CPU s/agent p50 |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for n in sorted(result["sizes"], key=int):
        for system in _systems(result, n):
            s = result["sizes"][n].get(system, {}).get("storm")
            if not s:
                continue
            lines.append(
                f"| {n} | {system} | {s['nodes']} | {fmt_s(s['floor_all'])} | {fmt_s(s['converged'])} | "
                f"{fmt_s(s['after_floor'])} | {max(s['writes_per_node'] or [0])} | {fmt_s(pct(s['cpu_per_agent'], 50))} |"
            )
    lines += [
        "",
        "## Steady state (idle)",
        "",
        "| N | system | program | RSS MB p50 | RSS MB max | CPU % p50 | CPU % max |",
        "|---|---|---|---|---|---|---|",
    ]
    for n in sorted(result["sizes"], key=int):
        for system in _systems(result, n):
            for program, s in result["sizes"][n].get(system, {}).get("steady", {}).items():
                lines.append(
                    f"| {n} | {system} | {program} | {pct(s['rss_mb'], 50):.1f} | {max(s['rss_mb']):.1f} | "
                    f"{pct(s['cpu_percent'], 50):.2f} | {max(s['cpu_percent']):.2f} |"
                )
    lines += [
        "",
        "## Render + reload without the network",
        "",
        "One change at K members, p50 in ms. *From scratch*: the whole view built again (the "
        "old path; now the periodic check). *Incremental*: a cycle from Serf's full member "
        "list (diff, then only the changed member). *Log line*: the fast path from one "
        "`EventMemberJoin` line. Write: temp file, fsync, rename (+ directory fsync in the "
        "first column, the old hot path). Reload: SIGHUP until dnsmasq answers the new name. "
        "Totals: scratch = from scratch + durable write + reload; incremental and log line = "
        "cycle + write without directory fsync + reload.",
        "",
        "| members | from scratch | incremental | log line | write + dir fsync | write | "
        "reload → answered | total scratch | total incremental | total log line | "
        "total incremental max |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]

    def p50(s: dict[str, list[float]], key: str) -> str:
        value = pct(s.get(key) or [], 50)
        return "–" if value is None else f"{value:.1f}"

    for size, measured in result.get("render_reload", {}).items():
        s = measured
        keys = (
            "scratch_ms", "render_ms", "event_ms", "write_dirsync_ms", "write_ms", "reload_ms",
            "scratch_total_ms", "total_ms", "fast_total_ms",
        )  # fmt: skip
        if "scratch_ms" not in s:  # a run from before the incremental view: all from scratch
            s = {"scratch_ms": s["render_ms"], "scratch_total_ms": s["total_ms"]}
        cells = " | ".join(p50(s, k) for k in keys)
        worst = f"{max(s['total_ms']):.1f}" if s.get("total_ms") else "–"
        lines.append(f"| {size} | {cells} | {worst} |")
    lines += _simulated_table(result.get("simulated", {}))
    lines += containers.tables(result)
    if result.get("notes"):
        lines += ["", "## Notes", "", *result["notes"]]
    analysis = ROOT / "bench" / "analysis.md"
    if analysis.exists():  # hand-written reading of the figures: misses, causes, proposals
        lines += ["", analysis.read_text().rstrip()]
    return "\n".join(lines) + "\n"


def write(result: dict[str, Any], results_dir: Path, docs: Path | None, save: bool = True) -> Path:
    results_dir.mkdir(parents=True, exist_ok=True)
    path: Path = results_dir / str(result["file"])
    if save:
        path.write_text(json.dumps(result, indent=1) + "\n")
    if docs is not None:
        plot_name = "benchmarks-latency.png"
        plot(result, docs / plot_name)
        (docs / "benchmarks.md").write_text(markdown(result, plot_name))
    return path
