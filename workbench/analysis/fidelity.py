"""Fidelity to the float model, pure: how far a variant's outputs are from the float reference's on the same
inputs, with no labels. Per output, over every test sample at once (the arrays flattened):

- ``snr_db``: signal-to-noise ratio, 10 log10(sum ref^2 / sum (out - ref)^2), in dB (higher is closer);
  identical outputs give ``SNR_CAP_DB`` (an MLflow metric cannot be infinite); a zero reference gives NaN;
- ``cosine_similarity``: cosine of the angle between the flattened output and reference (1 = same direction);
- ``max_abs_error``: the largest absolute difference, in the output's own unit.

A model with several outputs logs the worst output under the plain names (lowest SNR and cosine, highest
error) and every output as ``<metric>/<output>``. Outputs are paired by name; a single output with a single
output whatever their names (runtimes name one tensor differently).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from workbench.catalog.metrics import FIDELITY

SNR_CAP_DB = 200.0  # identical outputs (float32's own rounding is ~140 dB)
FIDELITY_METRICS = FIDELITY  # declared once, in the catalogue
_WORST = {"snr_db": min, "cosine_similarity": min, "max_abs_error": max}


def snr_db(reference: np.ndarray, output: np.ndarray) -> float:
    """Signal (reference) to noise (output - reference) power, in dB; ``SNR_CAP_DB`` when they are equal."""
    ref, out = _pair(reference, output)
    signal, noise = float(np.sum(ref * ref)), float(np.sum((out - ref) ** 2))
    if noise == 0.0:
        return SNR_CAP_DB
    if signal == 0.0:
        return float("nan")
    return min(SNR_CAP_DB, 10.0 * float(np.log10(signal / noise)))


def cosine_similarity(reference: np.ndarray, output: np.ndarray) -> float:
    """Cosine of the flattened arrays; 1.0 for two zero arrays, 0.0 when only one is zero."""
    ref, out = _pair(reference, output)
    norms = float(np.linalg.norm(ref)) * float(np.linalg.norm(out))
    if norms == 0.0:
        return 1.0 if not ref.any() and not out.any() else 0.0
    return float(np.clip(np.dot(ref, out) / norms, -1.0, 1.0))


def max_abs_error(reference: np.ndarray, output: np.ndarray) -> float:
    """The largest |output - reference| over every element."""
    ref, out = _pair(reference, output)
    return float(np.max(np.abs(out - ref))) if ref.size else 0.0


def _pair(reference: np.ndarray, output: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    ref, out = np.asarray(reference, np.float64), np.asarray(output, np.float64)
    if ref.size != out.size:
        raise ValueError(f"output has {out.size} values, the float reference {ref.size}")
    return ref.reshape(-1), out.reshape(-1)


def _worst(metric: str, values: list[float]) -> float:
    """The worst of ``values`` for ``metric`` (an undefined SNR, NaN, is left out; all NaN gives NaN)."""
    defined = [v for v in values if v == v]
    return _WORST[metric](defined) if defined else float("nan")


def pair_outputs(reference: Mapping[str, np.ndarray],
                 outputs: Mapping[str, np.ndarray]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """output name -> (reference, output): by name, or the one output with the one reference output.
    ValueError naming the outputs when they do not correspond."""
    if len(reference) == 1 and len(outputs) == 1:
        (name, ref), (out,) = next(iter(reference.items())), outputs.values()
        return {name: (ref, out)}
    if set(reference) != set(outputs):
        raise ValueError(f"outputs {sorted(outputs)} do not match the float reference's {sorted(reference)}")
    return {name: (ref, outputs[name]) for name, ref in reference.items()}


def fidelity(reference: Mapping[str, np.ndarray], outputs: Mapping[str, np.ndarray]) -> dict[str, float]:
    """``snr_db``, ``cosine_similarity``, ``max_abs_error`` of ``outputs`` against ``reference`` (output name ->
    array, same samples): the worst output under the plain names, and ``<metric>/<output>`` per output when
    there are several."""
    pairs = pair_outputs(reference, outputs)
    per = {name: {"snr_db": snr_db(r, o), "cosine_similarity": cosine_similarity(r, o),
                  "max_abs_error": max_abs_error(r, o)} for name, (r, o) in pairs.items()}
    out = {m: _worst(m, [v[m] for v in per.values()]) for m in FIDELITY_METRICS}
    if len(per) > 1:
        out.update({f"{m}/{name}": v[m] for name, v in per.items() for m in FIDELITY_METRICS})
    return out
