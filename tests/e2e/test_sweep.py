"""End to end: papermill notebook, the CLI sweep, resume, and what lands in MLflow."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO, write_experiment

pytestmark = pytest.mark.slow

DESIGN_METRICS = {
    "accuracy", "accuracy_delta", "agreement", "size_bytes", "size_gzip_bytes", "compression_ratio",
    "compression_ratio_gzip", "sparsity", "latency_ms_p50", "latency_ms_p90", "latency_ms_p95", "latency_ms_p99",
    "latency_ms_mean", "latency_ms_std", "latency_ms_min", "latency_runs", "init_ms", "memory_mb_init",
    "memory_mb_peak", "throughput_ips",
}


def cli(*args: str, cwd: Path, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "workbench.cli", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL)


def runs_of(root: Path, experiment: str):
    from workbench.tracking import Tracker

    tr = Tracker(root=root)
    exp = tr.experiment(experiment)
    return tr, (tr.runs(exp.experiment_id) if exp else [])


def test_papermill_runs_one_variant_directly(project):
    exp = write_experiment(project)
    out = project / "out.ipynb"
    proc = subprocess.run([sys.executable, "-m", "papermill", str(REPO / "notebooks" / "variant.ipynb"), str(out),
                           "-r", "experiment", str(exp), "-r", "variant", "int8", "--cwd", str(project)],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    tr, runs = runs_of(project, "tiny")
    assert [r.status for r in runs] == ["FINISHED"]
    assert DESIGN_METRICS <= set(runs[0].metrics)
    assert 0.5 < runs[0].metrics["accuracy"] <= 1.0


def test_sweep_logs_everything_then_resume_skips(project):
    write_experiment(project)
    proc = cli("run", "experiments/tiny.yaml", "--workers", "2", "--no-progress", cwd=project)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    assert "MLflow UI:" in proc.stdout and "127.0.0.1" in proc.stdout
    tr, runs = runs_of(project, "tiny")
    parents = [r for r in runs if r.tags.get("workbench.kind") == "sweep"]
    children = [r for r in runs if r.tags.get("workbench.kind") == "variant"]
    assert len(parents) == 1 and len(children) == 2
    for run in children:
        assert run.status == "FINISHED"
        assert run.tags["mlflow.parentRunId"] == parents[0].run_id
        assert DESIGN_METRICS <= set(run.metrics), DESIGN_METRICS - set(run.metrics)
        arts = {a.path for top in tr.list_artifacts(run.run_id)
                for a in (tr.list_artifacts(run.run_id, top.path) if top.is_dir else [top])}
        name = run.tags["workbench.variant"]
        assert {"model/model.tflite", f"notebook/{name}.ipynb", "profile/profile.json"} <= arts
        for tag in ("workbench.variant_id", "workbench.version.tensorflow", "workbench.version.litert",
                    "workbench.cpu_model", "workbench.threads", "mlflow.source.git.commit"):
            assert run.tags.get(tag), tag
        dst = project / "dl" / run.run_id
        dst.mkdir(parents=True)
        prof = json.loads(Path(tr.download(run.run_id, "profile/profile.json", str(dst))).read_text())
        assert len(prof["samples_ms"]) == run.metrics["latency_runs"]
        assert run.params["profile.threads"] == "1"
    int8 = next(r for r in children if r.tags["workbench.variant"] == "int8")
    assert int8.metrics["compression_ratio"] > 2.0
    import mlflow

    models = mlflow.search_logged_models(experiment_ids=[parents[0].experiment_id], output_format="list")
    ids = {r.tags["workbench.variant"]: r.tags["workbench.variant_id"] for r in children}
    assert {m.name for m in models} == {f"tiny-{v}-{vid[:8]}" for v, vid in ids.items()}  # unique, readable

    again = cli("run", "experiments/tiny.yaml", "--no-progress", cwd=project)
    assert again.returncode == 0, again.stderr[-2000:]
    assert "2 variant(s) skipped" in again.stdout
    _, runs2 = runs_of(project, "tiny")
    assert len([r for r in runs2 if r.tags.get("workbench.kind") == "variant"]) == 2


@pytest.mark.parametrize("body,needle", [
    ("variants: [{name: a, quantization: int4}]\n", "variants.0.quantization"),
    ("variants: [{name: a, steps: [{technique: shrink}]}]\n", "shrink"),
    ("variants: [{name: a, sparsity: 0.5}]\n", "variants.0.sparsity: unknown key"),
    ("variants: [{name: a, calibration_samples: lots}]\n", "variants.0.calibration_samples"),
])
def test_bad_experiment_exit_2_and_no_run(project, body, needle):
    write_experiment(project, name="bad", variants=body)
    proc = cli("run", "experiments/bad.yaml", cwd=project, timeout=120)
    assert proc.returncode == 2
    err = proc.stderr.strip().splitlines()
    assert len(err) == 1 and needle in err[0] and "experiments/bad.yaml" in err[0], proc.stderr
    assert not (project / "mlflow.db").exists() or not runs_of(project, "bad")[1]


def test_missing_baseline_exit_2(project):
    (project / "e.yaml").write_text("name: e\nvariants: [{name: a}]\n")
    proc = cli("run", "e.yaml", cwd=project, timeout=120)
    assert proc.returncode == 2 and "baseline" in proc.stderr and "Traceback" not in proc.stderr


def test_unreachable_tracking_server_exit_2(project):
    write_experiment(project)
    proc = subprocess.run([sys.executable, "-m", "workbench.cli", "run", "experiments/tiny.yaml"], cwd=project,
                          capture_output=True, text=True, timeout=300,
                          env={**__import__("os").environ, "MLFLOW_TRACKING_URI": "http://127.0.0.1:9"})
    assert proc.returncode == 2
    assert "not reachable" in proc.stderr and "Traceback" not in proc.stderr
