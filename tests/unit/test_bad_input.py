"""Bad input is refused early, in one line: data (DataError), experiment YAML and specs (SpecError), and the
CLI (exit status 2, one ``error:`` line, no traceback). No TensorFlow: every case runs in milliseconds."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from workbench.data import _finish, load_dataset
from workbench.errors import DataError, SpecError
from workbench.spec import load_experiment, parse_experiment
from workbench.spec.matrix import count_matrix, expand_matrix

WORKBENCH = Path(sys.executable).with_name("workbench")
GOOD = {"name": "x", "baseline": {"model": "digits_cnn", "dataset": "digits"},
        "variants": [{"name": "a", "quantization": "int8"}]}
HEAD = "name: x\nbaseline: {model: digits_cnn, dataset: digits}\nvariants: [{name: a}]\n"

Arrays = dict[str, Any]


def _arrays() -> Arrays:
    """A valid tiny dataset: 20 train / 6 test samples of 4x4x1, three classes in both splits."""
    rng = np.random.default_rng(0)
    return {"x_train": rng.random((20, 4, 4, 1)), "y_train": np.arange(20) % 3,
            "x_test": rng.random((6, 4, 4, 1)), "y_test": np.arange(6) % 3}


def _with(**changes: Callable[[Arrays], Any]) -> Arrays:
    a = _arrays()
    for key, change in changes.items():
        a[key] = change(a)
    return a


def _set(key: str, index: Any, value: Any, dtype: Any = None) -> Callable[[Arrays], Any]:
    def change(a: Arrays) -> Any:
        out = a[key].astype(dtype or a[key].dtype, copy=True)
        out[index] = value
        return out
    return change


def _one_line(exc: pytest.ExceptionInfo[Exception]) -> str:
    msg = str(exc.value)
    assert "\n" not in msg and msg, "errors are one non-empty line"
    return msg


# ---------------------------------------------------------------- data: the arrays themselves

DATA_CASES = {
    "nan_in_x_test": (_with(x_test=_set("x_test", (3, 1, 2, 0), np.nan)), "x_test has 1 NaN value (first at sample 3)"),
    "inf_in_x_train": (_with(x_train=_set("x_train", ([5, 7], 0, 0, 0), np.inf)),
                       "x_train has 2 Inf values (first at sample 5)"),
    "nan_and_inf": (_with(x_train=_set("x_train", ([9, 9, 12], [0, 1, 0], [0, 1, 0], 0), [np.nan, -np.inf, np.inf])),
                    "x_train has 1 NaN value and 2 Inf values (first at sample 9)"),
    "beyond_float32": (_with(x_train=_set("x_train", (2, 0, 0, 0), 1e39)), "x_train has 1 Inf value (first at sample 2)"),
    "single_class": (_with(y_train=lambda a: np.zeros(20, int), y_test=lambda a: np.zeros(6, int)),
                     "y_train has a single class (label 0 on all 20 samples)"),
    "negative_label": (_with(y_train=_set("y_train", 4, -1)), "y_train has the label -1 at sample 4"),
    "test_label_unseen": (_with(y_test=_set("y_test", 2, 7)),
                          "y_test has the label 7 at sample 2, a class never seen in y_train (classes 0..2)"),
    "one_hot_widths_differ": (_with(y_train=lambda a: np.eye(3)[a["y_train"]], y_test=lambda a: np.eye(5)[a["y_test"]]),
                              "y_train is one-hot with 3 columns but y_test with 5"),
    "empty_test_split": (_with(x_test=lambda a: a["x_test"][:0], y_test=lambda a: a["y_test"][:0]),
                         "x_test is empty (0 samples)"),
    "empty_samples": (_with(x_train=lambda a: np.zeros((20, 0))), "x_train has empty samples (shape (20, 0))"),
    "length_mismatch": (_with(y_train=lambda a: a["y_train"][:19]), "x_train has 20 samples but y_train has 19 labels"),
    "string_inputs": (_with(x_train=lambda a: a["x_train"].astype(str)), "x_train has dtype <U32 (strings)"),
    "complex_inputs": (_with(x_test=lambda a: a["x_test"] + 1j), "x_test has dtype complex128 (complex numbers)"),
    "string_labels": (_with(y_test=lambda a: np.array(["cat"] * 6)), "y_test has dtype <U3 (strings)"),
    "fractional_label": (_with(y_train=_set("y_train", 5, 0.5, float)), "non-integer label 0.5 at sample 5"),
    "nan_label": (_with(y_train=_set("y_train", 8, np.nan, float)), "y_train has 1 NaN value (first at sample 8)"),
    "scalar_samples": (_with(x_train=lambda a: np.zeros(20), x_test=lambda a: np.zeros(6)), "one number per sample"),
    "labels_3d": (_with(y_train=lambda a: np.zeros((20, 2, 2))), "must be class indices (N,) or one-hot (N, C)"),
    "x_shapes_differ": (_with(x_test=lambda a: np.zeros((6, 5, 5, 1))), "x_train samples are (4, 4, 1)"),
    "multi_hot_rows": (_with(y_train=lambda a: np.eye(3)[a["y_train"]] + np.eye(3)[(a["y_train"] + 1) % 3] * (
        np.arange(20) == 6)[:, None]), "y_train row 6 is not one-hot (2 ones)"),
    "soft_label_rows": (_with(y_test=lambda a: np.full((6, 3), 1 / 3)), "y_test row 0 is not one-hot (the value 0.33"),
}


@pytest.mark.parametrize("arrays, message", DATA_CASES.values(), ids=DATA_CASES.keys())
def test_bad_arrays_in_an_npz(tmp_path: Path, arrays: Arrays, message: str) -> None:
    np.savez(tmp_path / "d.npz", **arrays)
    with pytest.raises(DataError) as info:
        load_dataset("d.npz", root=tmp_path)
    msg = _one_line(info)
    assert msg.startswith("dataset 'd.npz': ")
    assert message in msg


# ---------------------------------------------------------------- data: files and functions


def _truncated(p: Path) -> None:
    np.savez(p, **_arrays())
    p.write_bytes(p.read_bytes()[: p.stat().st_size // 2])


def _corrupt_middle(p: Path) -> None:
    np.savez_compressed(p, **_arrays())
    data = bytearray(p.read_bytes())
    data[200:400] = b"\xff" * 200
    p.write_bytes(bytes(data))


FILE_CASES: dict[str, tuple[Callable[[Path], Any], str]] = {
    "truncated": (_truncated, "is not a readable .npz file (BadZipFile"),
    "corrupt_compressed_member": (_corrupt_middle, "is not a readable .npz file ("),
    "garbage": (lambda p: p.write_bytes(b"\x00garbage" * 10), "it is not a zip archive"),
    "empty_file": (lambda p: p.write_bytes(b""), "it is not a zip archive"),
    "npy_not_npz": (lambda p: np.save(p.open("wb"), np.zeros(3)), "it holds a single .npy array"),
    "missing_array": (lambda p: np.savez(p, x_train=np.zeros((2, 2))), "missing array(s) ['y_train', 'x_test', 'y_test']"),
    "pickled_objects": (lambda p: np.savez(p, **{k: np.empty(2, dtype=object) for k in _arrays()}), "pickled objects"),
    "absent": (lambda p: None, "does not exist"),
}


@pytest.mark.parametrize("make, message", FILE_CASES.values(), ids=FILE_CASES.keys())
def test_unreadable_npz_files(tmp_path: Path, make: Callable[[Path], Any], message: str) -> None:
    make(tmp_path / "d.npz")
    with pytest.raises(DataError) as info:
        load_dataset("d.npz", root=tmp_path)
    msg = _one_line(info)
    assert msg.startswith("dataset 'd.npz': ") and message in msg


DATASET_MODULE = '''
import numpy as np

def boom(**kwargs):
    raise ValueError("no data here,\\nsecond line of the message")

def ragged():
    return [[1, 2], [3]], [0, 1], [[1, 2]], [0]

def objects():
    x = np.empty((4, 2), dtype=object)
    return x, [0, 1, 0, 1], x, [0, 1, 0, 1]

def three():
    return 1, 2, 3

def partial_dict():
    return {"x_train": 1}

not_a_function = 3
'''


@pytest.mark.parametrize("ref, message", [
    ("bad_input_data:boom", "dataset 'bad_input_data:boom' raised ValueError: no data here, second line of the message"),
    ("bad_input_data:ragged", "x_train is not a regular array"),
    ("bad_input_data:objects", "x_train has dtype object (Python objects)"),
    ("bad_input_data:three", "returned tuple; it must return (x_train, y_train, x_test, y_test)"),
    ("bad_input_data:partial_dict", "the returned dict lacks ['y_train', 'x_test', 'y_test']"),
    ("bad_input_data:not_a_function", "not_a_function is a int, not a function"),
    ("bad_input_data:missing", "cannot import"),
    ("bad_input_broken:anything", "importing bad_input_broken raised ZeroDivisionError"),
    ("no_such_module_xyz:fn", "cannot import"),
])
def test_dataset_functions_that_fail(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, ref: str, message: str) -> None:
    (tmp_path / "bad_input_data.py").write_text(DATASET_MODULE)
    (tmp_path / "bad_input_broken.py").write_text("1 / 0\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    for name in ("bad_input_data", "bad_input_broken"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    with pytest.raises(DataError) as info:
        load_dataset(ref)
    assert message in _one_line(info)


@pytest.mark.parametrize("name, args, message", [
    ("synthetic", {"shape": "abc"}, "dataset 'synthetic': bad dataset_args"),
    ("synthetic", {"colour": 1}, "unexpected keyword argument 'colour'"),
    ("synthetic", {"classes": 1}, "y_train has a single class"),
    ("imagenet", {}, "unknown dataset 'imagenet'"),
])
def test_builtin_datasets_with_bad_args(name: str, args: dict[str, Any], message: str) -> None:
    with pytest.raises(DataError) as info:
        load_dataset(name, args)
    assert message in _one_line(info)


@pytest.mark.parametrize("form, expected", [
    ("int", "b480c4c12fe7c067e3bea29252f7bbb94b416a1f75018057a84f5e69dd2b5f26"),
    ("onehot", "b480c4c12fe7c067e3bea29252f7bbb94b416a1f75018057a84f5e69dd2b5f26"),
    ("column", "b480c4c12fe7c067e3bea29252f7bbb94b416a1f75018057a84f5e69dd2b5f26"),
    ("uint8", "23cd9d10f03fe0d8d2e0378e80b3400d6b8dcf69302ec301399acd30a2988879"),
])
def test_valid_data_keeps_its_fingerprint(form: str, expected: str) -> None:
    """Fingerprints computed before the checks existed: variant ids of valid data must not change."""
    x = np.arange(6 * 4, dtype=np.float64).reshape(6, 2, 2, 1) / 7.0
    y = np.array([0, 1, 2, 0, 1, 2])
    arrays = {"int": (x, y, x[:3], y[:3]),
              "onehot": (x, np.eye(3)[y], x[:3], np.eye(3)[y[:3]]),
              "column": (x.astype(np.float32), y[:, None].astype(np.float32), x[:3], y[:3, None]),
              "uint8": ((x * 30).astype(np.uint8), y.astype(np.uint8), (x[:3] * 30).astype(np.uint8),
                        y[:3].astype(np.int32))}[form]
    assert _finish("t", *arrays).fingerprint == expected


# ---------------------------------------------------------------- YAML


def _billion_laughs(levels: int = 9) -> str:
    lines = ['  model_args:', '    l0: &l0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    lines += [f"    l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 10)}]" for i in range(1, levels + 1)]
    return "name: x\nvariants: [{name: a}]\nbaseline:\n  model: digits_cnn\n  dataset: digits\n" + "\n".join(lines) + "\n"


YAML_CASES = {
    "duplicate_top_level_key": (HEAD + "name: y\n", "line 4, column 1: duplicate key 'name' (first on line 1)"),
    "duplicate_nested_key": ("name: x\nvariants: [{name: a}]\nbaseline:\n  model: digits_cnn\n  dataset: digits\n"
                             "  model: mobilenet_v2\n", "line 6, column 3: duplicate key 'model' (first on line 4)"),
    "duplicate_flow_key": (HEAD + "target: {threads: 1, threads: 2}\n", "duplicate key 'threads'"),
    "duplicate_bool_spelling": (HEAD + "target: {xnnpack: true}\nbudgets: {yes: 1, true: 2}\n", "duplicate key 'true'"),
    "alias_bomb": (_billion_laughs(), "line 11, column 9: aliases expand this value to more than 100,000 values"),
    "recursive_alias": (HEAD.replace("variants: [{name: a}]", "variants: &v [{name: a}, *v]"), "recursive alias"),
    "deep_nesting": (HEAD + "description: " + "[" * 60 + "]" * 60 + "\n", "values nested more than 50 levels deep"),
    "very_deep_nesting": (HEAD + "description: " + "[" * 100_000 + "]" * 100_000 + "\n", "more than 50 levels deep"),
    "deep_through_aliases": (HEAD + "description: &d " + "[" * 30 + "]" * 30 + "\ntags: " + "[" * 30 + "*d" + "]" * 30
                             + "\n", "line 5, column 16: values nested more than 50 levels deep"),
    "python_tag": (HEAD + "description: !!python/object/apply:os.system ['echo hacked']\n", "malformed YAML"),
    "two_documents": (HEAD + "---\nname: y\n", "malformed YAML: but found another document"),
    "top_level_list": ("- name: x\n", "the top level must be a mapping"),
}


@pytest.mark.parametrize("text, message", YAML_CASES.values(), ids=YAML_CASES.keys())
def test_bad_yaml(tmp_path: Path, text: str, message: str) -> None:
    p = tmp_path / "e.yaml"
    p.write_text(text)
    start = time.perf_counter()
    with pytest.raises(SpecError) as info:
        load_experiment(p)
    assert time.perf_counter() - start < 5.0, "refused quickly"
    msg = _one_line(info)
    assert msg.startswith(str(p)) and message in msg


@pytest.mark.parametrize("text, message", [
    (b"name: x\ndescription: \xff\xfe\n", "not UTF-8 text (byte 21)"),
    (HEAD.encode() + b"description: '" + b"x" * 1_000_001 + b"'\n", "the experiment file is limited to 1,000,000 bytes"),
])
def test_unreadable_experiment_files(tmp_path: Path, text: bytes, message: str) -> None:
    p = tmp_path / "e.yaml"
    p.write_bytes(text)
    with pytest.raises(SpecError) as info:
        load_experiment(p)
    assert message in _one_line(info)


def test_yaml_features_that_stay_allowed(tmp_path: Path) -> None:
    """Anchors, aliases and merge keys overriding merged keys are fine: only duplicates and bombs are refused."""
    p = tmp_path / "e.yaml"
    p.write_text(textwrap.dedent("""\
        name: x
        baseline: {model: digits_cnn, dataset: digits}
        variants:
          - &a {name: a, quantization: int8, calibration_samples: 50}
          - {<<: *a, name: b, quantization: dynamic}
        """))
    names = {v.name: v.quantization for v in load_experiment(p).resolved_variants()}
    assert names == {"baseline": "float32", "a": "int8", "b": "dynamic"}


# ---------------------------------------------------------------- bounded expansion

BIG_MATRIX = {"quantization": ["int8", "dynamic", "float16", "int16x8"],
              "steps": [[{"technique": "prune", "sparsity": [i / 1000 for i in range(1, 1000)],
                          "epochs": list(range(1, 251))}]]}


@pytest.mark.parametrize("data, message", [
    ({**GOOD, "matrix": BIG_MATRIX}, "matrix: with the variants expands to 999,001 variants, more than max_variants (500)"),
    ({**GOOD, "max_variants": 2, "matrix": {"quantization": ["float16", "dynamic"]}},
     "expands to 3 variants, more than max_variants (2)"),
    ({**GOOD, "max_variants": 1, "variants": [{"name": "a"}, {"name": "b"}]}, "variants: lists 2 variants, more than max_variants (1)"),
    ({**GOOD, "search": {"space": [BIG_MATRIX]}}, "search.space: declares 999,000 candidates, more than max_variants (500)"),
    ({**GOOD, "max_variants": 0}, "max_variants: Input should be greater than or equal to 1"),
    ({**GOOD, "matrix": {"steps": [["prune"]]}}, "matrix.steps: each step is a mapping like {technique: prune}, got 'prune'"),
    ({**GOOD, "matrix": {"quantization": ["int8", "dynamic"], "name": "{0}"}}, "matrix.name: template '{0}' is not a valid"),
    ({**GOOD, "matrix": {"quantization": ["int8"], "name": 5}}, "matrix.name: a name template is a string"),
])
def test_expansion_is_bounded_and_counted_first(data: dict[str, Any], message: str) -> None:
    start = time.perf_counter()
    with pytest.raises(SpecError) as info:
        parse_experiment(data, "f.yaml")
    assert time.perf_counter() - start < 1.0, "counted from axis lengths, not expanded"
    assert message in _one_line(info)


def test_max_variants_can_be_raised() -> None:
    matrix = {"quantization": ["float16", "dynamic"], "steps": [[{"technique": "prune", "sparsity": [0.5, 0.6, 0.7]}]]}
    spec = parse_experiment({**GOOD, "max_variants": 7, "matrix": matrix})
    assert len(spec.resolved_variants()) == 1 + 1 + 6  # baseline + explicit + matrix


@pytest.mark.parametrize("matrix", [
    {"quantization": ["int8", "dynamic"], "steps": [[], [{"technique": "prune", "sparsity": [0.5, 0.8]}]]},
    {"quantization": "int8", "steps": [[{"technique": "prune", "sparsity": [0.5, 0.8]},
                                        {"technique": "cluster", "clusters": [4, 8, 16]}]]},
    {"steps": [[{"technique": "prune_structured", "types": ["Dense"], "sparsity": []}]]},
    {"quantization": ["int8"]},
    {},
])
def test_count_matrix_matches_the_expansion(matrix: dict[str, Any]) -> None:
    assert count_matrix(matrix) == len(list(expand_matrix(matrix)))


# ---------------------------------------------------------------- experiment names


@pytest.mark.parametrize("name, message", [
    ("a/b", "name 'a/b' contains '/' (at position 1)"),
    ("a\\b", "contains '\\\\' (at position 1)"),
    ("..", "contains '..'"),
    ("x..y", "contains '..'"),
    (".hidden", "starts with '.'"),
    ("bell\x07", "contains '\\x07' (at position 4)"),
    ("two\nlines", "contains '\\n' (at position 3)"),
    (" padded", "starts or ends with a space"),
    ("padded ", "starts or ends with a space"),
    ("x" * 201, "is 201 bytes long in UTF-8, over the limit of 200 bytes"),
    ("", "is empty"),
    ("a:b", "contains ':'"),
])
def test_experiment_names_must_be_file_and_mlflow_safe(name: str, message: str) -> None:
    with pytest.raises(SpecError) as info:
        parse_experiment({**GOOD, "name": name}, "f.yaml")
    msg = _one_line(info)
    assert msg.startswith("f.yaml: name ") and message in msg
    assert "letters, digits, spaces, '_', '-' and '.'" in msg


@pytest.mark.parametrize("name", ["digits-quick", "my experiment 2.0", "v1_final", "x" * 200, "größe"])
def test_reasonable_experiment_names_are_accepted(name: str) -> None:
    assert parse_experiment({**GOOD, "name": name}).name == name


# ---------------------------------------------------------------- the CLI: exit 2, one line, no traceback


def _npz_with_nan(root: Path) -> str:
    arrays = _arrays()
    arrays["x_test"][4, 0, 0, 0] = np.nan
    np.savez(root / "nan.npz", **arrays)
    return HEAD.replace("dataset: digits", "dataset: nan.npz")


CLI_CASES = {
    "duplicate_key": ([], lambda root: HEAD + "name: y\n", "duplicate key 'name'"),
    "alias_bomb": ([], lambda root: _billion_laughs(), "alias bomb"),
    "huge_matrix": ([], lambda root: HEAD + "matrix: {quantization: [int8, dynamic], steps: [[{technique: prune, "
                    "sparsity: [" + ", ".join(str(i / 1000) for i in range(1, 1000)) + "], epochs: [1, 2, 3]}]]}\n",
                    "5,995 variants, more than max_variants (500)"),
    "bad_name": ([], lambda root: HEAD.replace("name: x", "name: ../etc"), "name '../etc' contains '..'"),
    "nan_in_data": (["--ids"], _npz_with_nan, "dataset 'nan.npz': x_test has 1 NaN value (first at sample 4)"),
}


@pytest.mark.parametrize("flags, make, message", CLI_CASES.values(), ids=CLI_CASES.keys())
def test_cli_validate_refuses_in_one_line(tmp_path: Path, flags: list[str], make: Callable[[Path], str],
                                          message: str) -> None:
    (tmp_path / "e.yaml").write_text(make(tmp_path))
    proc = subprocess.run([str(WORKBENCH), "validate", *flags, "e.yaml"], cwd=tmp_path, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
    assert message in lines[0]
    assert "Traceback" not in proc.stderr + proc.stdout


@pytest.mark.parametrize("flags, make", [([], CLI_CASES["alias_bomb"][1]), (["--ids"], _npz_with_nan)],
                         ids=["yaml", "data"])
def test_refusing_bad_input_never_imports_tensorflow(tmp_path: Path, flags: list[str],
                                                     make: Callable[[Path], str]) -> None:
    (tmp_path / "e.yaml").write_text(make(tmp_path))
    code = textwrap.dedent(f"""\
        import sys
        from workbench.cli import main
        try:
            main(["validate", *{flags!r}, "e.yaml"])
        except SystemExit as exc:
            print(exc.code, "tensorflow" in sys.modules)
        """)
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert proc.stdout.split() == ["2", "False"], proc.stdout + proc.stderr
