"""A smoke run of the benchmark (N=3): the harness works; no figure is asserted here."""

from __future__ import annotations

import json
import os
from pathlib import Path

from bench.run import main


def test_bench_smoke(tmp_path: Path) -> None:
    code = main(
        [
            "--sizes",
            "3",
            "--trials",
            "1",
            "--crashes",
            "1",
            "--steady",
            "1",
            "--grace",
            "1",
            "--render-sizes",
            "200",
            "--sim-sizes",
            "300",
            "--sim-duration",
            "3",
            # Container start -> served has its own smoke test in tests/e2e.
            "--containers",
            "0",
            "--results",
            str(tmp_path),
            "--docs",
            str(tmp_path),
            # The integration tests' loopback network (see conftest), above their clusters.
            "--net",
            os.environ.get("CLOUDAGENT_TEST_NET") or str(100 + os.getpid() % 100),
        ]
    )
    assert code == 0
    (result_file,) = tmp_path.glob("*.json")
    result = json.loads(result_file.read_text())
    for system in ("cloudagent", "baseline"):
        per = result["sizes"]["3"][system]
        for scenario in ("join", "leave", "crash"):
            assert per[scenario]["missing"] == 0, (system, scenario, per[scenario]["missed"])
            assert per[scenario]["dns"]["n"] >= 2  # every observer saw the change
            assert per[scenario]["floor"]["n"] >= 1  # the floor probe reads serf (RPC token)
        assert per["storm"]["unresolved_pairs"] == 0
    sim = result["simulated"]["300"]
    assert sim["changes"] >= 10
    assert sim["unanswered"] == 0
    assert (tmp_path / "benchmarks.md").read_text().startswith("# Benchmarks")
    assert (tmp_path / "benchmarks-latency.png").stat().st_size > 0
