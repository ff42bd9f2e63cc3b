"""Issue 17, the model side, with TensorFlow: a binary classifier (one sigmoid output) scored as Keras scores it on
every runtime, float and int8; regression and multi-output models trained (baseline and fine-tuning steps) on the
task's loss; every output of a two-output model on OpenVINO and MNN, named as LiteRT names them."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.conftest import FAST_TARGET


def _experiment(root: Path, model: str, dataset: str, extra: str = "", variants: str = "",
                training: str = "epochs: 0") -> Path:
    text = textwrap.dedent(f"""\
        name: t
        baseline: {{model: {model}, dataset: {dataset}, training: {{{training}, batch_size: 32}}}}
        calibration_samples: 32
        """) + FAST_TARGET + extra + (variants or "variants: [{name: float32, quantization: float32}]\n")
    path = root / "e.yaml"
    path.write_text(text)
    return path


def _measure(root: Path, exp: Path, variant: str) -> tuple[dict[str, float], Any, Any]:
    """The variant's metrics as a sweep computes them (LiteRT, then every runtime the axes use), its context and
    its fine-tuning record."""
    from workbench.variant.build import compress_variant, convert_variant
    from workbench.variant.context import prepare_variant
    from workbench.variant.evaluate import evaluate_variant

    ctx = prepare_variant(exp, variant, work_dir=root / ".wb", root=root, track=False)
    compressed = compress_variant(ctx)
    exported = convert_variant(ctx, compressed)
    quality = evaluate_variant(ctx, exported, compressed)
    assert not quality.failed_runtimes and not [n for n in quality.notes if n.startswith("no ")], quality.notes
    return quality.metrics, ctx, compressed


def _binary(root: Path) -> float:
    """A tiny binary classifier (one sigmoid unit) trained on 0/1 labels, saved as ``m.keras``; Keras's own
    accuracy on the test split."""
    from workbench._keras import keras
    from workbench.models import seed_everything

    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 6)).astype(np.float32)
    y = (x[:, 0] + 0.5 * x[:, 1] - 0.3 * x[:, 2] > 0).astype(np.int64)
    np.savez(root / "bin.npz", x_train=x[:150], y_train=y[:150], x_test=x[150:], y_test=y[150:])
    seed_everything(0)
    model = keras.Sequential([keras.layers.Input((6,)), keras.layers.Dense(8, activation="relu"),
                              keras.layers.Dense(1, activation="sigmoid", name="p")])
    model.compile(keras.optimizers.Adam(0.02), "binary_crossentropy", metrics=["accuracy"])
    model.fit(x[:150], y[:150], epochs=8, batch_size=32, verbose=0)
    model.save(root / "m.keras")
    return float(model.evaluate(x[150:], y[150:], verbose=0, return_dict=True)["accuracy"])  # binary accuracy


def test_a_single_sigmoid_output_is_scored_as_keras_scores_it_on_every_runtime(tmp_path: Path) -> None:
    own = _binary(tmp_path)
    assert 0.7 < own < 1.0  # learned, not perfect: a wrong threshold or an argmax over one column would show
    exp = _experiment(tmp_path, "m.keras", "bin.npz",
                      "profiles: [{name: ort, runtime: onnxruntime}, {name: ov, runtime: openvino}]\n",
                      "variants: [{name: float32, quantization: float32}, {name: int8, quantization: int8}]\n")
    f32, ctx, _ = _measure(tmp_path, exp, "float32")
    for suffix in ("", ".ort", ".ov"):  # LiteRT, ONNX Runtime, OpenVINO
        assert abs(f32[f"accuracy{suffix}"] - own) <= 1e-4, (suffix, f32[f"accuracy{suffix}"], own)
        assert f32[f"agreement{suffix}"] == 1.0
    assert abs(ctx.baseline.accuracy - own) <= 1e-4
    int8, ctx, _ = _measure(tmp_path, exp, "int8")
    from workbench.tflite_model import TfliteModel

    p = TfliteModel((ctx.out_dir / "model.tflite").read_bytes()).predict(ctx.dataset.x_test)  # dequantized
    assert p.shape == (50, 1) and 0.0 <= p.min() and p.max() <= 1.0
    assert int8["accuracy"] == float(np.mean((p[:, 0] > 0.5) == ctx.dataset.y_test)) > own - 0.1
    assert int8["accuracy.ort"] > own - 0.1 and int8["accuracy.ov"] > own - 0.1


def test_a_binary_classifier_retrains_on_binary_crossentropy(tmp_path: Path) -> None:
    _binary(tmp_path)
    _, ctx, _ = _measure(tmp_path, _experiment(tmp_path, "m.keras", "bin.npz", training="epochs: 2"), "float32")
    history = ctx.baseline.history
    assert len(history["loss"]) == 2 and history["accuracy"][-1] > 0.7  # a sparse loss on one unit would fail
    assert history["loss"][-1] < 0.69  # below chance's binary cross-entropy (ln 2)


@pytest.fixture(scope="module")
def examples(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example models (``regressor.keras``, ``two_outputs.keras``), trained briefly, once for the module."""
    import importlib.util

    from tests.conftest import REPO

    spec = importlib.util.spec_from_file_location("example_tasks", REPO / "experiments" / "example_tasks.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    out = tmp_path_factory.mktemp("examples")
    module.make_models(out / "models", epochs=3)
    np.savez(out / "reg.npz", **module.regression_data(train=96, test=32))
    return out


def _regression(root: Path, examples: Path) -> None:
    """The example models under ``root/models`` and the regressor's data as ``root/reg.npz``."""
    import shutil

    shutil.copytree(examples / "models", root / "models")
    shutil.copy(examples / "reg.npz", root / "reg.npz")


@pytest.mark.parametrize("metric, loss", [("mae", "mae"), ("rmse", "mse")])
def test_a_regressor_trains_and_fine_tunes_on_the_task_s_loss(tmp_path: Path, examples: Path, metric: str,
                                                              loss: str) -> None:
    _regression(tmp_path, examples)
    exp = _experiment(tmp_path, "models/regressor.keras", "reg.npz", f"task: {{kind: regression, metric: {metric}}}\n",
                      "variants: [{name: pruned, quantization: float32, steps: [{technique: prune, sparsity: 0.5, "
                      "epochs: 1, learning_rate: 0.001}]}]\n", training="epochs: 2, learning_rate: 0.001")
    m, ctx, compressed = _measure(tmp_path, exp, "pruned")
    step = {k.removeprefix("0_prune_"): v for k, v in compressed.history.items()}  # the chain names it by step
    for history in (ctx.baseline.history, step):  # the baseline's epochs and the step's
        assert "mae" in history and "accuracy" not in history
        trained_on_mae = np.allclose(history["loss"], history["mae"], rtol=1e-4)
        assert trained_on_mae == (loss == "mae"), history  # MAE's loss is its own metric; MSE's is not
    assert np.isfinite(m[metric]) and m["sparsity"] >= 0.4
    assert ctx.experiment.resolved_training().loss == {"": loss}


def test_a_zoo_model_learns_a_regression_target(tmp_path: Path) -> None:
    """A zoo model on real-valued labels: one output per value (not one per "class" up to the largest value),
    trained on MAE."""
    rng = np.random.default_rng(0)
    x = rng.uniform(size=(96, 8, 8, 1)).astype(np.float32)
    y = (10.0 + 5.0 * x.mean(axis=(1, 2, 3))).astype(np.float32)  # about 12.5: a class count would be 13
    np.savez(tmp_path / "img.npz", x_train=x[:64], y_train=y[:64], x_test=x[64:], y_test=y[64:])
    exp = _experiment(tmp_path, "digits_cnn, model_args: {width: 0.25, dense: 8}", "img.npz",
                      "task: {kind: regression}\n", training="epochs: 3, learning_rate: 0.01")
    m, ctx, _ = _measure(tmp_path, exp, "float32")
    assert ctx.baseline.load_model().output_shape == (None, 1)
    history = ctx.baseline.history
    assert np.allclose(history["loss"], history["mae"], rtol=1e-4) and history["mae"][-1] < history["mae"][0]
    assert abs(m["mae"] - float(np.mean(np.abs(ctx.baseline.load_model().predict(x[64:], verbose=0)[:, 0]
                                               - y[64:])))) < 1e-3


def test_a_two_output_model_trains_each_output_on_its_own_loss(tmp_path: Path, examples: Path) -> None:
    """The baseline's epochs and a technique's fine-tuning (pruning, QAT: their wrappers rename the outputs)
    train the value on MAE and the class on cross-entropy, each output on its own labels."""
    import shutil

    from tests.conftest import REPO

    _regression(tmp_path, examples)
    (tmp_path / "experiments").mkdir()
    shutil.copy(REPO / "experiments" / "example_tasks.py", tmp_path / "experiments" / "example_tasks.py")
    exp = _experiment(tmp_path, "models/two_outputs.keras",
                      "experiments.example_tasks:two_output_data, dataset_args: {train: 96, test: 32}",
                      "task: {kind: multi_output, outputs: {value: mae, kind: top1}}\n",
                      "variants:\n  - {name: pruned, quantization: float32, steps: [{technique: prune, sparsity: 0.5, "
                      "epochs: 1}]}\n  - {name: qat, quantization: int8, steps: [{technique: qat, epochs: 1}]}\n",
                      training="epochs: 1")
    for variant in ("pruned", "qat"):
        m, ctx, compressed = _measure(tmp_path, exp, variant)
        step = {k.removeprefix(f"0_{'prune' if variant == 'pruned' else 'qat'}_"): v
                for k, v in compressed.history.items()}
        for history in (ctx.baseline.history, step):
            per_output = sorted(k for k in history if k.endswith("_loss") and not k.startswith("val_"))
            assert len(per_output) == 2, history.keys()  # one loss per output, summed into "loss"
            value_loss = next(k for k in per_output if "value" in k)
            assert np.allclose(history[value_loss], history[value_loss.replace("_loss", "_mae")], rtol=1e-4)
        assert np.isfinite(m["mae/value"]) and 0.0 <= m["accuracy/kind"] <= 1.0, (variant, m)


def test_every_output_on_openvino_and_mnn_is_named_as_litert_names_it(tmp_path: Path) -> None:
    """Two outputs, named against the alphabet (``zz_age`` first): OpenVINO and MNN name the .tflite's tensors;
    each output comes back under the name LiteRT gives it, close to Keras's, float and int8."""
    from workbench._keras import keras
    from workbench.analysis.fidelity import fidelity
    from workbench.convert import convert
    from workbench.convert.mnn import convert_mnn
    from workbench.runtime_model import predict_on, predict_outputs_on

    inp = keras.Input((6,), name="x")
    h = keras.layers.Dense(8, activation="relu")(inp)
    model = keras.Model(inp, [keras.layers.Dense(1, name="zz_age")(h), keras.layers.Dense(3, name="aa_kind")(h)])
    x = np.random.default_rng(0).normal(size=(20, 6)).astype(np.float32)
    keras_out = dict(zip(("zz_age", "aa_kind"), model.predict(x, verbose=0), strict=True))
    for mode in ("float32", "int8"):
        tfl = tmp_path / f"{mode}.tflite"
        tfl.write_bytes(convert(model, mode, x))
        convert_mnn(tfl, tmp_path / f"{mode}.mnn")
        litert = predict_outputs_on("litert", tfl, x)
        for runtime, path in (("openvino", tfl), ("mnn", tmp_path / f"{mode}.mnn")):
            outputs = predict_outputs_on(runtime, path, x)
            assert {k: v.shape for k, v in outputs.items()} == {"zz_age": (20, 1), "aa_kind": (20, 3)}, runtime
            assert list(outputs) == list(litert)  # in the model's order, as LiteRT gives them
            assert np.array_equal(predict_on(runtime, path, x), next(iter(outputs.values())))
            if mode == "float32" or runtime == "openvino":  # MNN int8: the upstream FULLY_CONNECTED bug
                m = fidelity(keras_out if mode == "float32" else litert, outputs)
                assert m["snr_db/zz_age"] > (60.0 if mode == "float32" else 20.0), (runtime, mode, m)
                assert m["snr_db/aa_kind"] > (60.0 if mode == "float32" else 20.0), (runtime, mode, m)
