"""Data for a model with several inputs (an .npz keyed ``x_<split>_<input>``, or dicts from a function) and data
without labels (a fidelity task): loaded, packed one field per input, checked against the model file's config
before any cost, and fed to a .tflite by input name. No TensorFlow."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.unit.test_fit import _input, _layer, functional, keras_file
from tests.unit.test_image_folder import make_folder
from workbench.data import feed, load_dataset, pack, value_range
from workbench.errors import DataError
from workbench.fit import check_classes, check_fit
from workbench.model_files import check_model_file
from workbench.tflite_model import match_inputs, split_inputs


def two_inputs(n_train: int = 12, n_test: int = 4, **override: Any) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    out = {"x_train_image": rng.uniform(size=(n_train, 8, 8, 1)), "x_train_numbers": rng.normal(size=(n_train, 3)),
           "y_train": np.arange(n_train) % 3,
           "x_test_image": rng.uniform(size=(n_test, 8, 8, 1)), "x_test_numbers": rng.normal(size=(n_test, 3)),
           "y_test": np.arange(n_test) % 3}
    out.update(override)
    return {k: v for k, v in out.items() if v is not None}


def model(tmp_path: Path, image: list[int] | None = None, names: tuple[str, str] = ("image", "numbers")) -> Any:
    a, b = names
    cfg = functional([_input(a, image or [8, 8, 1]), _input(b, [3])],
                     [_layer("Flatten", "flat", [a]), _layer("Concatenate", "cat", ["flat", b]),
                      _layer("Dense", "out", ["cat"], units=3)], ["out"])
    return check_model_file(keras_file(tmp_path / "m.keras", cfg)).signature


def _load(tmp_path: Path, arrays: dict[str, np.ndarray], labels: str = "classes") -> Any:
    np.savez(tmp_path / "d.npz", **arrays)
    return load_dataset("d.npz", root=tmp_path, labels=labels)


def test_an_npz_keyed_by_input_name_packs_one_field_per_input(tmp_path: Path) -> None:
    arrays = two_inputs()
    ds = _load(tmp_path, arrays)
    assert ds.input_names == ("image", "numbers")
    assert ds.input_shapes == {"image": (8, 8, 1), "numbers": (3,)}
    assert len(ds.x_train) == 12 and len(ds.x_test) == 4 and ds.x_train["image"].dtype == np.float32
    np.testing.assert_allclose(ds.x_test["numbers"], arrays["x_test_numbers"].astype(np.float32))
    fed = feed(ds.x_test[1:3])
    assert isinstance(fed, dict) and fed["image"].shape == (2, 8, 8, 1) and fed["numbers"].shape == (2, 3)
    assert ds.fingerprint == _load(tmp_path, arrays).fingerprint
    changed = two_inputs(x_test_numbers=arrays["x_test_numbers"] + 1)
    assert _load(tmp_path, changed).fingerprint != ds.fingerprint  # every input is in the fingerprint
    check_fit("m.keras", model(tmp_path), ds)  # fits: no error
    lo, hi = value_range(ds.x_train)
    assert lo == pytest.approx(min(arrays["x_train_image"].min(), arrays["x_train_numbers"].min()), abs=1e-6)
    assert hi == pytest.approx(max(arrays["x_train_image"].max(), arrays["x_train_numbers"].max()), abs=1e-6)


def test_a_function_may_return_dicts_of_inputs(tmp_path: Path) -> None:
    (tmp_path / "mydata.py").write_text(
        "import numpy as np\n"
        "def make():\n"
        "    x = {'image': np.zeros((6, 8, 8, 1)), 'numbers': np.ones((6, 3))}\n"
        "    return {'x_train': x, 'y_train': np.arange(6) % 2, 'x_test': x, 'y_test': np.arange(6) % 2}\n")
    ds = load_dataset("mydata:make", root=tmp_path)
    assert ds.input_names == ("image", "numbers") and ds.x_test["numbers"].sum() == 18


@pytest.mark.parametrize("arrays, message", [
    (two_inputs(x_test_numbers=None), "has inputs ['image', 'numbers'] in x_train_<input> but ['image'] in x_test"),
    (two_inputs(x_train=np.zeros((12, 8, 8, 1))), "holds both x_train and x_<split>_<input> arrays"),
    (two_inputs(x_train_numbers=np.zeros((11, 3))), "the inputs of x_train have different sample counts (image 12, numbers 11)"),
    (two_inputs(x_test_numbers=np.zeros((4, 5))), "x_train_numbers samples are (3,) but x_test_numbers samples are (5,)"),
    (two_inputs(x_test_image=np.full((4, 8, 8, 1), np.nan)), "x_test_image has 256 NaN values"),
])
def test_bad_arrays_per_input_are_refused_in_one_line(tmp_path: Path, arrays: dict[str, np.ndarray],
                                                      message: str) -> None:
    with pytest.raises(DataError) as info:
        _load(tmp_path, arrays)
    assert message in str(info.value) and "\n" not in str(info.value)


@pytest.mark.parametrize("arrays, kwargs, message", [
    (two_inputs(x_train_numbrs=np.zeros((12, 3)), x_test_numbrs=np.zeros((4, 3)), x_train_numbers=None,
                x_test_numbers=None), {}, "no data for input(s) numbers; numbrs name(s) no input of the model"),
    (two_inputs(x_train_numbers=None, x_test_numbers=None), {}, "no data for input(s) numbers"),
    (two_inputs(), {"image": [16, 16, 1]}, "x_<split>_image samples have shape (8, 8, 1) but input 'image' expects "
                                           "(16, 16, 1)"),
    (two_inputs(x_train_extra=np.zeros((12, 2)), x_test_extra=np.zeros((4, 2))), {}, "extra name(s) no input"),
])
def test_inputs_that_do_not_fit_the_model_are_refused(tmp_path: Path, arrays: dict[str, np.ndarray],
                                                      kwargs: dict[str, Any], message: str) -> None:
    ds = _load(tmp_path, arrays)
    with pytest.raises(DataError) as info:
        check_fit("m.keras", model(tmp_path, **kwargs), ds)
    assert message in str(info.value) and "\n" not in str(info.value)


def test_one_array_for_a_two_input_model_names_the_keys_to_use(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    ds = _load(tmp_path, {"x_train": rng.uniform(size=(6, 8, 8, 1)), "y_train": np.arange(6) % 2,
                          "x_test": rng.uniform(size=(2, 8, 8, 1)), "y_test": np.arange(2)})
    with pytest.raises(DataError, match=r"has 2 inputs \(image, numbers\).*x_train_image, x_train_numbers"):
        check_fit("m.keras", model(tmp_path), ds)


def test_a_zoo_model_takes_one_input(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="zoo model 'digits_cnn' takes one input, but the data gives several"):
        check_classes("digits_cnn", _load(tmp_path, two_inputs()))


def test_samples_are_matched_to_a_model_files_inputs_by_name() -> None:
    x = pack({"image": np.zeros((2, 4), np.float32), "numbers": np.ones((2, 3), np.float32)})
    # a .tflite's tensors: serving_default_<name>:0, in the converter's order
    got = split_inputs(x, ["serving_default_numbers:0", "serving_default_image:0"])
    assert [a.shape for a in got] == [(2, 3), (2, 4)] and got[0].sum() == 6
    assert match_inputs(["numbers", "image"], ("image", "numbers")) == ["numbers", "image"]
    with pytest.raises(ValueError, match="no samples for input.s. mask"):
        split_inputs(x, ["image", "mask"])
    with pytest.raises(ValueError, match="has 2 inputs"):
        split_inputs(np.zeros((2, 4), np.float32), ["image", "numbers"])


# --------------------------------------------------------------------------------------------- no labels


def test_an_npz_of_inputs_only_loads_for_a_fidelity_task(tmp_path: Path) -> None:
    ds = _load(tmp_path, two_inputs(y_train=None, y_test=None), labels="none")
    assert ds.labels == "none" and ds.y_test.shape == (4, 0) and ds.input_names == ("image", "numbers")
    check_fit("m.keras", model(tmp_path), ds)
    plain = _load(tmp_path, {"x_train": np.zeros((5, 3)), "x_test": np.ones((2, 3))}, labels="none")
    assert plain.x_test.shape == (2, 3) and plain.y_train.shape == (5, 0)


def test_an_npz_without_labels_for_a_classifier_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"missing array\(s\) \['y_train', 'y_test'\].*unlabeled data: task kind "
                                        "fidelity"):
        _load(tmp_path, two_inputs(y_train=None, y_test=None))


def test_labels_given_to_a_fidelity_task_are_not_used(tmp_path: Path) -> None:
    labelled = _load(tmp_path, two_inputs())
    ds = _load(tmp_path, two_inputs(), labels="none")
    assert ds.y_train.shape == (12, 0) and np.array_equal(ds.x_test["image"], labelled.x_test["image"])
    digits = load_dataset("digits", labels="none")
    assert digits.labels == "none" and digits.y_test.size == 0 and "labels are not used" in digits.notes[0]


def test_a_folder_of_images_without_classes(tmp_path: Path) -> None:
    make_folder(tmp_path / "imgs", {"a": 2, "b": 3})
    (tmp_path / "imgs" / "loose.png").write_bytes((tmp_path / "imgs" / "a" / "0.png").read_bytes())
    ds = load_dataset("imgs", {"image_size": [6, 6]}, tmp_path, labels="none")  # sub-folders or not: every image
    assert ds.labels == "none" and len(ds.x_train) + len(ds.x_test) == 6 and ds.x_test.shape[1:] == (6, 6, 3)
    assert "6 images, no labels" in ds.notes[0] and "a seeded 0.2 test split (seed 0)" in ds.notes[0]
    (tmp_path / "flat").mkdir()
    (tmp_path / "flat" / "x.png").write_bytes((tmp_path / "imgs" / "loose.png").read_bytes())
    with pytest.raises(DataError, match="has no sub-folders.*task kind fidelity"):
        load_dataset("flat", root=tmp_path)


def test_a_large_folder_is_refused_before_any_image_is_read_or_sampled(tmp_path: Path) -> None:
    make_folder(tmp_path / "imgs", {"a": 6, "b": 6}, size=(40, 40))
    with pytest.raises(DataError, match=r"12 images at 40x40 decode to ~0.2 MB of float32, over max_mb \(0.01\); set "
                                        "dataset_args max_images"):
        load_dataset("imgs", {"max_mb": 0.01}, tmp_path)
    ds = load_dataset("imgs", {"max_images": 8, "seed": 3}, tmp_path)
    assert len(ds.x_train) + len(ds.x_test) == 8 and "a seeded sample of at most 8 per folder" in ds.notes[0]
    whole = load_dataset("imgs", {}, tmp_path)  # read a batch at a time into one array: the same values
    assert whole.x_train.dtype == np.float32 and whole.x_train.flags.c_contiguous


def test_the_profile_runner_feeds_every_input_by_its_keras_name(tmp_path: Path) -> None:
    """The samples a variant is profiled with are saved by Keras input name; the runner finds each input of the
    file under it, whatever decoration the converter added."""
    from workbench.profile import runner

    details = [{"name": "serving_default_numbers:0"}, {"name": "serving_default_image:0"}]
    np.savez(tmp_path / "in.npz", image=np.zeros((2, 4)), numbers=np.ones((2, 3)))
    req = {"input_source": "test", "input_path": str(tmp_path / "in.npz")}
    got = runner._load_samples(req, details, np)
    assert {k: v.shape for k, v in got.items()} == {"serving_default_image:0": (2, 4),
                                                    "serving_default_numbers:0": (2, 3)}
    np.savez(tmp_path / "bad.npz", image=np.zeros((2, 4)), mask=np.ones((2, 3)))
    with pytest.raises(runner.InputError, match="'mask', which name no input of the model"):
        runner._load_samples({**req, "input_path": str(tmp_path / "bad.npz")}, details, np)


def test_distillation_is_refused_for_several_inputs_before_any_cost(tmp_path: Path) -> None:
    from workbench.errors import SpecError
    from workbench.spec import ExperimentSpec
    from workbench.variant.inputs import check_resources

    spec = ExperimentSpec.model_validate({
        "name": "d", "baseline": {"model": "m.keras", "dataset": "d.npz"},
        "variants": [{"name": "small", "steps": [{"technique": "distill", "student": "digits_cnn"}]}]})
    with pytest.raises(SpecError, match=r"variants \(small\).steps: distill trains a zoo student with one input, but "
                                        r"the data gives several \(image, numbers\)"):
        check_resources(spec, spec.resolved_variants(), _load(tmp_path, two_inputs()), tmp_path, "e.yaml")
