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
    """True when ``layer`` is of a supported type and matches ``selection`` (types and name regexes)."""
    kind = type(layer).__name__
    if kind not in supported:
        return False
    if selection.types and kind not in selection.types:
        return False
    return not selection.names or any(re.search(p, layer.name) for p in selection.names)


def copy_model(model: Any) -> Any:
    """A new model with the same architecture and weights; sharing no layer or variable with ``model``."""
    copy = keras.models.clone_model(model)
    copy.set_weights(model.get_weights())
    return copy


def rewrite(model: Any, selection: LayerSelection, wrap: Callable[[Any], Any], what: str,
            supported: tuple[str, ...] = WEIGHTED) -> tuple[Any, list[str]]:
    """A copy of ``model`` with ``wrap`` applied to every selected layer, and the selected layers' names.

    ``wrap`` receives layers of a private copy (it may reuse them, the tfmot idiom, so trained weights carry
    over); ``model`` itself is never modified.

    Raises:
        SpecError: no supported layer is selected; the message lists the model's layers.
    """
    chosen: list[str] = []

    def clone(layer: Any) -> Any:
        if selected(layer, selection, supported):
            chosen.append(layer.name)
            return wrap(layer)
        return layer

    new = keras.models.clone_model(copy_model(model), clone_function=clone)
    if not chosen:
        names = [f"{lay.name} ({type(lay).__name__})" for lay in model.layers]
        raise SpecError(f"{what}: layers {selection.describe()} match no supported layer "
                        f"({', '.join(supported)}); the model has: {', '.join(names)}")
    return new, chosen


def unreached(model: Any, selection: LayerSelection, what: str, supported: tuple[str, ...] = WEIGHTED) -> tuple[str, ...]:
    """Notes naming the layers ``rewrite`` cannot reach: it rewrites the top level only, so a nested model's
    selectable layers (a backbone inside a functional model) are left as they were; said, never silent."""
    notes = []
    for layer in model.layers:
        inner = [lay for lay in _all_layers(layer) if selected(lay, selection, supported)]
        if inner:
            shown = ", ".join(lay.name for lay in inner[:5]) + (f" and {len(inner) - 5} more" if len(inner) > 5 else "")
            notes.append(f"{what} did not reach the {len(inner)} layer(s) inside the nested model '{layer.name}' "
                         f"({shown}): only top-level layers are rewritten, so they are unchanged")
    return tuple(notes)


def _all_layers(layer: Any) -> list[Any]:
    """Every layer inside ``layer`` when it is a model (nested models included); [] for a plain layer."""
    if not isinstance(layer, keras.Model):
        return []
    out = []
    for inner in layer.layers:
        out.extend([inner, *_all_layers(inner)])
    return out
