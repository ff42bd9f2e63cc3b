"""Content-addressed results end to end: a user model replaced at the same path is measured again (new ids),
and a result whose stored .tflite was tampered with is refused by ``report`` and re-measured by resume."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.conftest import FAST_TARGET
from tests.e2e.test_sweep import cli, runs_of
from workbench.model_files import sha256_file

pytestmark = pytest.mark.slow


def _save_digits_cnn(path: Path, width: float, dense: int) -> None:
    from workbench.models import digits_cnn

    digits_cnn((8, 8, 1), 10, width=width, dense=dense).save(path)


def _variants(tr, runs) -> dict[str, list]:
    out: dict[str, list] = {}
    for r in runs:
        if r.tags.get("workbench.kind") == "variant":
            out.setdefault(r.tags["workbench.variant"], []).append(r)
    return out


def test_a_user_model_replaced_at_the_same_path_is_measured_again(project: Path) -> None:
    (project / "models").mkdir()
    model = project / "models" / "m.keras"
    _save_digits_cnn(model, width=0.25, dense=8)
    (project / "e.yaml").write_text(
        "name: usermodel\nbaseline: {model: models/m.keras, dataset: digits, training: {epochs: 1, batch_size: 64}}\n"
        f"{FAST_TARGET}variants: [{{name: float32, quantization: float32}}]\n")
    first = cli("run", "e.yaml", "--no-progress", cwd=project)
    assert first.returncode == 0, first.stdout[-2000:] + first.stderr[-2000:]
    unchanged = cli("run", "e.yaml", "--no-progress", cwd=project)
    assert unchanged.returncode == 0 and "1 variant(s) skipped" in unchanged.stdout  # same content: reused

    _save_digits_cnn(model, width=1.0, dense=64)  # another network at the same path
    second = cli("run", "e.yaml", "--no-progress", cwd=project)
    assert second.returncode == 0, second.stdout[-2000:] + second.stderr[-2000:]
    assert "skipped" not in second.stdout  # measured again, not served from the old result
    tr, runs = runs_of(project, "usermodel")
    old, new = sorted(_variants(tr, runs)["float32"], key=lambda r: r.start_time)
    assert old.status == new.status == "FINISHED"
    assert old.tags["workbench.variant_id"] != new.tags["workbench.variant_id"]
    assert new.params["model.fingerprint"] == sha256_file(model) != old.params["model.fingerprint"]
    # the new float file is the new (larger) network: its own baseline, not the cached old one
    assert new.metrics["size_bytes"] > 4 * old.metrics["size_bytes"]
    caches = [p for p in (project / ".workbench" / "baselines").iterdir() if p.is_dir() and p.name[0] != "."]
    assert len(caches) == 2


def test_a_tampered_result_is_refused_by_report_and_measured_again_on_resume(project: Path) -> None:
    from tests.conftest import write_experiment
    from workbench.tracking import TAG_INTEGRITY

    write_experiment(project, epochs=3)
    first = cli("run", "experiments/tiny.yaml", "--workers", "2", "--no-progress", cwd=project)
    assert first.returncode == 0, first.stdout[-2000:] + first.stderr[-2000:]
    tr, runs = runs_of(project, "tiny")
    [int8] = _variants(tr, runs)["int8"]
    stored = Path(int8.artifact_uri.removeprefix("file://")) / "model" / "model.tflite"
    data = bytearray(stored.read_bytes())
    third = len(data) // 3
    data[third : 2 * third] = np.random.default_rng(0).integers(0, 256, third, dtype=np.uint8).tobytes()
    stored.write_bytes(bytes(data))

    report = cli("report", "tiny", cwd=project)
    assert report.returncode == 2
    assert report.stderr.startswith("error: sweep ") and report.stderr.count("\n") == 1, report.stderr
    assert f"int8 (run {int8.run_id[:12]}): run artifact model/model.tflite has SHA-256" in report.stderr

    resumed = cli("run", "experiments/tiny.yaml", "--no-progress", cwd=project)
    assert resumed.returncode == 0, resumed.stdout[-2000:] + resumed.stderr[-2000:]
    assert f"RE-MEASURED int8: the stored files of its FINISHED run {int8.run_id} no longer match" \
        in resumed.stdout
    assert "1 variant(s) skipped" in resumed.stdout  # float32 was intact: reused
    tr, runs = runs_of(project, "tiny")
    by_name = _variants(tr, runs)
    assert len(by_name["float32"]) == 1 and len(by_name["int8"]) == 2
    old = tr.get_run(int8.run_id)
    assert old.tags[TAG_INTEGRITY].startswith("mismatch: run artifact model/model.tflite has SHA-256 ")
    [new] = [r for r in by_name["int8"] if r.run_id != int8.run_id]
    assert new.status == "FINISHED" and TAG_INTEGRITY not in new.tags

    assert cli("report", "tiny", cwd=project).returncode == 0  # the latest sweep's results all match
    verify = cli("verify", "tiny", cwd=project)
    assert verify.returncode == 1  # the tampered run is still in the store, and still reported
    [line] = [ln for ln in verify.stdout.splitlines() if ln.startswith("MISMATCH")]
    assert int8.run_id[:12] in line and line.endswith("[already excluded from results]")
