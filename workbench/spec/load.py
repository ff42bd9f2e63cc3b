"""Reading experiment files: safe YAML, ``base:`` merging, validation into one-line SpecErrors.

The only module of ``workbench.spec`` that touches files.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from workbench.errors import SpecError
from workbench.spec.experiment import ExperimentSpec, format_validation_error


def _deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def _read_yaml(path: Path, chain: tuple[Path, ...] = ()) -> dict[str, Any]:
    if path in chain:
        raise SpecError(f"{path}: 'base' files include each other in a loop")
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise SpecError(f"{path}: no such experiment file") from None
    except OSError as exc:
        raise SpecError(f"{path}: cannot read ({exc.strerror})") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise SpecError(f"{path}:{where}: malformed YAML: {problem}") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise SpecError(f"{path}: the top level must be a mapping of keys, got {type(data).__name__}")
    base = data.pop("base", None)
    if base is not None:
        if not isinstance(base, str):
            raise SpecError(f"{path}: base: must be a file path, got {base!r}")
        data = _deep_merge(_read_yaml((path.parent / base).resolve(), chain + (path,)), data)
    return data


def parse_experiment(data: dict[str, Any], source: str = "<experiment>") -> ExperimentSpec:
    """Validate a mapping into an ExperimentSpec, raising SpecError with a one-line message."""
    try:
        spec = ExperimentSpec.model_validate(data)
    except ValidationError as exc:
        raise SpecError(format_validation_error(source, exc)) from None
    try:
        spec.resolved_variants()  # matrix errors surface now, not mid-sweep
        spec.search_candidates()
    except ValueError as exc:
        raise SpecError(f"{source}: {exc}") from None
    if not spec.resolved_variants():
        raise SpecError(f"{source}: variants: the experiment defines no variants (add 'variants' or 'matrix')")
    return spec


def load_experiment(path: str | Path) -> ExperimentSpec:
    """Read, merge (``base:``) and validate an experiment YAML file."""
    p = Path(path)
    return parse_experiment(_read_yaml(p.resolve()), source=str(path))
