"""Integrity on real files: the cached float baseline is verified before reuse (a corrupt one is retrained,
never measured against), every logged model carries its SHA-256, and ``workbench verify`` finds tampered
run artifacts, LoggedModel artifacts and cache files."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path
from urllib.parse import unquote, urlparse

import numpy as np
import pytest
from click.testing import CliRunner

from tests.conftest import write_experiment
from workbench.model_files import sha256_file

pytestmark = pytest.mark.tf

VARIANTS = textwrap.dedent("""\
    variants:
      - {name: float32, quantization: float32}
      - {name: int8, quantization: int8}
    """)


def _local(uri: str) -> Path:
    return Path(unquote(urlparse(uri).path))


def _overwrite_a_third(path: Path) -> None:
    """Overwrite the middle third of a file (mostly weight bytes in a .tflite) with noise; same size."""
    data = bytearray(path.read_bytes())
    third = len(data) // 3
    data[third : 2 * third] = np.random.default_rng(0).integers(0, 256, third, dtype=np.uint8).tobytes()
    path.write_bytes(bytes(data))


def _cache_dir(work_dir: Path) -> Path:
    [bdir] = [p for p in (work_dir / "baselines").iterdir() if p.is_dir() and not p.name.startswith(".")]
    return bdir


def test_a_corrupt_cached_baseline_is_retrained_never_measured_against(project: Path) -> None:
    from workbench.baseline import cache_problems
    from workbench.pipeline import run_variant

    exp = write_experiment(project, variants=VARIANTS, epochs=2)
    first = run_variant(exp, "float32", work_dir=".wb", root=project, track=False)
    assert first["accuracy_delta"] == 0.0 and first["agreement"] == 1.0
    bdir = _cache_dir(project / ".wb")
    recorded = json.loads((bdir / "baseline.json").read_text())["sha256"]
    assert recorded["float32.tflite"] == sha256_file(bdir / "float32.tflite")
    assert first["model_sha256"] == recorded["float32.tflite"]  # the reference is the cached file itself

    _overwrite_a_third(bdir / "float32.tflite")  # what made the float reference -84 points against itself
    corrupt = sha256_file(bdir / "float32.tflite")
    again = run_variant(exp, "float32", work_dir=".wb", root=project, track=False)
    assert again["accuracy_delta"] == 0.0 and again["agreement"] == 1.0
    assert any("failed verification (float32.tflite does not match its recorded SHA-256" in n for n in again["notes"])
    assert cache_problems(bdir) == []  # retrained: a complete, verified cache again
    [moved] = list((project / ".wb" / "baselines" / ".corrupt").iterdir())
    assert sha256_file(moved / "float32.tflite") == corrupt  # kept for inspection, never read again
    assert not any("failed verification" in n for n in
                   run_variant(exp, "int8", work_dir=".wb", root=project, track=False)["notes"])


def test_verify_finds_tampered_artifacts_and_cache_files(project: Path) -> None:
    from workbench.cli import main
    from workbench.pipeline import run_variant
    from workbench.tracking import TAG_ARTIFACTS_SHA256, TAG_MODEL_SHA256, Tracker

    exp = write_experiment(project, variants=VARIANTS, epochs=2)
    summary = run_variant(exp, "int8", work_dir=".wb", root=project)
    tr = Tracker(root=project)
    run = tr.get_run(summary["run_id"])
    produced = next((project / ".wb" / "variants").glob("int8-*")) / "model.tflite"
    assert run.tags[TAG_MODEL_SHA256] == summary["model_sha256"] == sha256_file(produced)
    manifest = json.loads(run.tags[TAG_ARTIFACTS_SHA256])
    assert set(manifest) == {"model/model.tflite", "profile/profile.json", "profile/profile-float-baseline.json",
                             "summary.json"}
    [model] = tr.logged_models(run.experiment_id)
    assert model.tags[TAG_MODEL_SHA256] == summary["model_sha256"]

    cli = CliRunner()
    clean = cli.invoke(main, ["verify", "tiny", "--work-dir", ".wb"])
    assert clean.exit_code == 0, clean.output
    assert "Checked 5 stored file(s) of 1 run(s) in 1 experiment(s) and 1 cached baseline(s): 0 mismatch(es)" \
        in clean.output

    run_copy = _local(run.artifact_uri) / "model" / "model.tflite"
    _overwrite_a_third(run_copy)
    (_local(model.artifact_location) / "model.tflite").unlink()
    bdir = _cache_dir(project / ".wb")
    (bdir / "top1.npy").write_bytes((bdir / "top1.npy").read_bytes()[:-8])
    found = cli.invoke(main, ["verify", str(exp), "--work-dir", ".wb"])
    assert found.exit_code == 1, found.output
    lines = [ln for ln in found.output.splitlines() if ln.startswith("MISMATCH ")]
    rid = run.run_id[:12]
    assert lines == [
        f"MISMATCH tiny: int8 (run {rid}): run artifact model/model.tflite has SHA-256 "
        f"{sha256_file(run_copy)[:12]}, recorded {summary['model_sha256'][:12]}",
        f"MISMATCH tiny: int8 (run {rid}): LoggedModel {model.model_id} model.tflite is missing "
        + lines[1].split(" is missing ")[1],
        f"MISMATCH baseline cache {bdir}: top1.npy does not match its recorded SHA-256 "
        + lines[2].split("recorded SHA-256 ")[1],
    ]
    assert "3 mismatch(es)" in found.output


def test_tensorflow_start_up_lines_never_precede_an_error(tmp_path: Path) -> None:
    code = textwrap.dedent("""\
        import os, sys
        os.environ.pop("TF_CPP_MIN_LOG_LEVEL", None)  # as a user's shell has it
        import workbench._keras
        workbench._keras.keras.Sequential([workbench._keras.keras.layers.Dense(2)])
        print("error: the one line", file=sys.stderr)
        """)
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=300,
                          env={k: v for k, v in __import__("os").environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"})
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == "error: the one line\n"


def test_files_keras_writes_pass_the_tensorflow_free_checks(tmp_path: Path, tiny_model) -> None:
    from workbench._keras import keras
    from workbench.errors import ModelFileError
    from workbench.model_files import check_model_file, sha256_tree

    tiny_model.save(tmp_path / "m.keras")
    tiny_model.save(tmp_path / "m.h5")
    tiny_model.save(tmp_path / "saved", save_format="tf")
    assert check_model_file(tmp_path / "m.keras").format == "keras"
    assert check_model_file(tmp_path / "m.h5").format == "h5"
    from tests.integration.test_models import _keras_activations
    from workbench.model_shapes import activation_values

    for name in ("m.keras", "m.h5"):  # the memory estimate's activations, from the config as Keras wrote it
        assert activation_values(check_model_file(tmp_path / name).config) == _keras_activations(tiny_model), name
    saved = check_model_file(tmp_path / "saved")
    assert saved.format == "savedmodel" and saved.sha256 == sha256_tree(tmp_path / "saved")
    lam = keras.Sequential([keras.layers.Input((4,)), keras.layers.Lambda(lambda x: x * 2, name="twice")])
    lam.save(tmp_path / "lam.keras")
    with pytest.raises(ModelFileError, match=r"Lambda layer \('twice'\) holding Python code"):
        check_model_file(tmp_path / "lam.keras")  # what safe mode would refuse, refused without loading
