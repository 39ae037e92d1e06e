"""The image and container start -> served rows of the benchmark report."""

from __future__ import annotations

from typing import Any

from bench.containers import tables, verdict_rows


def _measured(over: float) -> dict[str, Any]:
    trial = {"start_call": 0.3, "a": 0.5, "b": 0.7, "c": 0.7 + over, "c_minus_b": over}
    return {
        "count": 10,
        "trials": [trial],
        **{f"{k}_p50": v for k, v in trial.items()},
        "c_minus_b_max": over,
    }


def test_verdicts_for_image_size_and_served_over_floor() -> None:
    image = {"tag": "t", "mb": 148.6, "layers": [{"created_by": "", "mb": 74.8}]}
    rows = verdict_rows({"image": image, "containers": _measured(0.004)})
    assert [(r[2], r[3]) for r in rows] == [("149", True), ("4", True)]
    rows = verdict_rows({"image": {**image, "mb": 457.0}, "containers": _measured(0.25)})
    assert [(r[2], r[3]) for r in rows] == [("457", False), ("250", False)]


def test_a_skipped_scenario_says_why_and_is_neither_met_nor_missed() -> None:
    result = {"image": {}, "containers": {"skipped": "no Docker engine answers"}}
    ((name, _, value, met),) = verdict_rows(result)
    assert "container start" in name
    assert (value, met) == ("skipped: no Docker engine answers", None)
    assert tables(result) == ["", "Container start → served: skipped (no Docker engine answers)."]


def test_tables_list_layers_and_trials() -> None:
    layers = [
        {"created_by": "/bin/sh -c #(nop)  ENTRYPOINT [...]", "mb": 0.0},
        {"created_by": "/bin/sh -c apt-get install serf", "mb": 62.3},
        {"created_by": "", "mb": 74.8},
    ]
    text = "\n".join(
        tables(
            {"image": {"tag": "t", "mb": 137.1, "layers": layers}, "containers": _measured(0.01)}
        )
    )
    assert "| `/bin/sh -c apt-get install serf` | 62.3 |" in text
    assert "| `(base, imported)` | 74.8 |" in text
    assert "ENTRYPOINT" not in text
    assert "| p50 | 0.30 | 0.50 | 0.70 | 0.71 | 10 |" in text
