"""Knobs: the fields of a step spec a person turns in the explorer, declared as field metadata on the spec
itself (``json_schema_extra=knob(...)``), so a new technique brings its controls with it.

A knob is a number with a range and a step; its name is the field's (or, for a knob that is not a field,
the name the spec's ``from_knobs`` reads). Pure data: no widgets here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel


@dataclass(frozen=True)
class Knob:
    """One control: ``name`` (field), ``label`` (shown), range ``low``..``high`` by ``step``, ``default``."""

    name: str
    label: str
    low: float
    high: float
    step: float
    default: float

    @property
    def integer(self) -> bool:
        return all(float(v).is_integer() for v in (self.low, self.high, self.step, self.default))

    def value(self, v: float) -> int | float:
        """``v`` as the knob's type (an integer knob gives an int)."""
        return int(round(v)) if self.integer else float(v)


def knob(label: str, low: float, high: float, step: float = 1, default: float | None = None) -> dict[str, Any]:
    """Field metadata marking a step spec's field as a knob: ``Field(json_schema_extra=knob("sparsity", .1, .95,
    .05))``. ``default`` is the control's start value (else the field's default)."""
    return {"knob": {"label": label, "low": low, "high": high, "step": step, "default": default}}


def field_knobs(spec: type[BaseModel]) -> tuple[Knob, ...]:
    """The knobs declared on ``spec``'s fields, in field order."""
    out = []
    for name, info in spec.model_fields.items():
        extra = info.json_schema_extra
        meta = extra.get("knob") if isinstance(extra, dict) else None
        if isinstance(meta, dict):
            m: dict[str, Any] = dict(meta)
            default = m["default"] if m["default"] is not None else info.default
            out.append(Knob(name, str(m["label"]), float(m["low"]), float(m["high"]), float(m["step"]), float(default)))
    return tuple(out)
