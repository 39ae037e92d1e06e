"""The targets of docs/benchmarks.md and the verdicts of a results file on them."""

from __future__ import annotations

from typing import Any

from bench import containers, report

Row = tuple[str, str, str, bool | None]


def verdicts(result: dict[str, Any]) -> list[Row]:
    """(target, limit, measured, met) at the largest N."""
    rows = containers.verdict_rows(result)
    sizes = sorted(result["sizes"], key=int)
    if not sizes:
        return rows
    big = result["sizes"][sizes[-1]]
    ca, base = big.get("cloudagent", {}), big.get("baseline", {})
    for scenario in ("join", "leave"):
        over = ca.get(scenario, {}).get("over_floor", {})
        for q, key in (
            ("p50", f"{scenario}_p50_over_floor_ms"),
            ("p99", f"{scenario}_p99_over_floor_ms"),
        ):
            value = over.get(q)
            rows.append(
                (
                    f"{scenario} {q} − floor (N={sizes[-1]})",
                    f"≤ {report.TARGETS[key]} ms",
                    report.fmt_ms(value),
                    None if value is None else 1000 * value <= report.TARGETS[key],
                )
            )
        a, b = (
            ca.get(scenario, {}).get("dns", {}).get("p50"),
            base.get(scenario, {}).get("dns", {}).get("p50"),
        )
        ratio = None if not a or not b else b / a
        rows.append(
            (
                f"{scenario} p50 baseline ÷ cloudagent",
                f"≥ {report.TARGETS[f'{scenario}_speedup_p50']}×",
                "–" if ratio is None else f"{ratio:.1f}×",
                None if ratio is None else ratio >= 3,
            )
        )
    storm = ca.get("storm", {})
    after = storm.get("after_floor")
    rows.append(
        (
            "storm: resolvable everywhere after floor",
            "≤ 2 s",
            report.fmt_s(after),
            None if after is None else after <= 2.0,
        )
    )
    writes = storm.get("writes_per_node") or []
    worst = max(writes) if writes else None
    rows.append(
        (
            "storm: renders per node (max)",
            "≤ 10",
            "–" if worst is None else str(worst),
            None if worst is None else worst <= 10,
        )
    )
    for size, label in (("10000", "10k"), ("50000", "50k")):
        render = result.get("render_reload", {}).get(size, {}).get("total_ms", [])
        median = report.pct(render, 50)
        limit = report.TARGETS[f"render_reload_{label}_ms"]
        rows.append(
            (
                f"render + reload of one change, {label} members (p50)",
                f"≤ {limit} ms",
                "–" if median is None else f"{median:.1f}",
                None if median is None else median <= limit,
            )
        )
    rows += _simulated_verdicts(result.get("simulated", {}))
    rows += profile_verdicts(result)
    steady = ca.get("steady", {}).get("cloudagent", {})
    rss, cpu = max(steady.get("rss_mb") or [0]), report.pct(steady.get("cpu_percent") or [], 50)
    rows.append(("agent RSS (max)", "≤ 35 MB", f"{rss:.1f}", rss <= 35 if rss else None))
    rows.append(
        (
            "agent idle CPU (p50)",
            "≤ 0.3 %",
            "–" if cpu is None else f"{cpu:.2f}",
            None if cpu is None else cpu <= 0.3,
        )
    )
    return rows


def _simulated_verdicts(sim: dict[str, Any]) -> list[Row]:
    rows: list[Row] = []
    ten, fifty = sim.get("10000"), sim.get("50000")
    if ten:
        p99 = report.pct(ten["latency_s"], 99)
        limit = report.TARGETS["sim_10k_p99_ms"]
        rows.append(
            (
                "SIMULATED 10k, 10 changes/s: change → answered p99",
                f"≤ {limit} ms",
                report.fmt_ms(p99),
                None if p99 is None else 1000 * p99 <= limit,
            )
        )
        cpu = ten["cpu_percent"]
        limit = report.TARGETS["sim_10k_cpu_percent"]
        rows.append(("SIMULATED 10k: agent CPU", f"≤ {limit} %", f"{cpu:.1f}", cpu <= limit))
    if fifty:
        rss = fifty["rss_max_mb"]
        limit = report.TARGETS["sim_50k_rss_mb"]
        rows.append(("SIMULATED 50k: agent RSS (max)", f"≤ {limit} MB", f"{rss:.1f}", rss <= limit))
    return rows


def profile_verdicts(result: dict[str, Any]) -> list[Row]:
    """The ``local`` serf profile against ``lan`` at the largest N both were measured at."""
    both = [
        n for n in result["sizes"] if {"cloudagent", "cloudagent-local"} <= set(result["sizes"][n])
    ]
    if not both:
        return []
    n = max(both, key=int)
    lan, local = result["sizes"][n]["cloudagent"], result["sizes"][n]["cloudagent-local"]
    join, lan_join = (p.get("join", {}).get("dns", {}).get("p50") for p in (local, lan))
    limit = report.TARGETS["local_join_p50_s"]
    rows: list[Row] = [
        (
            f"`local` profile: join → resolvable everywhere p50 (N={n})",
            f"≤ {limit} s",
            f"{report.fmt_s(join)} (lan {report.fmt_s(lan_join)})",
            None if join is None else join <= limit,
        )
    ]
    fast, slow = (p.get("crash", {}).get("floor", {}).get("p50") for p in (local, lan))
    rows.append(
        (
            f"`local` profile: crash → marked failed p50 (N={n})",
            "sooner than lan",
            f"{report.fmt_s(fast)} (lan {report.fmt_s(slow)})",
            None if fast is None or slow is None else fast < slow,
        )
    )
    idle = [
        report.pct(p.get("steady", {}).get("serf", {}).get("cpu_percent") or [], 50)
        for p in (local, lan)
    ]
    rows.append(
        (
            f"`local` profile: serf idle CPU % p50 (N={n})",
            "reported",
            " ".join("–" if v is None else f"{v:.2f}" for v in idle[:1])
            + f" (lan {'–' if idle[1] is None else f'{idle[1]:.2f}'})",
            None,
        )
    )
    return rows
