"""The notebooks kept in the repository hold no outputs: what a run adds (tables, charts, widget state, 1,900
lines for one sensitivity run) would land in every diff. ``strip_outputs`` clears a notebook's outputs and
execution counts; ``strip_on_save`` is the JupyterLab pre-save hook ``make lab`` sets
(``--ContentsManager.pre_save_hook``), so a notebook saved in a ``notebooks/`` folder is written without them
(the open tab keeps showing them). A copy saved in any other folder keeps its outputs.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

#: a notebook saved in a folder of this name is written without outputs
SHIPPED_FOLDER = "notebooks"


def strip_outputs(notebook: Mapping[str, Any]) -> int:
    """Clear every code cell's outputs and execution count in place (a notebook as JSON, or nbformat's node);
    returns how many cells had any."""
    changed = 0
    for cell in notebook.get("cells", []):
        if cell.get("cell_type") != "code":
            continue
        if cell.get("outputs") or cell.get("execution_count") is not None:
            changed += 1
        cell["outputs"] = []
        cell["execution_count"] = None
    return changed


def strip_on_save(model: dict[str, Any], path: str, contents_manager: Any = None, **_: Any) -> None:
    """Jupyter server's pre-save hook: a notebook saved under a ``notebooks/`` folder loses its outputs."""
    if model.get("type") != "notebook" or not isinstance(model.get("content"), Mapping):
        return
    root = Path(getattr(contents_manager, "root_dir", "") or ".")
    if (root / path.lstrip("/")).resolve().parent.name == SHIPPED_FOLDER:
        strip_outputs(model["content"])


def strip_files(paths: list[str]) -> list[str]:
    """Strip the notebooks at ``paths`` on disk (written as nbformat writes them, through symlinks); returns the
    paths that changed. ``make strip-notebooks`` runs it on every notebook git tracks."""
    import nbformat

    changed = []
    for path in paths:
        notebook = nbformat.read(path, as_version=nbformat.NO_CONVERT)
        if strip_outputs(notebook):
            Path(path).write_text(nbformat.writes(notebook) + "\n", encoding="utf-8")
            changed.append(path)
    return changed


if __name__ == "__main__":
    import sys

    strip_files(sys.argv[1:])
