"""Hold back TensorFlow's and LiteRT's log lines while a notebook call runs.

TensorFlow writes its C++ log lines (oneDNN, CUDA probing, the converter's ``fully_quantize: ...``) straight
to file descriptors 1 and 2, before its own log level applies, and its Python logger prints INFO lines
for every SavedModel the converter writes: in a notebook they bury the tables. ``quiet_native_output``
sends descriptors 1 and 2 to a temporary file and raises the ``tensorflow``/``absl`` loggers to ERROR for
the duration of a block; when the block raises, what was held back is written to stderr after all, so
nothing needed to debug a failure is lost.
"""

from __future__ import annotations

import ctypes
import logging
import os
import sys
import tempfile
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

LOGGERS = ("tensorflow", "absl", "h5py")


def _flush_c_streams() -> None:
    try:
        ctypes.CDLL(None).fflush(None)  # C stdio buffers, so their text lands where it was written
    except (OSError, AttributeError):  # pragma: no cover - no libc symbol table (not Linux/macOS)
        pass


@contextmanager
def quiet_native_output() -> Iterator[None]:
    """Hold back native stdout/stderr output, TF/absl INFO and WARNING logging and Python warnings."""
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    _flush_c_streams()
    loggers = [logging.getLogger(name) for name in LOGGERS]
    levels = [lg.level for lg in loggers]
    with tempfile.TemporaryFile() as held, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        saved = os.dup(1), os.dup(2)
        os.dup2(held.fileno(), 1)
        os.dup2(held.fileno(), 2)
        for lg in loggers:
            lg.setLevel(logging.ERROR)
        try:
            yield
        except BaseException:
            _restore(saved, loggers, levels)
            held.seek(0)
            text = held.read().decode(errors="replace")
            if text.strip():
                sys.stderr.write(text)
            raise
        else:
            _restore(saved, loggers, levels)


def _restore(saved: tuple[int, int], loggers: list[logging.Logger], levels: list[int]) -> None:
    _flush_c_streams()
    for fd, copy in zip((1, 2), saved, strict=True):
        os.dup2(copy, fd)
        os.close(copy)
    for lg, level in zip(loggers, levels, strict=True):
        if lg.level == logging.ERROR:  # unless the block set it itself (importing TensorFlow does)
            lg.setLevel(level)
