"""Shared fixtures: tiny data, tiny models, a temporary project root with a fast experiment file."""

from __future__ import annotations

import os
import socket
import textwrap
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parent.parent
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.pop("MLFLOW_TRACKING_URI", None)  # tests use temporary embedded stores

FAST_TARGET = textwrap.dedent("""\
    target: {threads: 1, warmup_runs: 2, min_runs: 20, min_seconds: 0.05, max_seconds: 2}
    """)


def write_experiment(root: Path, name: str = "tiny", variants: str | None = None, epochs: int = 6,
                     extra: str = "") -> Path:
    """A fast digits experiment under ``root/experiments``."""
    body = variants or textwrap.dedent("""\
        variants:
          - {name: float32, quantization: float32}
          - {name: int8, quantization: int8}
        """)
    text = (f"name: {name}\n"
            f"baseline: {{model: digits_cnn, model_args: {{width: 0.5, dense: 32}}, dataset: digits,"
            f" training: {{epochs: {epochs}, batch_size: 32, learning_rate: 0.005, seed: 0}}}}\n"
            f"calibration_samples: 50\n{FAST_TARGET}{extra}{body}")
    path = root / "experiments" / f"{name}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A temporary working directory (embedded MLflow store lands here)."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture(scope="session")
def digits():
    from workbench.data import load_dataset

    return load_dataset("digits")


@pytest.fixture(scope="session")
def tiny_model(digits):
    """A trained 2-epoch half-width digits CNN (tf_keras)."""
    from workbench.models import digits_cnn, seed_everything, train_baseline
    from workbench.spec import TrainingSpec

    seed_everything(0)
    model = digits_cnn(digits.input_shape, digits.num_classes, width=0.5, dense=32)
    train_baseline(model, digits, TrainingSpec(epochs=3, batch_size=64))
    return model


@pytest.fixture(scope="session")
def tiny_tflite(tmp_path_factory, tiny_model) -> Path:
    from workbench.convert import convert

    path = tmp_path_factory.mktemp("tfl") / "tiny.tflite"
    path.write_bytes(convert(tiny_model, "float32"))
    return path


def rng_images(n: int, shape=(8, 8, 1)) -> np.ndarray:
    return np.random.default_rng(0).uniform(0, 1, size=(n, *shape)).astype(np.float32)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now (servers the tests start; closed ports)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def alive_pids(pids: list[int]) -> list[int]:
    """Those of ``pids`` still running (a zombie has ended)."""
    import psutil

    out = []
    for pid in pids:
        try:
            if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                out.append(pid)
        except psutil.NoSuchProcess:
            pass
    return out


def pytest_sessionfinish(session: pytest.Session) -> None:
    """The fault table's rows, recorded by every process that ran a fault case (tests/e2e/fault_rows.py), joined
    into ``<basetemp>/fault-cases.md`` once the last test has ended (by the xdist controller, or the only
    process)."""
    if hasattr(session.config, "workerinput"):  # an xdist worker: the controller joins what they recorded
        return
    factory = getattr(session.config, "_tmp_path_factory", None)
    if factory is None or getattr(factory, "_basetemp", None) is None:  # no test used a temporary folder
        return
    from tests.e2e.fault_rows import write_table

    write_table(factory.getbasetemp())
