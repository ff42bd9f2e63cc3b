"""Low-rank factorization: a Dense (or 1x1 Conv2D) kernel W (in x out) becomes two layers with kernels
U*sqrt(S) (in x r) and sqrt(S)*V^T (r x out) from a truncated SVD, then the model is fine-tuned.
A factorized layer holds rank * (in + out) (+ out bias) parameters."""

from __future__ import annotations

from typing import Any

import numpy as np

from workbench._keras import keras
from workbench.compress._layers import rewrite, unreached
from workbench.compress.result import StepResult
from workbench.data import Dataset
from workbench.models import fit
from workbench.spec import TrainingSpec
from workbench.spec.steps import LowRankSpec


def choose_rank(singular_values: np.ndarray, rank: int | None, energy: float | None) -> int:
    """``rank`` as given (clipped to the full rank), or the smallest rank keeping ``energy`` of sum(S^2)."""
    full = len(singular_values)
    if rank is not None:
        return max(1, min(rank, full))
    cum = np.cumsum(singular_values**2) / np.sum(singular_values**2)
    return min(full, int(np.searchsorted(cum, float(energy or 1.0) - 1e-12)) + 1)


def factorize(kernel: np.ndarray, r: int) -> tuple[np.ndarray, np.ndarray]:
    """``kernel`` (in x out) ~= A @ B with A = U_r sqrt(S_r) (in x r) and B = sqrt(S_r) V_r^T (r x out)."""
    u, s, vt = np.linalg.svd(kernel, full_matrices=False)
    root = np.sqrt(s[:r])
    return (u[:, :r] * root).astype(np.float32), (root[:, None] * vt[:r]).astype(np.float32)


def _is_pointwise(layer: Any) -> bool:
    return type(layer).__name__ == "Dense" or (
        type(layer).__name__ == "Conv2D" and tuple(layer.kernel_size) == (1, 1) and tuple(layer.strides) == (1, 1)
        and layer.groups == 1)


def apply_lowrank(model: Any, step: LowRankSpec, data: Dataset, training: TrainingSpec) -> StepResult:
    """Factorize each selected Dense / 1x1 Conv2D kernel by truncated SVD, then fine-tune.

    Args:
        model: the Keras model to factorize; not modified.
        step: rank or energy, epochs, learning rate and layer selection.
        data: fine-tuning and validation arrays.
        training: batch size.
    Returns:
        The factorized model; facts ``lowrank`` ({layer: {in, out, rank, params}} for each factorized
        layer); a note for each selected layer kept dense (its rank would not save parameters).
    Raises:
        SpecError: the layer selection matches no Dense or Conv2D layer.
    """
    report: dict[str, dict[str, int]] = {}
    notes: list[str] = []

    def wrap(layer: Any) -> Any:
        if not _is_pointwise(layer):
            return layer
        kernel, *rest = layer.get_weights()
        w2d = kernel.reshape(-1, kernel.shape[-1])
        n_in, n_out = w2d.shape
        r = choose_rank(np.linalg.svd(w2d, compute_uv=False), step.rank, step.energy)
        if r * (n_in + n_out) >= n_in * n_out:
            notes.append(f"lowrank: {layer.name} kept dense: rank {r} would not reduce its {n_in}x{n_out} kernel")
            return layer
        a, b = factorize(w2d, r)
        cfg = layer.get_config()
        if type(layer).__name__ == "Dense":
            first = keras.layers.Dense(r, use_bias=False, name=f"{layer.name}_u")
            second = keras.layers.Dense(n_out, activation=cfg["activation"], use_bias=cfg["use_bias"], name=f"{layer.name}_v")
            shape: tuple[Any, ...] = (None, n_in)
            weights = [a, b, *rest]
        else:
            first = keras.layers.Conv2D(r, 1, use_bias=False, name=f"{layer.name}_u")
            second = keras.layers.Conv2D(n_out, 1, activation=cfg["activation"], use_bias=cfg["use_bias"],
                                         name=f"{layer.name}_v")
            shape = (None, None, None, n_in)
            weights = [a[None, None], b[None, None], *rest]
        block = keras.Sequential([first, second], name=f"{layer.name}_lowrank")
        block.build(shape)
        block.set_weights(weights)
        report[layer.name] = {"in": n_in, "out": n_out, "rank": r, "params": int(block.count_params())}
        return block

    new, _ = rewrite(model, step.layers, wrap, "lowrank", ("Dense", "Conv2D"))
    notes.extend(unreached(model, step.layers, "lowrank", ("Dense", "Conv2D")))
    if not report:
        notes.append("lowrank: no layer was factorized (no rank reduces any selected kernel)")
    history = fit(new, data, step.epochs, training.batch_size, step.learning_rate, loss=training.loss)
    return StepResult(new, history, {"lowrank": report}, tuple(notes))
