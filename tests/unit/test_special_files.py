"""User files are opened only when they are regular files (issue 20): a named pipe would block a read forever
and a device (``/dev/zero``) never ends, so each is refused in one line before it is read. No TensorFlow."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from workbench.data import load_dataset
from workbench.errors import DataError, ModelFileError, SpecError, WorkbenchError
from workbench.files import read_bounded, refuse_special
from workbench.model_files import check_model_file
from workbench.spec import load_experiment
from workbench.tflite_model import read_tflite

HEAD = "name: x\nbaseline: {model: digits_cnn, dataset: digits}\nvariants: [{name: a}]\n"


@pytest.fixture
def fifo(tmp_path: Path) -> Path:
    path = tmp_path / "f.yaml"
    os.mkfifo(path)
    return path


def test_a_named_pipe_is_refused_without_waiting_for_a_writer(fifo: Path) -> None:
    with pytest.raises(SpecError, match="named pipe"):
        load_experiment(fifo)  # would block forever if it opened the pipe for a blocking read


def test_base_on_a_pipe_or_a_device_is_refused(tmp_path: Path, fifo: Path) -> None:
    (tmp_path / "e.yaml").write_text(f"base: {fifo.name}\n" + HEAD)
    with pytest.raises(SpecError, match="named pipe"):
        load_experiment(tmp_path / "e.yaml")
    (tmp_path / "z.yaml").write_text("base: /dev/zero\n" + HEAD)
    with pytest.raises(SpecError, match="/dev/zero: is a character device"):
        load_experiment(tmp_path / "z.yaml")


def test_read_bounded_refuses_a_file_over_the_cap_and_reads_one_under_it(tmp_path: Path) -> None:
    (tmp_path / "a").write_bytes(b"x" * 11)
    with pytest.raises(WorkbenchError, match="11 bytes; the thing is limited to 10 bytes"):
        read_bounded(tmp_path / "a", 10, "thing")
    assert read_bounded(tmp_path / "a", 11, "thing") == b"x" * 11
    with pytest.raises(FileNotFoundError):
        read_bounded(tmp_path / "missing", 10, "thing")
    with pytest.raises(IsADirectoryError):
        read_bounded(tmp_path, 10, "thing")


def test_refuse_special_lets_files_missing_paths_and_wanted_folders_through(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("x")
    refuse_special(tmp_path / "f", "file")
    refuse_special(tmp_path / "missing", "file")  # the caller's own open names a missing file
    refuse_special(tmp_path, "model", folder_ok=True)
    with pytest.raises(DataError, match="is a directory"):
        refuse_special(tmp_path, "dataset", DataError)


def test_a_symlink_to_dev_zero_as_a_model_is_refused(tmp_path: Path) -> None:
    for name in ("z.tflite", "z.keras", "z.h5"):
        os.symlink("/dev/zero", tmp_path / name)
    with pytest.raises(ModelFileError, match="character device"):
        read_tflite(tmp_path / "z.tflite")
    for name in ("z.keras", "z.h5"):
        with pytest.raises(ModelFileError, match="character device"):
            check_model_file(tmp_path / name)


def test_a_pipe_as_dataset_is_refused(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "d.npz")
    with pytest.raises(DataError, match="named pipe"):
        load_dataset(str(tmp_path / "d.npz"))


def test_a_real_dataset_still_loads(tmp_path: Path) -> None:
    """The control: a regular .npz passes the check."""
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "d.npz", x_train=rng.random((20, 4, 4, 1)), y_train=np.arange(20) % 3,
             x_test=rng.random((6, 4, 4, 1)), y_test=np.arange(6) % 3)
    assert load_dataset(str(tmp_path / "d.npz")).x_train.shape == (20, 4, 4, 1)
