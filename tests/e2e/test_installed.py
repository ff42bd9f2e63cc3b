"""The package installed NON-editable into a fresh environment runs a one-variant sweep from a folder outside
the checkout: what a sweep reads or runs by path (the variant notebook, the profile runner's backends) travels
in the wheel as package data.

The fresh environment reuses the shared one's dependencies instead of installing TensorFlow again: a ``.pth``
file names the shared site-packages. A path added by a ``.pth`` does not get its own ``.pth`` files processed,
so the shared environment's editable install of this checkout stays inactive there (checked below)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import textwrap
from pathlib import Path

import pytest

from tests.conftest import REPO, write_experiment

pytestmark = pytest.mark.slow

SHARED_SITE = Path(sysconfig.get_paths()["purelib"])  # TensorFlow, MLflow, papermill, ... of this environment
PY = f"python{sys.version_info.major}.{sys.version_info.minor}"


def _env() -> dict[str, str]:
    """No path into the checkout: PYTHONPATH (the worktree) and the project root are dropped."""
    return {k: v for k, v in os.environ.items()
            if k not in ("PYTHONPATH", "WORKBENCH_ROOT", "MLFLOW_TRACKING_URI", "VIRTUAL_ENV")}


def _run(cmd: list[str], cwd: Path, timeout: float = 600) -> subprocess.CompletedProcess:
    proc = subprocess.run(cmd, cwd=cwd, env=_env(), capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, f"{cmd}\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}"
    return proc


@pytest.fixture(scope="module")
def fresh(tmp_path_factory) -> Path:
    """A fresh venv with the package installed from a wheel built from a copy of the sources."""
    base = tmp_path_factory.mktemp("installed")
    src = base / "src"  # the build writes build/ and *.egg-info beside the sources: not into the checkout
    shutil.copytree(REPO / "workbench", src / "workbench", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, src / name)
    env_dir = base / "fresh"
    _run([sys.executable, "-m", "venv", "--without-pip", str(env_dir)], cwd=base)
    site = env_dir / "lib" / PY / "site-packages"
    (site / "shared_env.pth").write_text(f"{SHARED_SITE}\n")  # pip, setuptools and every dependency
    wheels = base / "wheels"
    _run([str(env_dir / "bin" / "python"), "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
          "-w", str(wheels), str(src)], cwd=base)
    [wheel] = wheels.glob("workbench-*.whl")
    _run([str(env_dir / "bin" / "python"), "-m", "pip", "install", "-q", "--no-deps", str(wheel)], cwd=base)
    return env_dir


def test_the_wheel_carries_what_runs_by_path(fresh: Path) -> None:
    site = fresh / "lib" / PY / "site-packages"
    probe = textwrap.dedent("""\
        import json, sys, workbench
        from jupyter_client.kernelspec import KernelSpecManager
        from workbench.run.task import NOTEBOOK
        print(json.dumps({"package": workbench.__file__, "notebook": str(NOTEBOOK), "executable": sys.executable,
                          "kernel": KernelSpecManager().get_kernel_spec("python3").argv[0]}))
        """)
    found = json.loads(_run([str(fresh / "bin" / "python"), "-c", probe], cwd=fresh).stdout)
    assert Path(found["package"]).is_relative_to(site), found  # not the checkout the shared env points at
    assert Path(found["notebook"]) == site / "workbench" / "notebooks" / "variant.ipynb"
    assert Path(found["notebook"]).is_file()
    assert found["kernel"] == found["executable"]  # papermill's python3 kernel is this environment's python
    backends = {p.name for p in (site / "workbench" / "profile" / "runners").glob("*.py")}
    assert backends == {p.name for p in (REPO / "workbench" / "profile" / "runners").glob("*.py")}
    assert (site / "workbench" / "profile" / "runner.py").is_file()


def test_installed_package_sweeps_one_variant_outside_the_checkout(fresh: Path, tmp_path: Path) -> None:
    from workbench.tracking import Tracker

    write_experiment(tmp_path, epochs=2, variants="variants:\n  - {name: int8, quantization: int8}\n")
    _run([str(fresh / "bin" / "workbench"), "run", "experiments/tiny.yaml", "--workers", "1", "--no-progress"],
         cwd=tmp_path)
    executed = list(tmp_path.rglob("int8.ipynb"))  # in the work dir and as the run's artifact
    assert executed
    for nb in executed:  # the packaged notebook ran
        assert Path(json.loads(nb.read_text())["metadata"]["papermill"]["input_path"]).is_relative_to(fresh)
    tr = Tracker(root=tmp_path)
    exp = tr.experiment("tiny")
    assert exp is not None
    [run] = [r for r in tr.runs(exp.experiment_id) if r.name == "int8"]
    assert run.status == "FINISHED"
    assert {"accuracy", "latency_ms_p50", "size_bytes"} <= set(run.metrics)  # measured by the runner
