"""The fault table (issue 11): every class of fault a user can cause, each run through the real command line
in a fresh directory, with its exit code, first stderr line, the MLflow runs it created and whether a
traceback appeared.

A case is **handled** when it meets its class's contract: bad input is refused with exit status 2, one
``error:`` line on stderr, no traceback and no run logged; a signal stops the sweep with exit 128 + N and every
run settled KILLED with the true reason and no process left behind; a concurrent sweep runs nothing twice and
kills no live run; tampering is reported by ``workbench verify`` with a non-zero status.

    .venv/bin/python -m tests.e2e.test_fault_table      # run every case and rewrite docs/fault-cases.md

The few cases that need a set-up of their own (``kill -9`` of the supervisor, a real full disk, two sweeps on a
PostgreSQL-backed server) run in their own files and record their row in the same columns
(``tests/e2e/fault_rows.py``); the command above runs those files too.

As a test, each case is asserted unless it is a declared gap (``gap=True``: recorded, not asserted). Most
cases import no TensorFlow: they are refused before anything costly, or run the stand-in notebook
tests/data/stub_variant.ipynb.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.conftest import REPO, free_port
from tests.e2e.fault_rows import DOC_NAME, ELSEWHERE, Row, record
from tests.unit.test_bad_input import DATA_CASES, FILE_CASES, HEAD, YAML_CASES, _arrays
from tests.unit.test_fit import _input, _layer, embedding_model, functional, keras_file, sequential
from tests.unit.test_keras_bounds import CONFIG, _declare, _keras

pytestmark = pytest.mark.slow

PY = sys.executable
STUB = REPO / "tests" / "data" / "stub_variant.ipynb"
DOC = REPO / "docs" / "fault-cases.md"
DRIVER = textwrap.dedent(f"""\
    import sys
    import workbench.run.sweep as sweep
    sweep.NOTEBOOK = {str(STUB)!r}  # the stand-in notebook (no TensorFlow); everything else is the real CLI
    from workbench.cli import main
    main(sys.argv[1:])
    """)
GOOD = "name: ok\nbaseline: {model: digits_cnn, dataset: digits}\nvariants: [{name: float32, quantization: float32}]\n"
TWO = ("name: two\nbaseline: {model: digits_cnn, dataset: digits}\n"
       "variants: [{name: float32, quantization: float32}, {name: int8, quantization: int8}, "
       "{name: dyn, quantization: dynamic}]\n")


@dataclass
class Result:
    exit: int | None
    stderr: str
    stdout: str
    runs_created: int
    seconds: float
    handled: bool = False
    note: str = ""

    @property
    def first_line(self) -> str:
        lines = [ln for ln in self.stderr.splitlines() if ln.strip()]
        return lines[0] if lines else ""

    @property
    def traceback(self) -> bool:
        return "Traceback (most recent call last)" in self.stderr + self.stdout


@dataclass
class Case:
    id: str
    cls: str
    what: str
    setup: Callable[[Path], list[str]]  # writes files under the case directory, returns the workbench arguments
    needle: str = ""  # for refusals: a phrase the error line must contain
    env: dict[str, str] = field(default_factory=dict)
    check: Callable[[Path, Result], tuple[bool, str]] | None = None  # other contracts than a refusal
    act: Callable[[Path, list[str], dict[str, str]], Result] | None = None  # runs the command itself
    driver: bool = False  # through the stand-in notebook
    gap: bool = False  # known not handled yet: recorded, not asserted
    timeout: float = 240


# --------------------------------------------------------------------------------------------- helpers


def _count_runs(root: Path) -> int:
    db = root / "mlflow.db"
    if not db.is_file():
        return 0
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10) as con:
            return int(con.execute("SELECT count(*) FROM runs").fetchone()[0])
    except sqlite3.Error:
        return 0


def _runs(root: Path, experiment: str) -> list[Any]:
    from workbench.tracking import Tracker

    tr = Tracker(root=root)
    exp = tr.experiment(experiment)
    return tr.runs(exp.experiment_id) if exp else []


def _command(args: list[str], driver: bool) -> list[str]:
    return [PY, "-c", DRIVER, *args] if driver else [PY, "-m", "workbench.cli", *args]


def _env(extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    env.update({"TF_CPP_MIN_LOG_LEVEL": "3", "WORKBENCH_CLAIM_SETTLE_S": "0.2"}, **extra)
    return env


def run_case(case: Case, root: Path) -> Result:
    root.mkdir(parents=True, exist_ok=True)
    args = case.setup(root)
    before = _count_runs(root)
    start = time.monotonic()
    if case.act is not None:
        res = case.act(root, args, case.env)
    else:
        try:
            proc = subprocess.run(_command(args, case.driver), cwd=root, capture_output=True, text=True,
                                  timeout=case.timeout, env=_env(case.env), stdin=subprocess.DEVNULL)
            res = Result(proc.returncode, proc.stderr, proc.stdout, 0, 0.0)
        except subprocess.TimeoutExpired as exc:
            res = Result(None, str(exc.stderr or ""), str(exc.stdout or ""), 0, 0.0, note="timed out")
    res.seconds = time.monotonic() - start
    res.runs_created = _count_runs(root) - before
    if case.check is not None:
        res.handled, note = case.check(root, res)
        res.note = res.note or note
    else:
        res.handled, res.note = refused(res, case.needle)
    return res


def refused(res: Result, needle: str = "") -> tuple[bool, str]:
    """The bad-input contract: exit 2, one `error:` line, no traceback, nothing logged."""
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    problems = []
    if res.exit != 2:
        problems.append(f"exit {res.exit}")
    if len(lines) != 1 or not lines[0].startswith("error: "):
        problems.append(f"{len(lines)} stderr lines")
    if res.traceback:
        problems.append("traceback")
    if res.runs_created:
        problems.append(f"{res.runs_created} run(s) logged")
    if needle and lines and needle not in lines[0]:
        problems.append(f"message lacks {needle!r}")
    return not problems, "; ".join(problems)


def _then(effect: Any, args: list[str]) -> list[str]:
    """For one-line setups: ``effect`` (a file written) has happened; return the arguments."""
    return args


def _write(root: Path, text: str, name: str = "e.yaml") -> list[str]:
    (root / name).write_text(text)
    return ["run", name, "--no-progress"]


# ------------------------------------------------------------------------ a tiny real .tflite (no TensorFlow here)

_TFLITE: dict[str, bytes] = {}
_TFLITE_LOCK = threading.Lock()


def tiny_tflite() -> bytes:
    """An untrained digits CNN (8x8x1 float input) as float32 .tflite, converted once in a child process."""
    with _TFLITE_LOCK:
        if "m" not in _TFLITE:
            code = textwrap.dedent("""\
                import sys
                from workbench.models import digits_cnn
                from workbench.convert import convert
                m = digits_cnn((8, 8, 1), 10, width=0.25, dense=8)
                sys.stdout.buffer.write(convert(m, "float32"))
                """)
            out = subprocess.run([PY, "-c", code], capture_output=True, timeout=300, env=_env({}))
            assert out.returncode == 0 and out.stdout[4:8] == b"TFL3", out.stderr[-2000:]
            _TFLITE["m"] = out.stdout
        return _TFLITE["m"]


def _model(root: Path) -> Path:
    path = root / "m.tflite"
    path.write_bytes(tiny_tflite())
    return path


def _profile(root: Path, inputs: Callable[[Path], None] | None = None, *extra: str) -> list[str]:
    _model(root)
    args = ["profile", "m.tflite", "--min-runs", "5", "--min-seconds", "0", "--warmup", "1", *extra]
    if inputs is not None:
        inputs(root / "x.npy")
        args += ["--inputs", "x.npy"]
    return args


# ------------------------------------------------------------------------------------ cases: spec and YAML

CASES: list[Case] = []

for key, (text, msg) in YAML_CASES.items():
    CASES.append(Case(f"yaml-{key}", "bad YAML / spec", key.replace("_", " "),
                      lambda root, text=text: _write(root, text), needle=msg.split(": ")[-1][:40]))

SPEC_BODIES = {
    "unknown quantization": ("variants: [{name: a, quantization: int4}]\n", "variants.0.quantization"),
    "unknown technique": ("variants: [{name: a, steps: [{technique: shrink}]}]\n", "shrink"),
    "unknown key": ("variants: [{name: a, sparsity: 0.5}]\n", "unknown key"),
    "wrong type": ("variants: [{name: a, calibration_samples: lots}]\n", "calibration_samples"),
    "QAT exported as float": ("variants: [{name: a, steps: [{technique: qat, epochs: 1}], quantization: float16}]\n",
                              "qat"),
    "variants not a list": ("variants: 3\n", "variants"),
    "duplicate variant names": ("variants: [{name: a}, {name: a, quantization: int8}]\n", "a"),
    "negative sparsity": ("variants: [{name: a, steps: [{technique: prune, sparsity: -0.5}]}]\n", "sparsity"),
}
for key, (body, needle) in SPEC_BODIES.items():
    CASES.append(Case(f"spec-{key.replace(' ', '-')}", "bad YAML / spec", key,
                      lambda root, body=body: _write(root, "name: x\nbaseline: {model: digits_cnn, dataset: digits}\n"
                                                     + body), needle=needle))

CASES += [
    Case("spec-no-baseline", "bad YAML / spec", "no baseline block",
         lambda root: _write(root, "name: e\nvariants: [{name: a}]\n"), needle="baseline"),
    Case("spec-huge-matrix", "bad YAML / spec", "matrix of 5,995 variants",
         lambda root: _write(root, HEAD + "matrix: {quantization: [int8, dynamic], steps: [[{technique: prune, "
                             "sparsity: [" + ", ".join(str(i / 1000) for i in range(1, 1000)) + "], epochs: [1, 2, 3]}]]}\n"),
         needle="max_variants"),
    Case("spec-path-name", "bad YAML / spec", "experiment name '../../x'",
         lambda root: _write(root, HEAD.replace("name: x", "name: ../../x")), needle="'..'"),
    Case("spec-not-utf8", "bad YAML / spec", "file is not UTF-8",
         lambda root: _then((root / "e.yaml").write_bytes(b"name: x\ndescription: \xff\xfe\n"), ["run", "e.yaml"]),
         needle="UTF-8"),
    Case("spec-empty-file", "bad YAML / spec", "empty experiment file", lambda root: _write(root, "")),
    Case("spec-missing-file", "bad YAML / spec", "experiment file does not exist", lambda root: ["run", "nope.yaml"]),
    Case("spec-directory", "bad YAML / spec", "experiment path is a directory",
         lambda root: _then((root / "d.yaml").mkdir(), ["run", "d.yaml"]), needle="is a directory"),
    Case("spec-bad-option", "bad YAML / spec", "`--workers x`",
         lambda root: [*_write(root, GOOD), "--workers", "x"], needle="not a valid integer"),
    Case("spec-validate-missing-model", "bad YAML / spec", "`validate` of an experiment whose model file is missing",
         lambda root: _then((root / "e.yaml").write_text(GOOD.replace("digits_cnn", "missing.keras")), ["validate", "e.yaml"]),
         needle="missing.keras"),
]

# ------------------------------------------------------------------------------------------ cases: data


def _npz_case(arrays: dict[str, Any]) -> Callable[[Path], list[str]]:
    def setup(root: Path) -> list[str]:
        np.savez(root / "d.npz", **arrays)
        return _write(root, HEAD.replace("dataset: digits", "dataset: d.npz"))
    return setup


for key, (arrays, msg) in DATA_CASES.items():
    CASES.append(Case(f"data-{key}", "bad data", key.replace("_", " "), _npz_case(arrays), needle=msg[:40]))


def _file_case(make: Callable[[Path], Any]) -> Callable[[Path], list[str]]:
    def setup(root: Path) -> list[str]:
        make(root / "d.npz")
        return _write(root, HEAD.replace("dataset: digits", "dataset: d.npz"))
    return setup


for key, (make, msg) in FILE_CASES.items():
    CASES.append(Case(f"datafile-{key}", "bad data", f"dataset file: {key.replace('_', ' ')}", _file_case(make),
                      needle=msg[:30]))


def _dataset_fn(body: str) -> Callable[[Path], list[str]]:
    def setup(root: Path) -> list[str]:
        (root / "userdata.py").write_text(body)
        return _write(root, HEAD.replace("dataset: digits", "dataset: userdata:load"))
    return setup


CASES += [
    Case("data-function-raises", "bad data", "dataset function raises",
         _dataset_fn("def load():\n    raise RuntimeError('database offline')\n"), needle="database offline",
         env={"PYTHONPATH": "."}),
    Case("data-function-wrong-return", "bad data", "dataset function returns 3 values",
         _dataset_fn("def load():\n    return 1, 2, 3\n"), env={"PYTHONPATH": "."}),
]

# ------------------------------------------------------------------------------------- cases: model files


def _baseline_file(name: str, content: bytes | None) -> Callable[[Path], list[str]]:
    def setup(root: Path) -> list[str]:
        if content is not None:
            (root / name).write_bytes(content)
        return _write(root, GOOD.replace("digits_cnn", name) + "variant_timeout_s: 120\n")
    return setup


CASES += [
    Case("model-missing-keras", "bad model file", "baseline .keras file missing", _baseline_file("m.keras", None),
         needle="m.keras"),
    Case("model-garbage-keras", "bad model file", ".keras file of random bytes",
         _baseline_file("m.keras", os.urandom(2000)), needle="m.keras"),
    Case("model-empty-h5", "bad model file", "empty .h5 file", _baseline_file("m.h5", b""), needle="m.h5"),
    Case("model-zip-not-keras", "bad model file", ".keras that is a zip without a model",
         _baseline_file("m.keras", bytes.fromhex("504b0506") + b"\0" * 18), needle="m.keras"),
    Case("model-tflite-as-baseline", "bad model file", "a .tflite given as the Keras baseline",
         lambda root: _model(root) and _write(root, GOOD.replace("digits_cnn", "m.tflite")), needle="m.tflite"),
    Case("model-unknown-zoo", "bad model file", "unknown zoo model name",
         lambda root: _write(root, GOOD.replace("digits_cnn", "resnet9000")), needle="resnet9000"),
    Case("profile-missing", "bad model file", "`profile` of a missing file", lambda root: ["profile", "nope.tflite"]),
    Case("profile-garbage", "bad model file", "`profile` of random bytes",
         lambda root: _then((root / "g.tflite").write_bytes(os.urandom(500)), ["profile", "g.tflite"])),
    Case("profile-empty", "bad model file", "`profile` of an empty file",
         lambda root: _then((root / "g.tflite").write_bytes(b""), ["profile", "g.tflite"])),
    Case("profile-truncated", "bad model file", "`profile` of a .tflite cut in half",
         lambda root: _then((root / "t.tflite").write_bytes(tiny_tflite()[: len(tiny_tflite()) // 2]),
                            ["profile", "t.tflite", "--min-runs", "5", "--min-seconds", "0"])),
    Case("profile-corrupt-body", "bad model file", "`profile` of a .tflite with its weights overwritten by 0xff",
         lambda root: _then((root / "c.tflite").write_bytes(tiny_tflite()[:200] + b"\xff" * (len(tiny_tflite()) - 400)
                                                            + tiny_tflite()[-200:]),
                            ["profile", "c.tflite", "--min-runs", "5", "--min-seconds", "0"])),
    Case("profile-directory", "bad model file", "`profile` of a directory",
         lambda root: _then((root / "d.tflite").mkdir(), ["profile", "d.tflite"])),
    Case("profile-onnx-on-litert", "bad model file", "`profile` of an .onnx file on LiteRT",
         lambda root: _then((root / "m.onnx").write_bytes(b"\x08\x07" + b"\0" * 30), ["profile", "m.onnx"]), needle="m.onnx"),
]

# --------------------------------------------------------------------------- cases: data that does not fit the model
# A user's .keras holding only its config.json: the fit is checked from the config, before TensorFlow loads anything.


def _fit_case(config: dict[str, Any], arrays: dict[str, Any], command: str = "run") -> Callable[[Path], list[str]]:
    def setup(root: Path) -> list[str]:
        keras_file(root / "m.keras", config)
        rng = np.random.default_rng(0)
        base = {"x_train": rng.uniform(size=(40, 8, 8, 1)), "y_train": np.arange(40) % 10,
                "x_test": rng.uniform(size=(10, 8, 8, 1)), "y_test": np.arange(10) % 10}
        np.savez(root / "d.npz", **{**base, **arrays})
        (root / "e.yaml").write_text("name: fit\nbaseline: {model: m.keras, dataset: d.npz}\n"
                                     "variants: [{name: float32, quantization: float32}]\n")
        return [command, "e.yaml", *(["--no-progress"] if command == "run" else [])]
    return setup


def _refused_earlier(root: Path) -> list[str]:
    """A sweep whose float baseline an earlier sweep found diverged (the record ``ensure_baseline`` leaves)."""
    from workbench.spec import load_experiment
    from workbench.variant.inputs import read_inputs

    (root / "e.yaml").write_text(GOOD)
    bid = read_inputs(load_experiment(root / "e.yaml"), root).plan.baseline_id
    marker = root / ".workbench" / "baselines" / f".refused-{bid[:16]}.txt"
    marker.parent.mkdir(parents=True)
    marker.write_text("dataset 'digits': the float baseline diverged in training (the training loss is nan at epoch "
                      "1); x_train spans 0..1e+30: scale the inputs (e.g. to 0..1) or lower training.learning_rate")
    return ["run", "e.yaml", "--no-progress"]


def _inputs_case(arrays: dict[str, Any], command: str = "validate") -> Callable[[Path], list[str]]:
    """A two-input .keras (``image`` 8x8x1, ``numbers`` 3) and an .npz keyed ``x_<split>_<input>``, overridden."""
    def setup(root: Path) -> list[str]:
        keras_file(root / "m.keras", functional(
            [_input("image", [8, 8, 1]), _input("numbers", [3])],
            [_layer("Flatten", "flat", ["image"]), _layer("Concatenate", "cat", ["flat", "numbers"]),
             _layer("Dense", "o", ["cat"], units=3)], ["o"]))
        rng = np.random.default_rng(0)
        base = {"x_train_image": rng.uniform(size=(40, 8, 8, 1)), "x_train_numbers": rng.normal(size=(40, 3)),
                "y_train": np.arange(40) % 3, "x_test_image": rng.uniform(size=(10, 8, 8, 1)),
                "x_test_numbers": rng.normal(size=(10, 3)), "y_test": np.arange(10) % 3}
        np.savez(root / "d.npz", **{k: v for k, v in {**base, **arrays}.items() if v is not None})
        (root / "e.yaml").write_text("name: fit\nbaseline: {model: m.keras, dataset: d.npz}\n"
                                     "variants: [{name: float32, quantization: float32}]\n")
        return [command, "e.yaml", *(["--no-progress"] if command == "run" else [])]
    return setup


_FLAT = {"x_train": np.zeros((40, 64)), "x_test": np.zeros((10, 64))}
_TOKENS = {"x_train": np.arange(200).reshape(40, 5) % 21, "y_train": np.arange(40) % 3,
           "x_test": np.arange(50).reshape(10, 5) % 20, "y_test": np.arange(10) % 3}
CASES += [
    Case("fit-flattened-samples", "data does not fit the model", "(64,) samples for an (8, 8, 1) .keras: `run`",
         _fit_case(sequential([8, 8, 1], 10), _FLAT), needle="samples have shape (64,) but input"),
    Case("fit-flattened-samples-validate", "data does not fit the model", "the same, `validate`",
         _fit_case(sequential([8, 8, 1], 10), _FLAT, "validate"), needle="samples have shape (64,) but input"),
    Case("fit-label-beyond-outputs", "data does not fit the model", "a label of 1,000,000 for a 10-unit output",
         _fit_case(sequential([8, 8, 1], 10), {"y_train": np.where(np.arange(40) == 7, 1_000_000, np.arange(40) % 10)}),
         needle="label 1000000 at sample 7 but output 'dense' has 10 units"),
    Case("fit-one-hot-width", "data does not fit the model", "one-hot labels of 12 classes for a 10-unit output",
         _fit_case(sequential([8, 8, 1], 10), {"y_train": np.eye(12)[np.arange(40) % 10],
                                               "y_test": np.eye(12)[np.arange(10) % 10]}),
         needle="one-hot with 12 classes but output 'dense' has 10 units"),
    Case("fit-two-inputs", "data does not fit the model", "a two-input model for one array",
         _fit_case(functional([_input("a", [8, 8, 1]), _input("b", [3])], [_layer("Dense", "o", ["a"], units=10)],
                              ["o"]), {}), needle="has 2 inputs (a, b)"),
    Case("fit-token-beyond-vocabulary", "data does not fit the model", "token id 20 for a 20-row Embedding",
         _fit_case(embedding_model(), _TOKENS), needle="token id 20"),
    Case("fit-zoo-stray-label", "data does not fit the model", "a label of 1,000,000 sizing a zoo model",
         _npz_case({**_arrays(), "y_train": np.where(np.arange(20) == 5, 1_000_000, np.arange(20) % 3)}),
         needle="only 4 of the 1,000,001 classes"),
    Case("fit-inputs-misnamed", "data does not fit the model",
         "a two-input .keras, the .npz naming one input 'numbrs': `validate`",
         _inputs_case({"x_train_numbers": None, "x_test_numbers": None, "x_train_numbrs": np.zeros((40, 3)),
                       "x_test_numbrs": np.zeros((10, 3))}),
         needle="no data for input(s) numbers; numbrs name(s) no input of the model"),
    Case("fit-inputs-missing", "data does not fit the model", "a two-input .keras, the .npz giving only 'image': `run`",
         _inputs_case({"x_train_numbers": None, "x_test_numbers": None}, "run"), needle="no data for input(s) numbers"),
    Case("fit-inputs-wrong-shape", "data does not fit the model",
         "a two-input .keras, 'numbers' samples of 5 values for an input of 3: `validate`",
         _inputs_case({"x_train_numbers": np.zeros((40, 5)), "x_test_numbers": np.zeros((10, 5))}),
         needle="x_<split>_numbers samples have shape (5,) but input 'numbers' expects (3,)"),
    Case("fit-inputs-one-array", "data does not fit the model",
         "a two-input .keras, the .npz one x_train/x_test array: `validate`",
         _inputs_case({"x_train_image": None, "x_train_numbers": None, "x_test_image": None, "x_test_numbers": None,
                       "x_train": np.zeros((40, 8, 8, 1)), "x_test": np.zeros((10, 8, 8, 1))}),
         needle="has 2 inputs (image, numbers) but the dataset gives one array per sample"),
    Case("fit-inputs-split-differs", "data does not fit the model",
         "x_test_<input> arrays for fewer inputs than x_train_<input>: `validate`",
         _inputs_case({"x_test_numbers": None}), needle="in x_train_<input> but ['image'] in x_test_<input>"),
    Case("fit-baseline-refused-earlier", "data does not fit the model",
         "a sweep whose float baseline an earlier one found diverged", _refused_earlier,
         needle="the float baseline diverged in training"),
]



def _static_recipe(data: dict[str, Any] | None) -> Callable[[Path], list[str]]:
    """`quantize m.tflite --recipe r.json` with a per-layer recipe that has static int8 layers (it needs
    calibration samples), and ``--data d.npz`` holding ``data`` when given."""
    def setup(root: Path) -> list[str]:
        from workbench.convert.quantizer import layer_recipe, weighted_layers

        layers = weighted_layers(_model(root).read_bytes())
        (root / "r.json").write_text(json.dumps(layer_recipe(dict.fromkeys(layers, "int8"), layers)))
        if data is None:
            return ["quantize", "m.tflite", "--recipe", "r.json"]
        np.savez(root / "d.npz", **data)
        return ["quantize", "m.tflite", "--recipe", "r.json", "--data", "d.npz"]
    return setup


def _nothing_written(root: Path, res: Result) -> tuple[bool, str]:
    ok, note = refused(res, "give --data")
    made = sorted(p.name for p in root.glob("m.mixed-*.tflite"))
    return ok and not made, note or (f"wrote {made}" if made else "")


CASES += [
    Case("quantize-static-recipe-no-data", "bad data", "`quantize --recipe` of a recipe with static int8 layers, "
         "no --data", _static_recipe(None), check=_nothing_written),
    Case("quantize-static-recipe-wrong-shape", "data does not fit the model", "`quantize --recipe --data`: (64,) "
         "calibration samples for an (8, 8, 1) .tflite", _static_recipe(_FLAT),
         needle="takes samples of shape (8, 8, 1), got (64,)"),
]

# ----------------------------------------------------------------------------------- cases: profile --inputs


def _npy(value: Any) -> Callable[[Path], None]:
    return lambda p: np.save(p, value, allow_pickle=isinstance(value, np.ndarray) and value.dtype == object)


def _npz_inputs(make: Callable[[Path], None]) -> Callable[[Path], list[str]]:
    def setup(root: Path) -> list[str]:
        args = _profile(root)
        make(root / "x.npz")
        return [*args, "--inputs", "x.npz"]
    return setup


def _truncated_npz(p: Path) -> None:
    np.savez(p, x_test=np.zeros((4, 8, 8, 1), np.float32))
    p.write_bytes(p.read_bytes()[:100])


CASES += [
    Case("inputs-wrong-shape", "profile --inputs", "samples of 5x5x1 for an 8x8x1 model",
         lambda root: _profile(root, _npy(np.zeros((4, 5, 5, 1), np.float32))), needle="expected (N, 8, 8, 1)"),
    Case("inputs-no-batch-axis", "profile --inputs", "a flat vector of 64 values",
         lambda root: _profile(root, _npy(np.zeros(64, np.float32)))),
    Case("inputs-strings", "profile --inputs", "string-dtype .npy",
         lambda root: _profile(root, _npy(np.array([["a"] * 64] * 2)))),
    Case("inputs-objects", "profile --inputs", ".npy of Python objects (needs pickle)",
         lambda root: _profile(root, _npy(np.array([None, 1], dtype=object))), needle="pickle"),
    Case("inputs-nan", "profile --inputs", "samples holding NaN",
         lambda root: _profile(root, _npy(np.full((2, 8, 8, 1), np.nan, np.float32))), needle="NaN"),
    Case("inputs-empty", "profile --inputs", "zero samples",
         lambda root: _profile(root, _npy(np.zeros((0, 8, 8, 1), np.float32)))),
    Case("inputs-truncated-npz", "profile --inputs", "truncated .npz", _npz_inputs(_truncated_npz)),
    Case("inputs-empty-npz", "profile --inputs", ".npz with no arrays", _npz_inputs(lambda p: np.savez(p))),
    Case("inputs-not-numpy", "profile --inputs", "a text file as inputs",
         lambda root: _profile(root, lambda p: p.write_text("1,2,3\n"))),
]

# ------------------------------------------------------------------------------------ cases: tracking store

CLOSED = {"MLFLOW_TRACKING_URI": f"http://127.0.0.1:{free_port()}"}  # nothing listens there


def _http_404_server() -> str:
    """A loopback HTTP server that is not MLflow (answers 404 to everything), for the life of the test run."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class NotMlflow(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            self.send_error(404)

        do_POST = do_GET  # noqa: N815

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), NotMlflow)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_address[1]}"


CASES += [
    Case("store-closed-port-run", "tracking store down", "`run` with the server's port closed",
         lambda root: _write(root, GOOD), env=CLOSED, needle="not reachable"),
    Case("store-closed-port-search", "tracking store down", "`search` with the server's port closed",
         lambda root: ["search", _write(root, GOOD + "search: {max_accuracy_drop: 1, space: [{quantization: "
                                                     "[int8]}]}\n")[1]], env=CLOSED, needle="not reachable"),
    Case("store-closed-port-report", "tracking store down", "`report` with the server's port closed",
         lambda root: ["report", "ok"], env=CLOSED, needle="not reachable"),
    Case("store-closed-port-profile-log", "tracking store down", "`profile --log-to` with the server's port closed",
         lambda root: [*_profile(root), "--log-to", "p"], env=CLOSED, needle="not reachable"),
    Case("store-closed-port-verify", "tracking store down", "`verify` with the server's port closed",
         lambda root: ["verify", "ok"], env=CLOSED),
    Case("store-not-mlflow", "tracking store down", "`run` against an HTTP server that is not MLflow",
         lambda root: _write(root, GOOD), env={"MLFLOW_TRACKING_URI": "@404"}),
    Case("store-db-is-directory", "tracking store down", "`run` where ./mlflow.db is a directory",
         lambda root: _then((root / "mlflow.db").mkdir(), _write(root, GOOD))),
    # issue 20: every URI checked before any work, in seconds (the HTTP case's budget)
    Case("store-unknown-scheme", "tracking store down", "`MLFLOW_TRACKING_URI=ftp://host/mlflow`",
         lambda root: _write(root, GOOD), env={"MLFLOW_TRACKING_URI": "ftp://host/mlflow"}, needle="unknown scheme 'ftp'",
         timeout=60),
    Case("store-malformed-uri", "tracking store down", "`MLFLOW_TRACKING_URI='not a uri at all'`",
         lambda root: _write(root, GOOD), env={"MLFLOW_TRACKING_URI": "not a uri at all"}, needle="not a URI",
         timeout=60),
    Case("store-file-uri", "tracking store down", "`MLFLOW_TRACKING_URI=file:///tmp/mlruns` (MLflow 3 refuses file stores)",
         lambda root: ["report", "ok"], env={"MLFLOW_TRACKING_URI": "file:///tmp/mlruns"}, needle="file stores",
         timeout=60),
    Case("store-postgres-closed-port", "tracking store down", "`run` against postgresql:// on a closed loopback port",
         lambda root: _write(root, GOOD), env={"MLFLOW_TRACKING_URI": f"postgresql://wb@127.0.0.1:{free_port()}/mlflow"},
         needle="not reachable", timeout=60),
    Case("store-postgres-closed-port-search", "tracking store down", "`search` against postgresql:// on a closed port",
         lambda root: ["search", _write(root, GOOD + "search: {max_accuracy_drop: 1, space: [{quantization: [int8]}]}\n")[1]],
         env={"MLFLOW_TRACKING_URI": f"postgresql://wb@127.0.0.1:{free_port()}/mlflow"}, needle="not reachable",
         timeout=60),
]

# ----------------------------------------------------------------------------------------------- cases: OS

CASES += [
    Case("os-output-disk-full", "disk / OS errors", "`profile -o /dev/full` (the disk is full)",
         lambda root: [*_profile(root), "-o", "/dev/full"], needle="No space left"),
    Case("os-output-no-directory", "disk / OS errors", "`profile -o` into a missing directory",
         lambda root: [*_profile(root), "-o", "no/such/dir/p.json"]),
    Case("os-work-dir-is-file", "disk / OS errors", "`--work-dir` is a regular file",
         lambda root: _then((root / "wd").write_text("x"), [*_write(root, GOOD), "--work-dir", "wd"])),
    Case("os-work-dir-unwritable", "disk / OS errors", "`--work-dir` on a read-only file system (/proc)",
         lambda root: [*_write(root, GOOD), "--work-dir", "/proc/workbench-test"]),
    Case("os-symlink-loop", "disk / OS errors", "experiment file is a symlink loop",
         lambda root: _then(os.symlink("e.yaml", root / "e.yaml"), ["run", "e.yaml"])),
    Case("os-report-out-is-file", "disk / OS errors", "`report --out` is a file",
         lambda root: _then((root / "r").write_text("x"), ["report", "ok", "--out", "r"]), needle="is a file"),
]

# ----------------------------------------------------------------------- cases: special files (issue 20)


def _fifo(root: Path, name: str) -> Path:
    os.mkfifo(root / name)
    return root / name


def _dev_zero(root: Path, name: str) -> Path:
    os.symlink("/dev/zero", root / name)
    return root / name


CASES += [  # a named pipe blocks a read forever, /dev/zero never ends: each must be refused at once
    Case("special-fifo-experiment", "special files", "`mkfifo e.yaml; validate e.yaml`",
         lambda root: _then(_fifo(root, "e.yaml"), ["validate", "e.yaml"]), needle="named pipe", timeout=30),
    Case("special-fifo-base", "special files", "`base: f.yaml`, a named pipe",
         lambda root: _then(_fifo(root, "f.yaml"), _write(root, "base: f.yaml\n" + GOOD)), needle="named pipe",
         timeout=30),
    Case("special-dev-zero-base", "special files", "`base: /dev/zero`",
         lambda root: _write(root, "base: /dev/zero\n" + GOOD), needle="character device", timeout=30),
    Case("special-fifo-inputs", "special files", "`profile --inputs fifo.npy`",
         lambda root: _then(_fifo(root, "fifo.npy"), [*_profile(root), "--inputs", "fifo.npy"]), needle="named pipe",
         timeout=30),
    Case("special-dev-zero-tflite", "special files", "`ln -s /dev/zero z.tflite; profile z.tflite`",
         lambda root: _then(_dev_zero(root, "z.tflite"), ["profile", "z.tflite"]), needle="character device",
         timeout=30),
    Case("special-dev-zero-keras", "special files", "baseline model `z.keras` -> /dev/zero",
         lambda root: _then(_dev_zero(root, "z.keras"), _write(root, GOOD.replace("digits_cnn", "z.keras"))),
         needle="character device", timeout=30),
    Case("special-fifo-dataset", "special files", "dataset `d.npz`, a named pipe",
         lambda root: _then(_fifo(root, "d.npz"), _write(root, GOOD.replace("digits", "d.npz").replace(
             "d.npz_cnn", "digits_cnn"))), needle="named pipe", timeout=30),
]

# -------------------------------------------------------------------- cases: absurd values (issue 20)

ABSURD = {  # each refused by `validate` (the sweep would fail later, per variant, or silently)
    "epochs-true": ("baseline: {model: digits_cnn, dataset: digits, training: {epochs: true}}", "boolean"),
    "threads-256": ("target: {threads: 256}", "usable CPU"),
    "cpu-pin-999": ("target: {cpu_pin: [999]}", "CPU 999"),
    "seed-2-80": ("baseline: {model: digits_cnn, dataset: digits, training: {seed: 1208925819614629174706176}}",
                  "seed"),
    "seed-negative": ("baseline: {model: digits_cnn, dataset: digits, training: {seed: -5}}", "seed"),
    "warmup-1e12": ("target: {warmup_runs: 1000000000000}", "over the timeout"),
    "clients-256": ("target: {clients: 256, load_seconds: 1}", "clients"),
    "model-args-typo": ("baseline: {model: digits_cnn, dataset: digits, model_args: {widht: 0.5}}", "widht"),
}
for key, (line, needle) in ABSURD.items():
    text = GOOD.replace("baseline: {model: digits_cnn, dataset: digits}\n", "") + line + "\n"
    if not line.startswith("baseline"):
        text = GOOD + line + "\n"
    CASES.append(Case(f"absurd-{key}", "absurd values", f"`{line}`",
                      lambda root, text=text: _then((root / "e.yaml").write_text(text), ["validate", "e.yaml"]),
                      needle=needle, timeout=60))


def _remote(line: str, recorded: list[int] | None = None) -> Callable[[Path], list[str]]:
    """``validate`` of a remote target in a project (an ``experiments/`` folder: the project root is here), with
    what an earlier profile of the device recorded (``workbench.devices``), if anything."""
    def setup(root: Path) -> list[str]:
        (root / "experiments").mkdir()
        if recorded is not None:
            from workbench.devices import record_device

            record_device("pi@device", 22, recorded, "ARM Cortex-A72", root)
        np.savez(root / "d.npz", **_arrays())  # a tiny dataset: `validate` loads it when nothing is refused
        (root / "e.yaml").write_text(GOOD.replace("dataset: digits", "dataset: d.npz") + line + "\n")
        return ["validate", "e.yaml"]
    return setup


def _unknown_said(root: Path, res: Result) -> tuple[bool, str]:
    """Nothing to refuse (the device's CPUs are unknown): `validate` passes and says what it did not check."""
    ok = (res.exit == 0 and "remote CPUs unknown, not checked" in res.stdout and not res.traceback
          and not res.runs_created)
    note = next((ln.strip() for ln in res.stdout.splitlines() if "remote CPUs unknown" in ln), "no note")
    return ok, f"exit {res.exit}; stdout: {note}"


def _big_activations(root: Path) -> list[str]:
    """A user's model whose weights are small and whose layers' outputs are not (``workbench.model_shapes``)."""
    conv = {"kernel_size": [3, 3], "strides": [1, 1], "padding": "same", "dilation_rate": [1, 1],
            "data_format": "channels_last"}
    keras_file(root / "m.keras", {"class_name": "Sequential", "config": {"name": "s", "layers": [
        _input("in", [512, 512, 3]), _layer("Conv2D", "c1", filters=64, **conv), _layer("Conv2D", "c2", filters=64, **conv),
        _layer("GlobalAveragePooling2D", "g"), _layer("Dense", "o", units=10)]}})
    (root / "e.yaml").write_text("name: acts\nbaseline: {model: m.keras, dataset: synthetic, dataset_args: {shape: "
                                 "[512, 512, 3], classes: 10, train: 8, test: 4}, training: {epochs: 1}}\n"
                                 "variants: [{name: float32, quantization: float32}]\n")
    return ["validate", "e.yaml"]


CASES += [  # a remote target's threads / pins / clients against the device's CPUs, when they are known
    Case("absurd-remote-threads-declared", "absurd values", "`target: {host: pi@device, cpus: 4, threads: 8}`",
         _remote("target: {host: pi@device, cpus: 4, threads: 8}"),
         needle="8 threads on pi@device (declared by target.cpus: 4)", timeout=60),
    Case("absurd-remote-cpu-pin-recorded", "absurd values",
         "`target: {host: pi@device, cpu_pin: [5]}`, the device's last profile found CPUs 0-1",
         _remote("target: {host: pi@device, cpu_pin: [5]}", [0, 1]), needle="CPU 5 is not one of the usable CPUs of "
         "pi@device (as its profile of", timeout=60),
    Case("absurd-remote-cpus-unknown", "absurd values",
         "`target: {host: pi@device, threads: 64}`, nothing known about the device: `validate` says so",
         _remote("target: {host: pi@device, threads: 64}"), check=_unknown_said, timeout=60),
    Case("absurd-cpus-without-host", "absurd values", "`target: {cpus: 4}` (a local target)",
         _remote("target: {cpus: 4}"), needle="declares a remote device's CPUs", timeout=60),
]

CASES += [
    Case("absurd-no-variants", "absurd values", "`variants: []` (the baseline alone)",
         lambda root: _write(root, GOOD.replace("[{name: float32, quantization: float32}]", "[]")),
         needle="no variants", timeout=60),
    Case("absurd-since-negative", "absurd values", "`run --since -5h`",
         lambda root: [*_write(root, GOOD), "--since", "-5h"], needle="positive duration", timeout=60),
    Case("absurd-profile-threads", "absurd values", "`profile --threads 256`",
         lambda root: [*_profile(root), "--threads", "256"], needle="--threads", timeout=60),
    Case("size-keras-config-1.6MB", "bad model file", "a .keras whose config.json is 1.6 MB",
         lambda root: _then(_keras(root / "m.keras", json.dumps({**CONFIG, "pad": "x" * 1_600_000}).encode()),
                            ["validate", _write(root, GOOD.replace("digits_cnn", "m.keras"))[1]]),
         needle="config.json declares", timeout=60),
    Case("size-keras-member-4GiB", "bad model file", "a .keras member declaring 3.75 GiB",
         lambda root: _then(_declare(_keras(root / "m.keras", json.dumps(CONFIG).encode()), "model.weights.h5",
                                     0xF0000000), ["validate", _write(root, GOOD.replace("digits_cnn", "m.keras"))[1]]),
         needle="GiB unpacked", timeout=60),
    Case("size-digits-cnn-512x512x3", "absurd values", "the digits CNN on 512x512x3 images (a 268 M-parameter dense layer)",
         lambda root: _write(root, GOOD.replace("dataset: digits", "dataset: synthetic, dataset_args: {shape: [512, 512, "
                                                "3], classes: 10, train: 8, test: 4}")), needle="max_model_mb",
         timeout=90),
    Case("size-keras-activations-512x512x3", "absurd values",
         "a .keras of two 64-filter convolutions on 512x512x3 images, retrained: ~40 k parameters, 33.6 M activation "
         "values per sample", _big_activations, needle="33.6 M activation values", timeout=90),
    Case("absurd-prune-begin-step-1e9", "absurd values", "`validate`: `prune` with `begin_step: 1000000000` (past its "
         "fine-tuning)",
         lambda root: ["validate", _write(root, GOOD.replace("[{name: float32, quantization: float32}]", "[{name: p, "
                                                             "steps: [{technique: prune, sparsity: 0.8, begin_step: "
                                                             "1000000000}]}]"))[1]],
         needle="begin_step", timeout=90),
    Case("absurd-cjk-name", "absurd values", "a 200-character CJK experiment name (600 bytes; file names hold 255)",
         lambda root: _then((root / "e.yaml").write_text(GOOD.replace("name: ok", "name: " + "实" * 200)),
                            ["validate", "e.yaml"]), needle="600 bytes", timeout=60),
    Case("absurd-verify-missing-work-dir", "absurd values", "`verify --work-dir nope` (no such folder)",
         lambda root: ["verify", "--work-dir", "nope"], needle="no such folder", timeout=60),
]

# ------------------------------------------------------------------------------------------- cases: signals


def _signal_act(sig: signal.Signals) -> Callable[[Path, list[str], dict[str, str]], Result]:
    def act(root: Path, args: list[str], env: dict[str, str]) -> Result:
        pid_dir = root / "pids"
        pid_dir.mkdir()
        proc = subprocess.Popen(_command(args, True), cwd=root, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True, env=_env({"STUB_PID_DIR": str(pid_dir), "STUB_SLEEP_S": "120"}),
                                stdin=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + 120
        while len(list(pid_dir.glob("*.pids"))) < 2 and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.2)
        proc.send_signal(sig)
        try:
            out, err = proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            from workbench.run.task import kill_tree

            kill_tree(proc.pid)
            out, err = proc.communicate()
        return Result(proc.returncode, err, out, 0, 0.0)
    return act


def _signal_check(sig: signal.Signals) -> Callable[[Path, Result], tuple[bool, str]]:
    def check(root: Path, res: Result) -> tuple[bool, str]:
        import psutil

        problems = []
        if res.exit != 128 + sig.value:
            problems.append(f"exit {res.exit}")
        lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
        if len(lines) != 1 or f"interrupted by {sig.name}" not in lines[0]:
            problems.append(f"{len(lines)} stderr lines")
        if res.traceback:
            problems.append("traceback")
        runs = _runs(root, "two")
        bad = [(r.name, r.status, r.tags.get("workbench.failure")) for r in runs
               if r.status != "KILLED" or r.tags.get("workbench.failure") != f"interrupted by {sig.name}"]
        if bad or len(runs) < 3:
            problems.append(f"runs not settled with the reason: {bad or len(runs)}")
        pids = [int(p) for f in (root / "pids").glob("*.pids") for p in f.read_text().split()]
        alive = [p for p in pids if psutil.pid_exists(p) and psutil.Process(p).status() != psutil.STATUS_ZOMBIE]
        if alive or len(pids) < 4:
            problems.append(f"processes left: {alive or pids}")
        return not problems, "; ".join(problems) or f"{len(runs)} runs KILLED, {len(pids)} processes ended"
    return check


for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
    CASES.append(Case(f"signal-{sig.name}", "signals", f"{sig.name} while two variants run",
                      lambda root: _write(root, TWO) + ["--workers", "2"], driver=True, act=_signal_act(sig),
                      check=_signal_check(sig)))


def _sigkill_act(root: Path, args: list[str], env: dict[str, str]) -> Result:
    pid_dir = root / "pids"
    pid_dir.mkdir()
    proc = subprocess.Popen(_command(args, True), cwd=root, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env=_env({"STUB_PID_DIR": str(pid_dir), "STUB_SLEEP_S": "120"}), start_new_session=True)
    deadline = time.monotonic() + 120
    while len(list(pid_dir.glob("*.pids"))) < 2 and time.monotonic() < deadline:
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)  # the supervisor only: its notebooks live in their own sessions
    proc.wait()
    from workbench.run.task import kill_tree

    for f in pid_dir.glob("*.pids"):
        kill_tree(int(f.read_text().split()[0]))
    again = subprocess.run(_command(args, True), cwd=root, capture_output=True, text=True, timeout=180,
                           env=_env({}), stdin=subprocess.DEVNULL)
    return Result(again.returncode, again.stderr, again.stdout, 0, 0.0)


def _sigkill_check(root: Path, res: Result) -> tuple[bool, str]:
    runs = _runs(root, "two")
    variants = [r for r in runs if r.tags.get("workbench.kind") == "variant"]
    finished = [r.tags["workbench.variant_id"] for r in variants if r.status == "FINISHED"]
    killed = [r for r in runs if r.status == "KILLED"]
    ok = (res.exit == 0 and len(finished) == len(set(finished)) == 3 and len(killed) >= 3
          and all("its sweep is gone" in r.tags.get("workbench.failure", "") for r in killed)
          and not [r for r in runs if r.status == "RUNNING"] and not res.traceback)
    return ok, f"exit {res.exit}; {len(finished)} FINISHED once each, {len(killed)} settled KILLED on re-run"


CASES.append(Case("signal-SIGKILL-then-rerun", "signals", "SIGKILL of the sweep, then the same command again",
                  lambda root: _write(root, TWO) + ["--workers", "2"], driver=True, act=_sigkill_act,
                  check=_sigkill_check))

# ------------------------------------------------------------------------------------------ cases: tampering


def _logged_variant(root: Path) -> tuple[Any, str, Path]:
    """A FINISHED sweep variant run with a .tflite artifact and the SHA-256s a sweep records."""
    from workbench import tracking

    model = _model(root)
    tr = tracking.Tracker(root=root)
    exp = tr.experiment_id("ok")
    rid = tr.start_run(exp, "float32", {"workbench.kind": "variant", "workbench.variant_id": "f" * 64,
                                         "workbench.variant": "float32", "workbench.origin": "sweep"})
    tr.log_artifact(rid, model, "model")
    digest = hashlib.sha256(model.read_bytes()).hexdigest()
    tr.set_tags(rid, {getattr(tracking, "TAG_MODEL_SHA256", "workbench.model_sha256"): digest,
                      getattr(tracking, "TAG_ARTIFACTS_SHA256", "workbench.artifacts_sha256"):
                          json.dumps({"model/m.tflite": digest})})
    tr.log(rid, metrics={"accuracy": 0.9})
    tr.end_run(rid)
    stored = next((root / "mlartifacts").rglob("m.tflite"))
    return tr, rid, stored


def _tamper(how: str) -> Callable[[Path], list[str]]:
    def setup(root: Path) -> list[str]:
        _, _, stored = _logged_variant(root)
        if how == "overwrite":
            data = bytearray(stored.read_bytes())
            data[len(data) // 3: len(data) // 2] = b"\x00" * (len(data) // 2 - len(data) // 3)
            stored.write_bytes(bytes(data))
        else:
            stored.unlink()
        return ["verify", "ok"]
    return setup


def _verify_check(root: Path, res: Result) -> tuple[bool, str]:
    out = (res.stdout + res.stderr).lower()
    ok = res.exit not in (0, None) and not res.traceback and "m.tflite" in out
    return ok, f"exit {res.exit}"


CASES += [
    Case("tamper-artifact-overwritten", "tampering", "a logged .tflite's bytes overwritten; `verify`",
         _tamper("overwrite"), check=_verify_check),
    Case("tamper-artifact-deleted", "tampering", "a logged .tflite deleted from the store; `verify`",
         _tamper("delete"), check=_verify_check),
]

# ---------------------------------------------------------------------------------------- cases: concurrency


def _plan_ids(root: Path, text: str) -> dict[str, str]:
    from workbench.run.sweep import plan_experiment

    (root / "e.yaml").write_text(text)
    return {p.name: p.id for p in plan_experiment(root / "e.yaml", root).variants}


def _claims(root: Path, ids: dict[str, str], lease: Any, status: str = "RUNNING") -> list[str]:
    from workbench import tracking

    tr = tracking.Tracker(root=root)
    exp = tr.experiment_id("two")
    out = []
    for name, vid in ids.items():
        tags = {"workbench.kind": "variant", "workbench.variant_id": vid, "workbench.variant": name,
                "workbench.origin": "sweep", "workbench.sweep_id": "other", **(lease.tags() if lease else {})}
        rid = tr.start_run(exp, name, tags)
        if status == "FINISHED":
            tr.log(rid, metrics={"accuracy": 0.9})
            tr.end_run(rid)
        out.append(rid)
    return out


def _live_elsewhere(root: Path) -> list[str]:
    from workbench.tracking import Lease

    ids = _plan_ids(root, TWO)
    _claims(root, ids, Lease.mine(ttl_s=600))  # this test process: alive, lease valid
    return ["run", "e.yaml", "--no-progress"]


def _live_check(root: Path, res: Result) -> tuple[bool, str]:
    runs = _runs(root, "two")
    variants = [r for r in runs if r.tags.get("workbench.kind") == "variant"]
    ok = (res.exit == 0 and res.stdout.count("ELSEWHERE") >= 3 and len(variants) == 3
          and all(r.status == "RUNNING" for r in variants) and not res.traceback)
    return ok, f"exit {res.exit}; the other sweep's {len(variants)} live runs untouched, nothing run twice"


def _stale_and_foreign(root: Path) -> list[str]:
    import dataclasses

    from workbench.tracking import Lease

    ids = _plan_ids(root, TWO)
    _claims(root, ids, None, "FINISHED")  # everything measured already
    _claims(root, {"float32": ids["float32"]}, dataclasses.replace(Lease.mine(), pid=2**22 + 17))  # dead owner
    _claims(root, {"explorer": "e" * 64}, None)  # an explorer run: RUNNING, no lease
    return ["run", "e.yaml", "--no-progress"]


def _stale_check(root: Path, res: Result) -> tuple[bool, str]:
    runs = {r.name: r for r in _runs(root, "two") if r.status in ("RUNNING", "KILLED")}
    statuses = {name: r.status for name, r in runs.items()}
    ok = res.exit == 0 and statuses == {"float32": "KILLED", "explorer": "RUNNING"} and not res.traceback
    return ok, f"exit {res.exit}; {statuses}"


def _lock_act(root: Path, args: list[str], env: dict[str, str]) -> Result:
    lock_dir = root / ".workbench" / "locks"
    lock_dir.mkdir(parents=True)
    with open(lock_dir / (hashlib.sha256(b"ok").hexdigest()[:16] + ".lock"), "a+") as f:
        fcntl.flock(f, fcntl.LOCK_EX)  # another sweep of 'ok' in this work dir
        proc = subprocess.run(_command(args, False), cwd=root, capture_output=True, text=True, timeout=120,
                              env=_env(env), stdin=subprocess.DEVNULL)
    return Result(proc.returncode, proc.stderr, proc.stdout, 0, 0.0)


def _two_sweeps_act(root: Path, args: list[str], env: dict[str, str]) -> Result:
    procs = [subprocess.Popen(_command([*args, "--work-dir", f"wd{k}"], True), cwd=root, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, env=_env({"STUB_SLEEP_S": "3"}),
                              stdin=subprocess.DEVNULL) for k in (1, 2)]
    outs = [p.communicate(timeout=180) for p in procs]
    codes = [p.returncode for p in procs]
    return Result(max(codes), "".join(o[1] for o in outs), "".join(o[0] for o in outs), 0, 0.0, note=f"exits {codes}")


def _two_sweeps_check(root: Path, res: Result) -> tuple[bool, str]:
    runs = _runs(root, "two")
    variants = [r for r in runs if r.tags.get("workbench.kind") == "variant"]
    finished = [r.tags["workbench.variant_id"] for r in variants if r.status == "FINISHED"]
    other = [r.status for r in variants if r.status != "FINISHED"]
    ok = res.exit == 0 and len(finished) == len(set(finished)) == 3 and not other and not res.traceback
    return ok, f"{res.note}; {len(finished)} FINISHED ({len(set(finished))} ids), others {other}"


CASES += [
    Case("concurrent-same-work-dir", "concurrency", "a second sweep in the same work dir", lambda root: _write(root, GOOD),
         act=_lock_act, needle="another sweep"),
    Case("concurrent-live-claims", "concurrency", "every variant claimed by a live sweep elsewhere",
         _live_elsewhere, check=_live_check, driver=True),
    Case("concurrent-stale-and-foreign", "concurrency", "a dead sweep's run and an explorer run left RUNNING",
         _stale_and_foreign, check=_stale_check, driver=True),  # the stand-in notebook re-runs float32: no TensorFlow
    Case("concurrent-two-sweeps", "concurrency", "two sweeps at once from two work dirs",
         lambda root: _write(root, TWO) + ["--workers", "2"], act=_two_sweeps_act, check=_two_sweeps_check),
]

# --------------------------------------------------------------------------------------------- running them

_NOT_MLFLOW: list[str] = []


def run_all(base: Path, workers: int = 2, log: Callable[[str], None] | None = None) -> dict[str, Result]:
    if not _NOT_MLFLOW:
        _NOT_MLFLOW.append(_http_404_server())
    for case in CASES:
        if case.env.get("MLFLOW_TRACKING_URI") == "@404":
            case.env = {"MLFLOW_TRACKING_URI": _NOT_MLFLOW[0]}
    tiny_tflite()
    heavy = [c for c in CASES if c.act is not None or c.driver]
    light = [c for c in CASES if c not in heavy]
    results: dict[str, Result] = {}

    def one(case: Case) -> Result:
        res = run_case(case, base / case.id)
        if log is not None:
            log(f"{case.id}: {res.seconds:.1f}s exit {res.exit} handled {res.handled} {res.note}")
        return res

    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = {c.id: pool.submit(one, c) for c in light}
        for c in heavy:  # one at a time: they time processes and signals
            results[c.id] = one(c)
        for cid, fut in futures.items():
            results[cid] = fut.result()
    return results


def rows(results: dict[str, Result], base: Path) -> list[Row]:
    """The table's own cases as rows of the fault table (tests/e2e/fault_rows.py), in their order here."""
    out = []
    for i, c in enumerate(CASES):
        r = results[c.id]
        row = Row(c.id, c.cls, c.what, exit=r.exit, runs_created=r.runs_created, handled=r.handled,
                  seconds=r.seconds, note=r.note, order=i)
        row.output(r.stderr, r.stdout, base / c.id)
        out.append(row)
    return out


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Result]:
    base = tmp_path_factory.mktemp("faults")
    res = run_all(base)
    for row in rows(res, base):  # joined with the rows other files record into fault-cases.md at the session's end
        record(tmp_path_factory.getbasetemp(), row)
    return res


def test_the_table_covers_every_class_with_enough_cases() -> None:
    classes = {c.cls for c in CASES}
    assert len(CASES) >= 60 and len({c.id for c in CASES}) == len(CASES)
    assert classes == {"bad YAML / spec", "bad data", "bad model file", "data does not fit the model",
                       "profile --inputs", "tracking store down", "disk / OS errors", "signals", "tampering",
                       "concurrency", "special files",
                       "absurd values"}


@pytest.mark.parametrize("case_id", [c.id for c in CASES if not c.gap])
def test_fault_case_is_handled(results: dict[str, Result], case_id: str) -> None:
    r = results[case_id]
    assert r.handled, f"{case_id}: exit {r.exit}, {r.note}; stderr: {r.stderr[-1500:]}"


def test_correct_inputs_are_used_not_random(tmp_path: Path) -> None:
    """The control for the --inputs cases: samples that fit are what the runner feeds."""
    args = _profile(tmp_path, _npy(np.random.default_rng(0).random((6, 8, 8, 1), np.float32)), "--json")
    proc = subprocess.run([PY, "-m", "workbench.cli", *args], cwd=tmp_path, capture_output=True, text=True,
                          timeout=120, env=_env({}))
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["input_source_used"] == "test"


if __name__ == "__main__":
    import shutil
    import tempfile

    # the table's cases and those recorded by other files (fault_rows.ELSEWHERE), in one session
    others = sorted({str(REPO / node) for node in ELSEWHERE.values()})
    with tempfile.TemporaryDirectory(prefix="wb-faults-") as tmp:
        code = pytest.main([__file__, *others, "-q", "-p", "no:cacheprovider", f"--basetemp={tmp}/t"])
        made = Path(tmp) / "t" / DOC_NAME
        if made.exists():
            shutil.copy(made, DOC)
            print(f"wrote {DOC} ({'all tests passed' if code == 0 else f'pytest exit {code}'})")
    sys.exit(int(code))
