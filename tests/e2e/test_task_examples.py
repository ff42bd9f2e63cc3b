"""The worked task examples in experiments/ run end to end on tiny data the test makes: a regressor with an
MAE budget, a two-output model, a user metric. Their recommendation, dashboard and MLflow runs use the primary
metric, and every variant has fidelity metrics on every runtime it ran on."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO
from tests.e2e.test_sweep import cli, runs_of

pytestmark = pytest.mark.slow

FAST = {"threads": 1, "warmup_runs": 2, "min_runs": 20, "min_seconds": 0.05, "max_seconds": 2}


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> Path:
    """The example models, trained briefly (the test's own tiny data)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("example_tasks", REPO / "experiments" / "example_tasks.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    out = tmp_path_factory.mktemp("models")
    module.make_models(out, epochs=10)
    return out


def _project(root: Path, models: Path, example: str, **overrides: object) -> str:
    """``root`` as a project holding the example (a faster target, tiny data) and its module and models."""
    (root / "experiments").mkdir()
    shutil.copy(REPO / "experiments" / "example_tasks.py", root / "experiments" / "example_tasks.py")
    shutil.copytree(models, root / "models")
    data = yaml.safe_load((REPO / "experiments" / f"{example}.yaml").read_text())
    data["baseline"]["dataset_args"] = {"train": 64, "test": 48}
    data.update({"target": FAST, "rounds": 1, **overrides})
    (root / "experiments" / f"{example}.yaml").write_text(yaml.safe_dump(data))
    return f"experiments/{example}.yaml"


def _sweep(project: Path, path: str, experiment: str) -> tuple[dict[str, dict[str, float]], object, str]:
    proc = cli("run", path, "--workers", "2", "--no-progress", cwd=project, timeout=300)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    tr, runs = runs_of(project, experiment)
    children = {r.tags["workbench.variant"]: r for r in runs if r.tags.get("workbench.kind") == "variant"}
    assert all(r.status == "FINISHED" for r in children.values())
    parent = next(r for r in runs if r.tags.get("workbench.kind") == "sweep")
    page = Path(tr.download(parent.run_id, "dashboard.html", str(project / "dl"))).read_text()
    recommended = [n for n, r in children.items() if r.tags.get("workbench.recommended") == "true"]
    assert len(recommended) == 1
    return {n: dict(r.metrics) for n, r in children.items()}, recommended[0], page


def test_regression_with_an_mae_budget(project, models):
    path = _project(project, models, "regression_mae", variants=[{"name": "float32", "quantization": "float32"},
                                                                 {"name": "int8", "quantization": "int8"}])
    metrics, recommended, page = _sweep(project, path, "regression-mae")
    assert set(metrics) == {"float32", "int8"}
    for name, m in metrics.items():
        assert m["mae"] > 0 and "accuracy" not in m and "agreement" not in m, name  # a regressor has no accuracy
        for suffix in ("", ".ort"):  # MAE and fidelity on LiteRT and on ONNX Runtime
            assert f"mae{suffix}" in m and f"mae_delta{suffix}" in m and f"snr_db{suffix}" in m, (name, suffix)
    assert metrics["float32"]["mae_delta"] == 0.0 and metrics["float32"]["snr_db"] > 60
    assert metrics["int8"]["snr_db"] < metrics["float32"]["snr_db"]
    fits = [n for n, m in metrics.items() if m["mae_delta"] <= 0.05]
    assert recommended in fits and metrics[recommended]["mae"] == min(metrics[n]["mae"] for n in fits)
    assert "MAE" in page and "mean absolute error" in page and "max_delta mae" not in page.split("Recommended")[0]


def test_two_outputs_scored_per_output(project, models):
    path = _project(project, models, "two_outputs", profiles=[{"name": "ov", "runtime": "openvino"}])
    metrics, recommended, page = _sweep(project, path, "two-outputs")
    for name, m in metrics.items():
        assert m["mae"] == m["mae/value"] and 0.0 <= m["accuracy/kind"] <= 1.0, name
        for suffix in ("", ".ov"):  # each output scored and compared with float's on LiteRT and on OpenVINO
            assert {f"snr_db/value{suffix}", f"snr_db/kind{suffix}", f"cosine_similarity/kind{suffix}",
                    f"max_abs_error/value{suffix}", f"mae/value{suffix}", f"accuracy/kind{suffix}"} <= set(m), name
            assert m[f"snr_db{suffix}"] == min(m[f"snr_db/value{suffix}"], m[f"snr_db/kind{suffix}"])
        assert abs(m["mae/value.ov"] - m["mae/value"]) < 0.05 and abs(m["accuracy/kind.ov"] - m["accuracy/kind"]) < 0.05
    assert metrics["float32"]["snr_db/kind.ov"] > 60  # OpenVINO's float outputs, each under LiteRT's name
    assert metrics["float32"]["accuracy/kind"] > 0.5  # the head learned: labels reached it by output name
    assert recommended in metrics and "MAE" in page


def test_a_user_metric_ranks_the_variants(project, models):
    path = _project(project, models, "user_metric")
    metrics, recommended, page = _sweep(project, path, "user-metric")
    for name, m in metrics.items():
        assert 0.0 <= m["within_10pct"] <= 1.0 and "within_10pct_delta" in m and "snr_db" in m, name
    best = max(metrics.values(), key=lambda m: m["within_10pct"])["within_10pct"]
    assert metrics[recommended]["within_10pct"] == best  # higher is better, as the experiment declared
    assert "within_10pct" in page


def test_a_user_metric_that_cannot_be_imported_is_refused_before_any_run(project, models):
    path = _project(project, models, "user_metric",
                    task={"kind": "regression", "metric": {"function": "experiments.example_tasks:nope",
                                                           "name": "nope", "better": "max"}}, budgets={})
    proc = cli("run", path, cwd=project, timeout=120)
    assert proc.returncode == 2 and "task metric 'experiments.example_tasks:nope': cannot import" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and not runs_of(project, "user-metric")[1]
