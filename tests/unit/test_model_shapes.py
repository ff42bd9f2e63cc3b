"""A model file's activations from its Keras config (no TensorFlow): every layer's output shape propagated from the
inputs, summed per sample, for the memory estimate; None where a layer's arithmetic is not known here.
(tests/integration/test_model_shapes.py compares the figure with what Keras builds.)"""

from __future__ import annotations

from typing import Any

from tests.unit.test_fit import _input, _layer, embedding_model, functional
from workbench.model_shapes import activation_values
from workbench.spec import parse_experiment
from workbench.spec.fit import size_problem, zoo_size


def _sequential(shape: list[int | None], *layers: dict[str, Any]) -> dict[str, Any]:
    return {"class_name": "Sequential", "config": {"name": "s", "layers": [_input("in", shape), *layers]}}


def _conv(name: str, filters: int, padding: str = "same", strides: int = 1, **extra: Any) -> dict[str, Any]:
    return _layer("Conv2D", name, **{"filters": filters, "kernel_size": [3, 3], "strides": [strides, strides],
                                     "padding": padding, "dilation_rate": [1, 1], "data_format": "channels_last", **extra})


def _digits_cnn(shape: list[int | None], width: float = 1.0, dense: int = 128, classes: int = 10) -> dict[str, Any]:
    """workbench.models.digits_cnn as tf_keras writes its config."""
    c1, c2, fc = (max(2, round(n * width)) for n in (16, 32, dense))
    return _sequential(shape, _conv("conv1", c1), _conv("conv2", c2),
                       _layer("MaxPooling2D", "pool", pool_size=[2, 2], strides=[2, 2], padding="valid",
                              data_format="channels_last"),
                       _layer("Flatten", "flatten", data_format="channels_last"), _layer("Dense", "fc1", units=fc),
                       _layer("Dropout", "dropout", rate=0.2), _layer("Dense", "logits", units=classes))


def test_the_digits_cnn_config_gives_what_its_builder_arithmetic_gives() -> None:
    for shape, width, dense in (((8, 8, 1), 1.0, 128), ((512, 512, 3), 1.0, 128), ((28, 28, 1), 0.5, 32)):
        expected = zoo_size("digits_cnn", {"width": width, "dense": dense}, shape, 10)[1]
        assert activation_values(_digits_cnn(list(shape), width, dense)) == expected


def test_free_axes_take_the_data_shape_and_windows_follow_keras() -> None:
    free = _digits_cnn([None, None, 1])
    assert activation_values(free) is None  # nothing says how large the images are
    assert activation_values(free, (8, 8, 1)) == activation_values(_digits_cnn([8, 8, 1]))
    valid = _sequential([9, 9, 2], _conv("c", 4, padding="valid", strides=2))  # floor((9 - 3) / 2) + 1 = 4
    assert activation_values(valid) == 4 * 4 * 4
    same = _sequential([9, 9, 2], _conv("c", 4, strides=2), _layer("GlobalAveragePooling2D", "g"))  # ceil(9 / 2)
    assert activation_values(same) == 5 * 5 * 4 + 4
    depthwise = _sequential([6, 6, 3], _layer("DepthwiseConv2D", "d", kernel_size=3, strides=1, padding="same",
                                              depth_multiplier=2), _layer("ZeroPadding2D", "z", padding=[[0, 1], [0, 1]]))
    assert activation_values(depthwise) == 6 * 6 * 6 + 7 * 7 * 6


def test_functional_graphs_merge_and_embed() -> None:
    assert activation_values(embedding_model(vocabulary=20, length=5, classes=3)) == 5 * 4 + 20 + 3
    cfg = functional([_input("a", [4]), _input("b", [6])],
                     [_layer("Concatenate", "cat", ["a", "b"], axis=-1), _layer("Dense", "d", ["cat"], units=10),
                      _layer("Dense", "e", ["cat"], units=10), _layer("Add", "sum", ["d", "e"]),
                      _layer("Dense", "out", ["sum"], units=2)], ["out"])
    assert activation_values(cfg) == 10 + 10 + 10 + 10 + 2


def test_what_is_not_known_here_is_none_not_a_guess() -> None:
    assert activation_values(_sequential([8, 8, 1], _layer("Conv2DTranspose", "t", filters=4))) is None
    assert activation_values(_sequential([8, 8, 1], _conv("c", 4, data_format="channels_first"))) is None
    nested = functional([_input("a", [4])], [_layer("Functional", "inner", ["a"])], ["inner"])
    assert activation_values(nested) is None
    cycle = functional([_input("a", [4])], [_layer("Dense", "x", ["y"], units=2), _layer("Dense", "y", ["x"], units=2)],
                       ["y"])
    assert activation_values(cycle) is None
    assert activation_values({"class_name": "MyModel", "config": {}}) is None and activation_values(None) is None


def test_a_model_file_with_small_weights_and_large_activations_is_refused() -> None:
    spec = parse_experiment({"name": "x", "baseline": {"model": "m.keras", "dataset": "digits",
                                                       "training": {"epochs": 1}},
                             "variants": [{"name": "a", "quantization": "int8"}]}, "e.yaml")
    cfg = _sequential([512, 512, 3], _conv("c1", 64), _conv("c2", 64), _layer("GlobalAveragePooling2D", "g"),
                      _layer("Dense", "o", units=10))
    acts = activation_values(cfg)
    assert acts == 2 * 512 * 512 * 64 + 64 + 10
    msg = size_problem(spec, (), (512, 512, 3), 10, 160_000, acts)  # ~40 k parameters: weights alone pass
    assert "model file m.keras has ~0.0 M parameters and ~33.6 M activation values per sample, ~8,193 MB" in msg
    assert size_problem(spec, (), (512, 512, 3), 10, 160_000, None) == ""  # weights only: under the limit
    unknown = size_problem(spec, (), (512, 512, 3), 10, 2_000_000_000, None)
    assert "model file m.keras (weights only: its config does not give every layer's shape) has ~500.0 M" in unknown
