"""Content addressing without TensorFlow: model-file checks and fingerprints, ids and plans that carry them,
baseline-cache checksums, recorded artifact checksums, and the CLI refusing a missing model before anything
is created."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from workbench.errors import ModelFileError, SpecError
from workbench.model_files import check_model_file, model_fingerprint, resolve_model, sha256_file, sha256_tree
from workbench.spec import BaselineSpec, TargetSpec, VariantSpec, baseline_id, canonical_json, variant_id
from workbench.spec.plan import Plan, make_plan

WORKBENCH = Path(sys.executable).with_name("workbench")
REPO = Path(__file__).resolve().parents[2]

LAYER = {"module": "keras.layers", "class_name": "Dense", "config": {"name": "fc", "units": 2}}
LAMBDA = {"module": "keras.layers", "class_name": "Lambda",
          "config": {"name": "times2", "function": ["4wEAAAAA", None, None], "function_type": "lambda"}}


def _config(*layers: dict[str, Any]) -> dict[str, Any]:
    return {"module": "keras", "class_name": "Sequential", "config": {"name": "s", "layers": list(layers)}}


def _keras_file(path: Path, config: dict[str, Any] | None = None, weights: bytes = b"w" * 2000) -> Path:
    """A .keras archive as Keras writes it (config.json, metadata.json, weights), enough for the checks."""
    with zipfile.ZipFile(path, "w") as z:  # stored, as Keras writes it
        z.writestr("config.json", json.dumps(config or _config(LAYER)))
        z.writestr("metadata.json", json.dumps({"keras_version": "2.19.0"}))
        z.writestr("model.weights.h5", weights)
    return path


def _h5_file(path: Path, config: dict[str, Any] | None = None) -> Path:
    import h5py

    with h5py.File(path, "w") as f:
        if config is not None:
            f.attrs["model_config"] = json.dumps(config)
        f.create_dataset("w", data=np.arange(10.0))
    return path


def _flip_member_byte(path: Path) -> None:
    """Change one byte of a stored archive member, leaving the zip structure readable."""
    data = bytearray(path.read_bytes())
    i = data.index(b"w" * 50) + 10
    data[i] ^= 0xFF
    path.write_bytes(bytes(data))


# ---------------------------------------------------------------- fingerprints

def test_file_fingerprint_is_the_sha256_of_its_bytes(tmp_path: Path) -> None:
    p = tmp_path / "f.bin"
    p.write_bytes(b"abc" * 1_000_000)  # several read chunks
    assert sha256_file(p) == hashlib.sha256(p.read_bytes()).hexdigest()


def test_directory_fingerprint_covers_paths_and_bytes_in_sorted_order(tmp_path: Path) -> None:
    def tree(root: Path, files: dict[str, bytes]) -> Path:
        for rel, data in files.items():
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            (root / rel).write_bytes(data)
        return root

    files = {"saved_model.pb": b"graph", "variables/variables.index": b"idx", "variables/data-0": b"weights"}
    a = sha256_tree(tree(tmp_path / "a", files))
    assert a == sha256_tree(tree(tmp_path / "b", dict(reversed(files.items()))))  # creation order does not count
    assert a != sha256_tree(tree(tmp_path / "c", {**files, "variables/data-0": b"weightz"}))  # bytes count
    assert a != sha256_tree(tree(tmp_path / "d", {**{k: v for k, v in files.items() if k != "variables/data-0"},
                                                  "variables/data-1": b"weights"}))  # names count
    assert a != sha256_tree(tree(tmp_path / "e", {**files, "extra": b""}))  # an added empty file counts
    # moving bytes across the boundary of two files changes the fingerprint
    assert (sha256_tree(tree(tmp_path / "f", {"x": b"ab", "y": b"c"}))
            != sha256_tree(tree(tmp_path / "g", {"x": b"a", "y": b"bc"})))


# ---------------------------------------------------------------- model files: checked before any cost

def test_recognised_model_files_are_fingerprinted(tmp_path: Path) -> None:
    k = check_model_file(_keras_file(tmp_path / "m.keras"))
    assert (k.format, k.sha256, k.size_bytes) == ("keras", sha256_file(tmp_path / "m.keras"),
                                                  (tmp_path / "m.keras").stat().st_size)
    h = check_model_file(_h5_file(tmp_path / "m.h5", _config(LAYER)))
    assert (h.format, h.sha256) == ("h5", sha256_file(tmp_path / "m.h5"))
    sm = tmp_path / "saved"
    (sm / "variables").mkdir(parents=True)
    (sm / "saved_model.pb").write_bytes(b"pb")
    (sm / "variables" / "variables.data-00000-of-00001").write_bytes(b"v" * 10)
    s = check_model_file(sm)
    assert (s.format, s.sha256, s.size_bytes) == ("savedmodel", sha256_tree(sm), 12)


def _zip_without_config(p: Path) -> None:
    with zipfile.ZipFile(p, "w") as z:
        z.writestr("weights.h5", b"x")


def _keras_with_bad_json(p: Path) -> None:
    with zipfile.ZipFile(p, "w") as z:
        z.writestr("config.json", "{not json")


BAD_FILES = {
    "missing": ("gone.keras", None, "model file {p} does not exist"),
    "unsupported_suffix": ("m.onnx", lambda p: p.write_bytes(b"onnx"), "unsupported model file type '.onnx'"),
    "keras_not_zip": ("m.keras", lambda p: p.write_bytes(b"not a zip"), "not a .keras archive (not a zip file"),
    "keras_empty": ("m.keras", lambda p: p.write_bytes(b""), "not a .keras archive"),
    "keras_truncated": ("m.keras", lambda p: (_keras_file(p), p.write_bytes(p.read_bytes()[:-30])),
                        "not a .keras archive"),
    "keras_no_config": ("m.keras", _zip_without_config, "a zip file but not a Keras model (no config.json)"),
    "keras_bad_json": ("m.keras", _keras_with_bad_json, "unreadable .keras archive (JSONDecodeError"),
    "keras_member_corrupt": ("m.keras", lambda p: (_keras_file(p, weights=b"w" * 200_000), _flip_member_byte(p)),
                             "fails its checksum"),
    "keras_lambda_code": ("m.keras", lambda p: _keras_file(p, _config(LAYER, LAMBDA)),
                          "contains a Lambda layer ('times2') holding Python code"),
    "h5_bad_magic": ("m.h5", lambda p: p.write_bytes(b"\x89HDX\r\n garbage" * 10), "not an HDF5 file"),
    "h5_weights_only": ("m.h5", lambda p: _h5_file(p, None), "HDF5 file has no Keras model_config"),
    "h5_lambda": ("m.h5", lambda p: _h5_file(p, _config(LAYER, LAMBDA)), "contains a Lambda layer ('times2')"),
    "h5_nested_lambda": ("m.h5", lambda p: _h5_file(p, _config(LAYER, _config(LAMBDA))),
                         "contains a Lambda layer ('times2')"),
    "h5_truncated": ("m.h5", lambda p: (_h5_file(p, _config(LAYER)), p.write_bytes(p.read_bytes()[:600])),
                     "not a readable HDF5 Keras model"),
    "dir_not_savedmodel": ("saved", lambda p: p.mkdir(), "a directory but not a SavedModel (no saved_model.pb)"),
}


@pytest.mark.parametrize("name, make, message", BAD_FILES.values(), ids=BAD_FILES.keys())
def test_bad_model_files_are_refused_in_one_line(tmp_path: Path, name: str, make: Any, message: str) -> None:
    p = tmp_path / name
    if make is not None:
        make(p)
    with pytest.raises(ModelFileError) as exc:
        check_model_file(p)
    text = str(exc.value)
    assert "\n" not in text and message.format(p=p) in text, text
    assert str(p) in text


def test_a_lambda_keras_refers_to_by_name_is_not_code(tmp_path: Path) -> None:
    """Safe mode loads a Lambda whose function is a registered name; only serialized Python code is refused."""
    named = {**LAMBDA, "config": {**LAMBDA["config"], "function": "my_package>double", "function_type": "function"}}
    assert check_model_file(_keras_file(tmp_path / "m.keras", _config(LAYER, named))).format == "keras"


def test_baseline_model_resolution(tmp_path: Path) -> None:
    assert resolve_model("digits_cnn", tmp_path) is None and model_fingerprint("mobilenet_v2", tmp_path) == ""
    with pytest.raises(SpecError, match=r"'resnet9000' is neither a zoo model \(digits_cnn, "):
        resolve_model("resnet9000", tmp_path)
    with pytest.raises(ModelFileError, match="does not exist"):
        resolve_model("models/m.keras", tmp_path)  # relative to the project root
    (tmp_path / "models").mkdir()
    _keras_file(tmp_path / "models" / "m.keras")
    assert model_fingerprint("models/m.keras", tmp_path) == sha256_file(tmp_path / "models" / "m.keras")
    assert model_fingerprint(str(tmp_path / "models" / "m.keras")) == sha256_file(tmp_path / "models" / "m.keras")


def test_zoo_names_match_the_zoo() -> None:
    """The TF-free list of zoo names is the zoo's own (read from the source: importing models needs TF)."""
    import ast

    from workbench.model_files import ZOO_NAMES

    tree = ast.parse((REPO / "workbench" / "models.py").read_text())
    zoo = next(n for n in ast.walk(tree) if isinstance(n, ast.AnnAssign) and getattr(n.target, "id", "") == "ZOO")
    assert isinstance(zoo.value, ast.Dict)
    assert sorted(ast.literal_eval(k) for k in zoo.value.keys if k is not None) == sorted(ZOO_NAMES)


# ---------------------------------------------------------------- ids and plans

B = BaselineSpec(model="models/m.keras", dataset="digits")
V = VariantSpec(name="a", quantization="int8")
T = TargetSpec()


def test_zoo_ids_are_what_they_were() -> None:
    """A zoo model has no fingerprint and its ids keep the formula they always had (history stays joined)."""
    zoo = BaselineSpec(model="digits_cnn", dataset="digits")
    old = {"variant": V.model_dump(mode="json", exclude={"name", "timeout_s", "steps"}, exclude_defaults=True),
           "baseline": zoo.model_dump(mode="json", exclude_defaults=True), "dataset": "fp",
           "target": T.model_dump(mode="json", exclude={"name"}, exclude_defaults=True)}
    assert variant_id(V, zoo, "fp", T) == hashlib.sha256(canonical_json(old).encode()).hexdigest()
    assert variant_id(V, zoo, "fp", T, model_fingerprint="") == variant_id(V, zoo, "fp", T)
    assert baseline_id(zoo, "fp", "") == hashlib.sha256(canonical_json(
        {"baseline": old["baseline"], "dataset": "fp"}).encode()).hexdigest()


# what `workbench validate --ids` printed for the shipped experiments before model fingerprints existed
SHIPPED_IDS = {
    "digits_quick.yaml": ("51f36574b3cafc68", {"float32": "e6a1b102182c05c7", "int8": "7ddfb6a233b6a007",
                                               "prune80": "2cff41b18b3e62bf", "lowrank16": "e051195f8e235073"}),
    # zoo revision 1 (BatchNormalization momentum 0.9): a different model, so new ids (were 48a2b19c4368bba4,
    # float32 855962de4b7c4e98, int8 add0d27c6ed5c12f); the digits CNN's builder did not change, nor its ids
    "mobilenet_v2_latency.yaml": ("0064e8b8eed9d1dd", {"float32": "d65aac7ce8d7e908", "int8": "a49da058f76f1fdd"}),
}


@pytest.mark.parametrize("name", SHIPPED_IDS)
def test_shipped_experiments_keep_their_ids(name: str) -> None:
    from workbench.run.sweep import plan_experiment

    plan = plan_experiment(REPO / "experiments" / name, REPO)
    bid, ids = SHIPPED_IDS[name]
    assert plan.model_fingerprint == "" and plan.baseline_id[:16] == bid
    assert {v.name: v.id[:16] for v in plan.variants if v.name in ids} == ids


def test_model_content_is_part_of_every_id_and_its_path_is_not() -> None:
    a = variant_id(V, B, "fp", T, model_fingerprint="1" * 64)
    assert a != variant_id(V, B, "fp", T, model_fingerprint="2" * 64)  # same path, other content: new id
    assert a != variant_id(V, B, "fp", T)
    moved = B.model_copy(update={"model": "elsewhere/renamed.keras"})
    assert a == variant_id(V, moved, "fp", T, model_fingerprint="1" * 64)  # same content, other path: same id
    assert baseline_id(B, "fp", "1" * 64) != baseline_id(B, "fp", "2" * 64)
    assert baseline_id(B, "fp", "1" * 64) == baseline_id(moved, "fp", "1" * 64)


def _experiment(tmp_path: Path, model: str) -> Path:
    path = tmp_path / "e.yaml"
    path.write_text(f"name: e\nbaseline: {{model: {model}, dataset: digits}}\n"
                    "variants: [{name: f, quantization: float32}, {name: i, quantization: int8}]\n")
    return path


def test_the_plan_carries_the_model_fingerprint(tmp_path: Path) -> None:
    from workbench.run.sweep import plan_experiment

    _keras_file(tmp_path / "m.keras")
    first = plan_experiment(_experiment(tmp_path, "m.keras"), tmp_path)
    assert first.model_fingerprint == sha256_file(tmp_path / "m.keras")
    assert first.baseline_id == baseline_id(first.experiment.baseline, first.dataset_fingerprint,
                                            first.model_fingerprint)
    again = Plan.from_json(first.to_json())
    assert again == first
    _keras_file(tmp_path / "m.keras", weights=b"v" * 2000)  # replaced at the same path
    second = plan_experiment(_experiment(tmp_path, "m.keras"), tmp_path)
    assert second.model_fingerprint != first.model_fingerprint
    assert {v.id for v in second.variants}.isdisjoint(v.id for v in first.variants)
    assert second.baseline_id != first.baseline_id


def test_a_plan_written_before_fingerprints_still_reads() -> None:
    plan = make_plan(_spec_zoo(), "fp")
    data = json.loads(plan.to_json())
    del data["model_fingerprint"]
    assert Plan.from_json(json.dumps(data)).model_fingerprint == ""


def _spec_zoo() -> Any:
    from workbench.spec import parse_experiment

    return parse_experiment({"name": "z", "baseline": {"model": "digits_cnn", "dataset": "digits"},
                             "variants": [{"name": "a", "quantization": "int8"}]})


# ---------------------------------------------------------------- the CLI: errors before cost

def _cli(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(WORKBENCH), *args], cwd=tmp_path, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("command", [["validate"], ["validate", "--ids"], ["run", "--no-progress"]])
def test_a_missing_model_file_is_exit_2_before_anything_is_created(tmp_path: Path, command: list[str]) -> None:
    _experiment(tmp_path, "models/m.keras")
    proc = _cli(tmp_path, *command, "e.yaml")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and lines[0] == f"error: model file {tmp_path / 'models/m.keras'} does not exist; give a " \
                                           "path relative to the project root, or an absolute one", proc.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["e.yaml"]  # no store, no work dir


def test_validate_names_the_model_and_its_fingerprint(tmp_path: Path) -> None:
    _keras_file(tmp_path / "m.keras")
    _experiment(tmp_path, "m.keras")
    proc = _cli(tmp_path, "validate", "e.yaml")
    assert proc.returncode == 0, proc.stderr
    assert "model m.keras: keras, " in proc.stdout and sha256_file(tmp_path / "m.keras")[:16] in proc.stdout


def test_refusing_a_bad_model_never_imports_tensorflow(tmp_path: Path) -> None:
    _h5_file(tmp_path / "m.h5", _config(LAYER, LAMBDA))
    _experiment(tmp_path, "m.h5")
    code = textwrap.dedent("""\
        import sys
        from workbench.cli import main
        try:
            main(["run", "--no-progress", "e.yaml"])
        except SystemExit as exc:
            print(exc.code, "tensorflow" in sys.modules)
        """)
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert proc.stdout.split() == ["2", "False"], proc.stdout + proc.stderr
    assert proc.stderr.startswith("error: ") and "Lambda layer ('times2')" in proc.stderr
    assert not (tmp_path / "mlflow.db").exists()


# ---------------------------------------------------------------- cached baselines: checksums

def _fake_cache(work_dir: Path, bid: str = "b" * 64) -> Path:
    """The files of a cached baseline, as ``ensure_baseline`` records them (no training needed to check them)."""
    from workbench.baseline import CACHE_FILES

    bdir = work_dir / "baselines" / bid[:16]
    bdir.mkdir(parents=True)
    (bdir / "model.keras").write_bytes(b"keras" * 100)
    (bdir / "float32.tflite").write_bytes(b"TFL3" + bytes(range(256)) * 4)
    np.save(bdir / "top1.npy", np.arange(5, dtype=np.int64))
    meta = {"id": bid, "accuracy": 0.9, "size_bytes": 1028, "size_gzip_bytes": 500, "params": 10, "history": {},
            "sha256": {n: sha256_file(bdir / n) for n in CACHE_FILES}}
    (bdir / "baseline.json").write_text(json.dumps(meta))
    return bdir


def test_an_intact_cache_loads_and_a_changed_one_does_not(tmp_path: Path) -> None:
    from workbench.baseline import CorruptCache, _load, cache_problems

    bdir = _fake_cache(tmp_path)
    assert cache_problems(bdir, "b" * 64) == []
    assert _load(bdir, "b" * 64).tflite_sha256 == sha256_file(bdir / "float32.tflite")
    data = bytearray((bdir / "float32.tflite").read_bytes())
    data[100:400] = bytes(300)  # weights overwritten, still a file of the same size
    (bdir / "float32.tflite").write_bytes(bytes(data))
    [problem] = cache_problems(bdir, "b" * 64)
    assert problem.startswith("float32.tflite does not match its recorded SHA-256")
    with pytest.raises(CorruptCache, match="float32.tflite does not match"):
        _load(bdir, "b" * 64)


@pytest.mark.parametrize("damage, problem", [
    (lambda d: (d / "top1.npy").unlink(), "top1.npy is missing"),
    (lambda d: (d / "model.keras").write_bytes(b"keras" * 99), "model.keras does not match its recorded SHA-256"),
    (lambda d: (d / "baseline.json").write_text("{trunc"), "baseline.json is unreadable (JSONDecodeError)"),
    (lambda d: (d / "baseline.json").write_text(json.dumps({"id": "b" * 64, "accuracy": 1.0})),
     "baseline.json records no checksums (written by an older workbench)"),
    (lambda d: (d / "baseline.json").write_text(json.dumps({"id": "c" * 64})), "belongs to baseline cccccccccccccccc"),
], ids=["file_missing", "model_changed", "meta_truncated", "legacy_no_checksums", "other_id"])
def test_cache_problems_name_the_file(tmp_path: Path, damage: Any, problem: str) -> None:
    from workbench.baseline import cache_problems

    bdir = _fake_cache(tmp_path)
    damage(bdir)
    problems = cache_problems(bdir, "b" * 64)
    assert len(problems) == 1 and problem in problems[0], problems


# ---------------------------------------------------------------- what a run records

def test_recorded_checksums_are_read_from_the_manifest_or_the_model_tag() -> None:
    from workbench.tracking import TAG_ARTIFACTS_SHA256, TAG_MODEL_SHA256, recorded_sha256

    manifest = {"model/model.tflite": "a" * 64, "summary.json": "b" * 64}
    assert recorded_sha256({TAG_ARTIFACTS_SHA256: json.dumps(manifest), TAG_MODEL_SHA256: "a" * 64}) == manifest
    assert recorded_sha256({TAG_MODEL_SHA256: "a" * 64}) == {"model/model.tflite": "a" * 64}
    assert recorded_sha256({TAG_ARTIFACTS_SHA256: "{trunc", TAG_MODEL_SHA256: "c" * 64}) == \
        {"model/model.tflite": "c" * 64}
    assert recorded_sha256({}) == {}


def test_a_mismatch_reads_as_one_line() -> None:
    from workbench.tracking import Mismatch

    changed = Mismatch("r" * 32, "int8", "run artifact model/model.tflite", "a" * 64, "b" * 64)
    assert str(changed) == "int8 (run rrrrrrrrrrrr): run artifact model/model.tflite has SHA-256 bbbbbbbbbbbb, " \
                           "recorded aaaaaaaaaaaa"
    gone = Mismatch("r" * 32, "int8", "LoggedModel m-1 model.tflite", "a" * 64, None, "No such file")
    assert str(gone) == "int8 (run rrrrrrrrrrrr): LoggedModel m-1 model.tflite is missing (No such file)"


# ---------------------------------------------------------------- OS errors name themselves

FULL = Path("/dev/full")  # every write to it fails with ENOSPC: a full disk without filling one


@pytest.mark.skipif(not FULL.exists(), reason="no /dev/full on this system")
def test_a_full_disk_names_the_file_being_written(tmp_path: Path) -> None:
    import os

    from workbench.errors import StorageError
    from workbench.files import atomic_write

    target = tmp_path / "model.tflite"
    tmp = tmp_path / f".model.tflite.{os.getpid()}.tmp"
    tmp.symlink_to(FULL)
    with pytest.raises(StorageError) as exc:
        atomic_write(target, b"x" * 100_000)
    assert str(exc.value) == f"disk full while writing {target}"
    assert not target.exists() and not tmp.is_symlink()  # nothing half-written is left behind


@pytest.mark.skipif(not FULL.exists(), reason="no /dev/full on this system")
def test_papermill_unable_to_write_its_notebook_is_named(tmp_path: Path) -> None:
    import nbformat

    from workbench.run.task import _crash_reason

    nb = tmp_path / "nb.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1 + 1")]), nb)
    out = tmp_path / "out.ipynb"
    out.symlink_to(FULL)
    proc = subprocess.run([sys.executable, "-m", "papermill", str(nb), str(out), "-k", "python3", "--no-progress-bar"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1
    reason = _crash_reason(proc.stdout + proc.stderr, proc.returncode, out)
    assert reason == f"failed: disk full while writing the executed notebook {out} (No space left on device)"


def test_an_os_error_in_the_cli_is_one_line(tmp_path: Path) -> None:
    _experiment(tmp_path, "digits_cnn")
    (tmp_path / "afile").write_text("")
    proc = _cli(tmp_path, "run", "--no-progress", "--work-dir", "afile/wd", "e.yaml")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert proc.stderr == f"error: a file is in the way of a folder while writing {tmp_path / 'afile/wd/locks'}\n"


# ---------------------------------------------------------------- the notebook and resume refuse what changed

def test_a_model_file_changed_since_planning_is_refused_before_training(tmp_path: Path) -> None:
    from workbench.pipeline import prepare_variant
    from workbench.run.sweep import plan_experiment

    _keras_file(tmp_path / "m.keras")
    plan = plan_experiment(_experiment(tmp_path, "m.keras"), tmp_path)
    (tmp_path / "plan.json").write_text(plan.to_json())
    _keras_file(tmp_path / "m.keras", weights=b"v" * 2000)  # replaced mid-sweep, same path
    with pytest.raises(ModelFileError, match=r"model file 'm.keras' changed since the sweep planned it \(sha256 "
                                             + plan.model_fingerprint[:12]):
        prepare_variant(plan=tmp_path / "plan.json", variant_id=plan.variants[0].id, work_dir=tmp_path / ".wb",
                        root=tmp_path, track=False)
    assert not (tmp_path / ".wb").exists()  # refused before any baseline, cache or folder


def _finished_run(tr: Any, exp: str, vid: str, files: dict[str, bytes], record: bool, tmp: Path) -> str:
    from workbench.tracking import TAG_ARTIFACTS_SHA256, TAG_COMPLETE, TAG_MODEL_SHA256

    run_id = tr.start_run(exp, "v", {"workbench.kind": "variant", "workbench.variant_id": vid,
                                     "workbench.origin": "sweep", TAG_COMPLETE: "true"})
    manifest = {}
    for rel, data in files.items():
        local = tmp / run_id / rel
        local.parent.mkdir(parents=True, exist_ok=True)
        local.write_bytes(data)
        tr.log_artifact(run_id, local, str(Path(rel).parent) if "/" in rel else None)
        manifest[rel] = hashlib.sha256(data).hexdigest()
    if record:
        tr.set_tags(run_id, {TAG_MODEL_SHA256: manifest["model/model.tflite"],
                             TAG_ARTIFACTS_SHA256: json.dumps(manifest)})
    tr.end_run(run_id)
    return run_id


def test_resume_reuses_only_results_whose_files_still_match(tmp_path: Path) -> None:
    from urllib.parse import urlparse

    from workbench.run.verify import recheck_finished
    from workbench.tracking import TAG_INTEGRITY, Tracker

    tr = Tracker(root=tmp_path)
    exp = tr.experiment_id("resume")
    files = {"model/model.tflite": b"TFL3" + bytes(range(256)) * 8, "summary.json": b"{}"}
    intact = _finished_run(tr, exp, "a" * 64, files, True, tmp_path / "src")
    tampered = _finished_run(tr, exp, "b" * 64, files, True, tmp_path / "src")
    legacy = _finished_run(tr, exp, "c" * 64, files, False, tmp_path / "src")
    stored = Path(urlparse(tr.get_run(tampered).artifact_uri).path) / "model" / "model.tflite"
    stored.write_bytes(stored.read_bytes()[:-100] + bytes(100))  # weights overwritten, same size

    finished = tr.finished_variant_runs(exp)
    assert set(finished) == {"a" * 64, "b" * 64, "c" * 64}
    stale = recheck_finished(tr, exp, finished, ["a" * 64, "b" * 64, "c" * 64])
    assert set(stale) == {"b" * 64, "c" * 64}
    assert stale["b" * 64].startswith(f"the stored files of its FINISHED run {tampered} no longer match their "
                                      "checksums: run artifact model/model.tflite has SHA-256 ")
    assert stale["c" * 64] == f"its FINISHED run {legacy} was logged before checksums were recorded"
    assert tr.get_run(tampered).tags[TAG_INTEGRITY].startswith("mismatch: run artifact model/model.tflite")
    assert TAG_INTEGRITY not in tr.get_run(intact).tags
    assert set(tr.finished_variant_runs(exp)) == {"a" * 64}  # the others never count as results again
