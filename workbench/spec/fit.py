"""An experiment checked against its data's shape, before any training: step schedules within the fine-tuning
they belong to, and the baseline's memory estimated from its config and the input shape (a 512x512x3 input
gave the digits CNN a 268-million-parameter dense layer: 8.2 minutes at 17.2 GB before). Pure: the caller
passes the data's shape and, for a model file, its declared weight bytes and the values its layers output."""

from __future__ import annotations

import math
from typing import Any

from workbench.catalog.zoo import ZOO_MODELS
from workbench.spec.experiment import ExperimentSpec, VariantSpec
from workbench.spec.steps import PruneSpec

#: keras.applications models at 224x224x3 and alpha 1, counted from the built models: the parameters before
#: the classifier (they scale with alpha squared), the output values of every layer per sample (they scale
#: with height x width and alpha) and the classifier's input width (its parameters: (width + 1) x classes).
#: At alpha 0.5 the estimate is within 10% of the built model (1.85 M vs 1.99 M parameters, 10.9 M vs 12.0 M
#: activation values for MobileNetV2)
APPLICATIONS_AT_224 = {"mobilenet_v2": (2_257_984, 21_815_960, 1280), "mobilenet_v3_small": (1_529_968, 7_764_232, 1024)}
BYTES_PER_PARAM_TRAINING = 16  # float32 weight, gradient and Adam's two moments
BYTES_PER_ACTIVATION_TRAINING = 8  # float32 output kept for the backward pass, and its gradient


def steps_per_epoch(n_samples: int, batch_size: int) -> int:
    """Batches per epoch (the last one may be partial): the fine-tuning's step count per epoch."""
    return -(-n_samples // batch_size)


def schedule_problem(variants: tuple[VariantSpec, ...], n_train: int, batch_size: int) -> str:
    """A pruning schedule that would not run within its fine-tuning ('' when none): ``begin_step`` at or past
    the last step (the mask is never applied: "prune 0.8" with sparsity 0.0), or ``end_step`` past it (the
    final sparsity never reached)."""
    per_epoch = steps_per_epoch(n_train, batch_size)
    for v in variants:
        for i, step in enumerate(v.steps):
            if not isinstance(step, PruneSpec):
                continue
            total = step.epochs * per_epoch
            where = f"variants ({v.name}).steps.{i}.prune"
            fine = (f"its fine-tuning is {total:,} steps ({step.epochs} epoch(s) x {per_epoch:,} batches of "
                    f"{batch_size} from {n_train:,} samples)")
            if step.begin_step >= total:
                return f"{where}.begin_step: {step.begin_step:,} is past the last step, so nothing is pruned; {fine}"
            if step.end_step is not None and step.end_step > total:
                return (f"{where}.end_step: {step.end_step:,} is past the last step, so sparsity {step.sparsity} is "
                        f"never reached; {fine}")
    return ""


def zoo_size(model: str, args: dict[str, Any], input_shape: tuple[int, ...], classes: int) -> tuple[int, int]:
    """(parameters, activation values per sample) of a zoo model built for ``input_shape`` and ``classes``."""
    if model == "digits_cnn":
        width, dense = float(args.get("width", 1.0)), int(args.get("dense", 128))
        c1, c2, fc = (max(2, int(round(n * width))) for n in (16, 32, dense))
        h, w, c = (tuple(input_shape) + (1, 1, 1))[:3]
        pixels, flat = h * w, (h // 2) * (w // 2) * c2
        params = (9 * c * c1 + c1) + (9 * c1 * c2 + c2) + (flat * fc + fc) + (fc * classes + classes)
        return params, pixels * (c1 + c2) + 2 * flat + 2 * fc + classes
    backbone, acts, head = APPLICATIONS_AT_224[model]
    alpha = float(args.get("alpha", 1.0))
    scale = math.prod(input_shape[:2]) / (224 * 224)
    return int(backbone * alpha**2 + (head + 1) * classes), int(acts * alpha * scale)


def memory_mb(params: int, activations: int, batch_size: int, training: bool) -> float:
    """Estimated memory of the model: training keeps weights, gradients and Adam's moments, and every layer's
    output for a batch; inference the weights and one sample's outputs."""
    if training:
        return (params * BYTES_PER_PARAM_TRAINING + activations * batch_size * BYTES_PER_ACTIVATION_TRAINING) / 2**20
    return (params + activations) * 4 / 2**20


def trains(spec: ExperimentSpec, variants: tuple[VariantSpec, ...]) -> bool:
    return spec.baseline.training.epochs > 0 or any(s.epochs > 0 for v in variants for s in v.steps)


def size_problem(spec: ExperimentSpec, variants: tuple[VariantSpec, ...], input_shape: tuple[int, ...],
                 classes: int, file_weight_bytes: int | None = None, file_activations: int | None = None) -> str:
    """The estimated memory over ``spec.max_model_mb`` ('' when under, or when nothing is known): a zoo
    model from its builder's arithmetic, a model file from the bytes its weights take (4 per parameter) and
    the values its layers output per sample (``workbench.model_shapes.activation_values``, from its config;
    None when the config does not tell: the weights alone then)."""
    if spec.baseline.model in ZOO_MODELS:
        params, acts = zoo_size(spec.baseline.model, spec.baseline.model_args, input_shape, classes)
        what = f"zoo model {spec.baseline.model} at input {'x'.join(map(str, input_shape))}"
    elif file_weight_bytes is not None:
        params, acts = file_weight_bytes // 4, file_activations or 0
        what = f"model file {spec.baseline.model}" + (
            "" if file_activations is not None else " (weights only: its config does not give every layer's shape)")
    else:
        return ""
    training = trains(spec, variants)
    mb = memory_mb(params, acts, spec.baseline.training.batch_size, training)
    if mb <= spec.max_model_mb:
        return ""
    how = (f"training at batch {spec.baseline.training.batch_size}: weights, gradients, optimizer state and "
           "activations" if training else "inference")
    return (f"max_model_mb: {what} has ~{params / 1e6:,.1f} M parameters and ~{acts / 1e6:,.1f} M activation values "
            f"per sample, ~{mb:,.0f} MB for {how}, over max_model_mb ({spec.max_model_mb:,.0f}); resize the inputs "
            "or the model, or raise max_model_mb")
