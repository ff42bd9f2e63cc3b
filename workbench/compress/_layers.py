"""Layer selection and model rewriting shared by the techniques."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from workbench._keras import keras
from workbench.errors import SpecError
from workbench.spec.steps import LayerSelection

WEIGHTED = ("Conv2D", "Dense", "DepthwiseConv2D", "SeparableConv2D", "Conv1D")


def selected(layer: Any, selection: LayerSelection, supported: tuple[str, ...] = WEIGHTED) -> bool:
    kind = type(layer).__name__
    if kind not in supported:
        return False
    if selection.types and kind not in selection.types:
        return False
    return not selection.names or any(re.search(p, layer.name) for p in selection.names)


def rewrite(model: Any, selection: LayerSelection, wrap: Callable[[Any], Any], what: str,
            supported: tuple[str, ...] = WEIGHTED) -> tuple[Any, list[str]]:
    """Clone ``model`` with ``wrap`` applied to every selected layer; SpecError when none is selected.

    Layers are reused, not copied (the tfmot idiom), so trained weights carry over; ``model`` is a fresh
    copy of the baseline per variant, so sharing its layer objects is safe.
    """
    chosen: list[str] = []

    def clone(layer: Any) -> Any:
        if selected(layer, selection, supported):
            chosen.append(layer.name)
            return wrap(layer)
        return layer

    new = keras.models.clone_model(model, clone_function=clone)
    if not chosen:
        names = [f"{lay.name} ({type(lay).__name__})" for lay in model.layers]
        raise SpecError(f"{what}: layers {selection.describe()} match no supported layer "
                        f"({', '.join(supported)}); the model has: {', '.join(names)}")
    return new, chosen


def steps_per_epoch(n_samples: int, batch_size: int) -> int:
    return -(-n_samples // batch_size)
