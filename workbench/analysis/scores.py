"""Task metrics, pure: top-k accuracy, MAE and RMSE of model outputs against labels, and a task's whole set
(``task_metrics``) with its change against the float model (``with_deltas``). No TensorFlow, no files: a user
metric arrives as a function already imported (``workbench.data.import_function``)."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np

from workbench.catalog.metrics import delta, delta_name
from workbench.spec.task import TaskSpec
from workbench.tflite_model import predicted_classes

MetricFunction = Callable[[np.ndarray, np.ndarray], float]


def top_k(y_true: np.ndarray, y_pred: np.ndarray, k: int = 1) -> float:
    """Fraction of samples whose label is among the ``k`` highest scores (k=1: argmax, as ``accuracy``). A single
    score per sample is a binary classifier's probability of class 1: class 1 above 0.5 (``predicted_classes``);
    its top-2 and above hold both classes."""
    scores, labels = np.asarray(y_pred), np.asarray(y_true).reshape(-1)
    scores = scores.reshape(len(scores), -1)
    if k == 1:
        return float(np.mean(predicted_classes(scores) == labels))
    if scores.shape[1] == 1:
        return 1.0
    top = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    return float(np.mean(np.any(top == labels[:, None], axis=1)))


def _errors(y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
    pred, true = np.asarray(y_pred, np.float64), np.asarray(y_true, np.float64)
    if pred.size != true.size:
        raise ValueError(f"labels have {true.size // max(len(true), 1)} values per sample, the output "
                         f"{pred.size // max(len(pred), 1)}")
    return pred.reshape(-1) - true.reshape(-1)


def mae(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Mean absolute error over every value, in the output's unit."""
    return float(np.mean(np.abs(_errors(y_true, y_pred))))


def rmse(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Root mean squared error over every value, in the output's unit."""
    return float(np.sqrt(np.mean(_errors(y_true, y_pred) ** 2)))


#: a task's built-in metric (``workbench.catalog.metrics.TASK_METRICS``) -> its function (labels, outputs)
BUILTIN: Mapping[str, MetricFunction] = {
    "top1": top_k,
    "top5": lambda y, p: top_k(y, p, 5),
    "mae": mae,
    "rmse": rmse,
}


def task_metrics(task: TaskSpec, outputs: Mapping[str, np.ndarray], labels: np.ndarray,
                 functions: Mapping[str, MetricFunction]) -> dict[str, float]:
    """Every metric of ``task`` on ``outputs`` (output name -> (N, ...), in the model's order) against
    ``labels`` ((N, ...); a multi-output task: a structured array, a field per output), the primary also under
    its plain name. ``functions``: each user metric's ``package.module:function`` -> the function.
    ValueError naming an output the model does not have. A fidelity task scores no labels: {} (its metrics are
    ``analysis.fidelity``'s, against the float model's outputs, logged for every task)."""
    if task.fidelity:
        return {}
    out: dict[str, float] = {}
    for s in task.scored():
        if s.output is None:
            y_pred, y_true = next(iter(outputs.values())), labels
        elif s.output not in outputs:
            raise ValueError(f"task output '{s.output}' is not an output of the model (it has "
                             f"{', '.join(outputs)})")
        else:
            y_pred, y_true = outputs[s.output], labels[s.output]
        fn = BUILTIN[s.ref] if isinstance(s.ref, str) else functions[s.ref.function]
        out[s.logged] = float(fn(y_true, y_pred))
    primary = task.scored()[0]
    out[primary.record.name] = out[primary.logged]
    return out


def with_deltas(task: TaskSpec, scores: Mapping[str, float], float_scores: Mapping[str, float]) -> dict[str, float]:
    """``scores`` and each one's change against the float model's (``<name>_delta``: points for a fraction)."""
    records = {s.logged: s.record for s in task.scored()}
    records[task.primary_metric().name] = task.primary_metric()
    return {**scores, **{delta_name(k): delta(records[k], v, float_scores[k]) for k, v in scores.items()}}
