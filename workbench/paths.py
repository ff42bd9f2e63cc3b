"""Where the project is: notebooks resolve their relative paths against the project root, not the kernel's
working directory (JupyterLab starts a kernel in the notebook's folder, ``notebooks/``).

The project root is, in order: ``$WORKBENCH_ROOT``; the nearest folder, from the working directory up, that
holds an ``experiments/`` folder; the source checkout this package was imported from (when it holds
``experiments/`` and ``pyproject.toml``); else the working directory. ``make demo`` and ``make ui`` run in
the checkout, so a notebook opened from ``notebooks/`` finds the same ``mlflow.db`` and ``.workbench/``.
"""

from __future__ import annotations

import os
from pathlib import Path

ENV_ROOT = "WORKBENCH_ROOT"
MARKER = "experiments"


def _checkout() -> Path | None:
    here = Path(__file__).resolve().parent.parent
    return here if (here / MARKER).is_dir() and (here / "pyproject.toml").is_file() else None


def project_root(start: str | Path | None = None) -> Path:
    """The project root (see the module docstring), as an absolute path. ``start`` defaults to the cwd."""
    env = os.environ.get(ENV_ROOT)
    if env:
        return Path(env).expanduser().resolve()
    here = Path(start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / MARKER).is_dir():
            return folder
    return _checkout() or here


def resolve(path: str | Path, root: Path) -> Path:
    """``path`` if absolute, else ``root / path``; a relative path that exists only from the working
    directory (``../experiments/x.yaml`` typed in ``notebooks/``) is taken from there."""
    p = Path(path).expanduser()
    if p.is_absolute():
        return p
    if not (root / p).exists() and p.exists():
        return p.resolve()
    return (root / p).resolve()
