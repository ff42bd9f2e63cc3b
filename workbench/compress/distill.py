"""Knowledge distillation: the baseline (teacher) trains a smaller zoo student on a mix of its softened
outputs and the labels. The same student trained from labels alone (same seed, same epochs) is built
too, so the run can say whether distillation helped."""

from __future__ import annotations

from typing import Any

import numpy as np

from workbench._keras import keras, tf
from workbench.models import build_zoo_model, fit, outputs_logits, seed_everything
from workbench.spec.steps import DistillSpec


def _teacher_logits(teacher: Any, x: np.ndarray) -> np.ndarray:
    out = teacher.predict(x, batch_size=256, verbose=0)
    return out if outputs_logits(teacher) else np.log(np.clip(out, 1e-7, 1.0))


def train_distilled(student: Any, teacher_logits: np.ndarray, ds: Any, step: DistillSpec, batch_size: int,
                    seed: int) -> dict[str, list[float]]:
    """Loss = alpha * T^2 * KL(softmax(t/T) || softmax(s/T)) + (1 - alpha) * CE(y, s)."""
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


def apply_distill(model: Any, step: DistillSpec, ctx: Any) -> tuple[Any, dict[str, list[float]]]:
    ds, tr = ctx.dataset, ctx.experiment.baseline.training
    teacher_logits = _teacher_logits(model, ds.x_train).astype(np.float32)
    seed_everything(tr.seed)
    student = build_zoo_model(step.student, ds.input_shape, ds.num_classes, dict(step.student_args))
    history = train_distilled(student, teacher_logits, ds, step, tr.batch_size, tr.seed)
    ctx.info["teacher_params"] = int(model.count_params())
    ctx.info["student_params"] = int(student.count_params())
    if step.compare_label_only:
        seed_everything(tr.seed)
        plain = build_zoo_model(step.student, ds.input_shape, ds.num_classes, dict(step.student_args))
        plain_hist = fit(plain, ds, step.epochs, tr.batch_size, step.learning_rate)
        ctx.info["label_only_model"] = plain
        history.update({f"label_only_{k}": v for k, v in plain_hist.items()})
    return student, history
