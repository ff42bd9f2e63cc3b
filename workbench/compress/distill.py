"""Knowledge distillation: the baseline (teacher) trains a smaller zoo student on a mix of its softened
outputs and the labels. The same student trained from labels alone (same seed, same epochs) is built
too, so the run can say whether distillation helped."""

from __future__ import annotations

from typing import Any

import numpy as np

from workbench._keras import keras, tf
from workbench.compress.result import LABEL_ONLY, StepResult
from workbench.data import Dataset
from workbench.models import build_zoo_model, fit, outputs_logits, seed_everything
from workbench.spec import TrainingSpec
from workbench.spec.steps import DistillSpec


def _teacher_logits(teacher: Any, x: np.ndarray) -> np.ndarray:
    out = teacher.predict(x, batch_size=256, verbose=0)
    return out if outputs_logits(teacher) else np.log(np.clip(out, 1e-7, 1.0))


def train_distilled(student: Any, teacher_logits: np.ndarray, ds: Dataset, step: DistillSpec, batch_size: int,
                    seed: int) -> dict[str, list[float]]:
    """Train ``student`` in place with loss alpha * T^2 * KL(softmax(t/T) || softmax(s/T)) + (1 - alpha) * CE(y, s).

    Returns:
        Per-epoch ``loss`` and ``val_accuracy``.
    """
    opt = keras.optimizers.Adam(step.learning_rate)
    ce = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    kl = keras.losses.KLDivergence()
    t_temp = step.temperature

    @tf.function
    def train_step(x: Any, y: Any, t: Any) -> Any:
        with tf.GradientTape() as tape:
            s = student(x, training=True)
            soft = kl(tf.nn.softmax(t / t_temp), tf.nn.softmax(s / t_temp)) * t_temp**2
            loss = step.alpha * soft + (1 - step.alpha) * ce(y, s)
        opt.apply_gradients(zip(tape.gradient(loss, student.trainable_variables), student.trainable_variables,
                                strict=True))
        return loss

    history: dict[str, list[float]] = {"loss": [], "val_accuracy": []}
    rng = np.random.default_rng(seed)
    n = len(ds.x_train)
    for _ in range(step.epochs):
        order = rng.permutation(n)
        losses = []
        for i in range(0, n, batch_size):
            idx = order[i : i + batch_size]
            losses.append(float(train_step(ds.x_train[idx], ds.y_train[idx], teacher_logits[idx])))
        history["loss"].append(float(np.mean(losses)))
        pred = student.predict(ds.x_test, batch_size=256, verbose=0).argmax(1)
        history["val_accuracy"].append(float(np.mean(pred == ds.y_test)))
    return history


def apply_distill(model: Any, step: DistillSpec, data: Dataset, training: TrainingSpec) -> StepResult:
    """Train a fresh zoo student on ``model``'s (the teacher's) softened outputs and the labels.

    Args:
        model: the teacher; only run for predictions, not modified.
        step: student zoo name and args, temperature, alpha, epochs, learning rate, compare_label_only.
        data: training and validation arrays (the student is built for their shape and classes).
        training: batch size and seed (each student is built right after seeding).
    Returns:
        The distilled student; facts ``teacher_params`` / ``student_params``; with ``compare_label_only``
        a ``"label_only"`` companion (the same student, same seed and epochs, trained from labels alone)
        and its curves as ``label_only_*`` in the history.
    Raises:
        SpecError: the student is not a zoo model or its args are wrong.
    """
    teacher_logits = _teacher_logits(model, data.x_train).astype(np.float32)
    seed_everything(training.seed)
    student = build_zoo_model(step.student, data.input_shape, data.num_classes, dict(step.student_args))
    history = train_distilled(student, teacher_logits, data, step, training.batch_size, training.seed)
    facts = {"teacher_params": int(model.count_params()), "student_params": int(student.count_params())}
    companions: dict[str, Any] = {}
    if step.compare_label_only:
        seed_everything(training.seed)
        plain = build_zoo_model(step.student, data.input_shape, data.num_classes, dict(step.student_args))
        plain_hist = fit(plain, data, step.epochs, training.batch_size, step.learning_rate)
        companions[LABEL_ONLY] = plain
        history.update({f"{LABEL_ONLY}_{k}": v for k, v in plain_hist.items()})
    return StepResult(student, history, facts, (), companions)
