"""What a number depends on besides the spec: library versions, CPU, git commit (the run tags: tracking.provenance_tags).

Read from package metadata and /proc, without importing the libraries themselves.
"""

from __future__ import annotations

import platform
import subprocess
from functools import lru_cache
from importlib import metadata
from pathlib import Path

from workbench.catalog import RUNTIMES

#: short name -> pip distribution, for the version tags of every run (each runtime's from the catalogue)
PACKAGES = {
    "tensorflow": "tensorflow",
    "tf_keras": "tf-keras",
    "tfmot": "tensorflow-model-optimization",
    **{r.name: r.package for r in RUNTIMES.values()},
    "mlflow": "mlflow",
    "numpy": "numpy",
    "papermill": "papermill",
}


def versions() -> dict[str, str]:
    out = {}
    for short, dist in PACKAGES.items():
        try:
            out[short] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[short] = "not installed"
    out["python"] = platform.python_version()
    return out


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


@lru_cache(maxsize=1)
def git_commit(root: str | None = None) -> str:
    here = root or str(Path(__file__).resolve().parent.parent)
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, timeout=5)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=here,
                               capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    if out.returncode != 0:
        return "unknown"
    return out.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")
