"""Interleaved rounds (profile/paired.py) with a fake measure: order, budget split, merged noise, ratio."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from workbench.profile import parse_result
from workbench.profile.paired import measure_rounds, round_target
from workbench.spec import TargetSpec

CAPTURED = Path(__file__).resolve().parent.parent / "data" / "profile_result.json"


def _result(p50_ms: float, target: TargetSpec, path: Path):
    raw = {k: v for k, v in json.loads(CAPTURED.read_text()).items() if k not in ("stats", "metrics", "load")}
    raw["request"].update(model_path=str(path), min_seconds=target.min_seconds, max_seconds=target.max_seconds,
                          min_runs=target.min_runs, max_runs=target.max_runs, load_seconds=0.0, clients=1)
    raw["samples_ms"] = [p50_ms * (1 + 0.001 * (i % 5)) for i in range(40)]
    return parse_result(raw)


def test_rounds_alternate_order_split_the_budget_and_give_a_ratio_over_rounds():
    calls: list[tuple[str, TargetSpec]] = []
    float_p50 = iter([7.2, 7.0, 7.4, 7.1, 9.0])  # round 5: a burst of load while float ran
    int8_p50 = iter([3.3, 3.2, 3.4, 3.3, 3.3])

    def measure(path: Path, t: TargetSpec):
        calls.append((path.name, t))
        return _result(next(float_p50 if path.name == "float.tflite" else int8_p50), t, path)

    target = TargetSpec(min_seconds=3.0, max_seconds=30.0, min_runs=30, max_runs=10_000)
    paired = measure_rounds(measure, Path("int8.tflite"), Path("float.tflite"), target, 5)
    assert [c[0] for c in calls] == ["float.tflite", "int8.tflite", "int8.tflite", "float.tflite"] * 2 + [
        "float.tflite", "int8.tflite"]
    assert all(t.min_seconds == pytest.approx(0.6) and t.max_seconds == pytest.approx(6.0) and t.min_runs == 6
               for _, t in calls)
    assert paired.rounds == 5 and paired.speedup is not None and paired.reference is not None
    assert paired.speedup.value == pytest.approx(7.2 / 3.3)  # the median round, not the burst
    assert paired.speedup.ci_low < paired.speedup.value < paired.speedup.ci_high
    sub = paired.subject
    assert sub.latency.runs == 200 and sub.latency.rounds == 5  # every sample of every round
    assert sub.latency.p50_ci_low < 3.3 < sub.latency.p50_ci_high  # from the spread of the per-round p50s
    assert sub.request.min_seconds == 3.0  # the whole budget is what the params record
    assert [r["p50_ms"] for r in sub.raw["rounds"]] == pytest.approx(np.array([3.3, 3.2, 3.4, 3.3, 3.3]) * 1.002)
    assert paired.reference.latency.rounds == 5 and paired.reference.latency.p50_ci_high > 7.4


def test_a_reference_variant_is_measured_alone_and_one_round_logs_no_interval():
    seen: list[str] = []

    def measure(path: Path, t: TargetSpec):
        seen.append(path.name)
        return _result(2.0, t, path)

    alone = measure_rounds(measure, Path("float.tflite"), None, TargetSpec(), 1)
    assert seen == ["float.tflite"] and alone.speedup is None and alone.reference is None
    assert "latency_ms_p50_ci_low" not in alone.subject.metrics()


def test_the_load_scenario_runs_once_in_the_last_round():
    t = TargetSpec(clients=4, load_seconds=5.0)
    assert round_target(t, 5, load=False).clients == 1 and round_target(t, 5, load=False).load_seconds == 0
    assert round_target(t, 5, load=True).clients == 4 and round_target(t, 5, load=True).load_seconds == 5.0
