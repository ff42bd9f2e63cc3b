"""Quality noise: how sure an accuracy on n test samples is, and whether a variant's accuracy change against
float is real. Pure functions over counts; no runtime, no TensorFlow.

- ``wilson``: the Wilson score interval of a proportion (sound at 0 and n, unlike the normal
  approximation: 1 of 1 correct gives 20.7%-100%, not "100%").
- ``mcnemar``: the exact McNemar test on paired per-sample correctness (variant vs float on the same test
  samples): only the samples where the two disagree carry information.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

#: below this McNemar p-value an accuracy change is called real; above it, "no measurable difference"
ALPHA = 0.05
_Z95 = 1.959964


def wilson(correct: int, n: int, z: float = _Z95) -> tuple[float, float]:
    """95% Wilson score interval (low, high) of ``correct`` / ``n``. Raises ValueError when n < 1."""
    if n < 1 or not 0 <= correct <= n:
        raise ValueError(f"wilson: need 0 <= correct <= n and n >= 1, got {correct} of {n}")
    p = correct / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


@dataclass(frozen=True)
class McNemar:
    """Paired correctness of a variant against float on the same samples."""

    lost: int  # float right, variant wrong
    gained: int  # float wrong, variant right
    p_value: float  # exact two-sided binomial test on lost vs gained

    @property
    def real(self) -> bool:
        """The accuracy change is beyond the noise of this test split."""
        return self.p_value < ALPHA


def mcnemar(lost: int, gained: int) -> McNemar:
    """Exact two-sided McNemar test: P(a split at least as uneven as lost:gained | no real difference)."""
    n = lost + gained
    if n == 0:
        return McNemar(0, 0, 1.0)
    k = min(lost, gained)
    tail = sum(math.comb(n, i) for i in range(k + 1)) / 2.0**n
    return McNemar(lost, gained, min(1.0, 2.0 * tail))


def paired_correctness(variant_top1: np.ndarray, float_top1: np.ndarray, labels: np.ndarray) -> McNemar:
    """McNemar of the variant's top-1 against float's on the same labelled samples."""
    v, f = np.asarray(variant_top1) == np.asarray(labels), np.asarray(float_top1) == np.asarray(labels)
    return mcnemar(int(np.sum(f & ~v)), int(np.sum(~f & v)))


def accuracy_metrics(variant_top1: np.ndarray, float_top1: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """``accuracy_ci_low/high`` (Wilson), ``test_samples``, and McNemar against float:
    ``accuracy_lost``/``accuracy_gained`` (samples) and ``accuracy_delta_p`` (p-value)."""
    labels = np.asarray(labels).reshape(-1)
    n = int(labels.size)
    correct = int(np.sum(np.asarray(variant_top1).reshape(-1) == labels))
    lo, hi = wilson(correct, n)
    test = paired_correctness(np.asarray(variant_top1).reshape(-1), np.asarray(float_top1).reshape(-1), labels)
    return {"accuracy_ci_low": lo, "accuracy_ci_high": hi, "test_samples": float(n),
            "accuracy_lost": float(test.lost), "accuracy_gained": float(test.gained), "accuracy_delta_p": test.p_value}


#: the words every variant of a float baseline at chance carries in its notes (the recommendation repeats them)
CHANCE = "it has learned nothing"


def chance_note(accuracy: float, labels: np.ndarray) -> str:
    """A note when a classifier's test accuracy is no better than always answering the test set's most
    frequent class (the lower end of its 95% Wilson interval does not clear that share): such a baseline has
    learned nothing, and its variants' accuracy deltas say nothing about compression. '' otherwise."""
    n = len(labels)
    if not n or not np.isfinite(accuracy) or labels.ndim != 1 or labels.dtype.kind not in "iu":
        return ""
    share = float(np.bincount(labels).max()) / n
    low, _ = wilson(int(round(accuracy * n)), n)
    if low > share:
        return ""
    return (f"the float baseline scores {100 * accuracy:.1f}% on {n} test samples, no better than always answering "
            f"the most frequent class ({100 * share:.1f}%): {CHANCE}, so its variants' accuracy "
            "deltas say nothing about compression; train it longer (baseline.training.epochs) or check the data")
