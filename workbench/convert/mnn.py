"""``.tflite`` -> ``.mnn`` with MNN's own converter (MNNConvert, from the ``mnn`` package), for MNN.

The converter runs in a subprocess with a timeout: on a file it cannot read it may crash (a bad flatbuffer
ends in SIGSEGV), and its console wrapper (``mnnconvert``) would try to reach a logging service and pip
install a package, so the converter's own function (``_tools.mnnconvert``) is called directly. A failure
raises ``ModelFileError`` with MNN's reason in one line.
"""

from __future__ import annotations

import re
import signal
import subprocess
import sys
from pathlib import Path

from workbench.errors import ModelFileError
from workbench.files import atomic_write

#: the converter's own function, without the console wrapper's telemetry
_CONVERT = "import sys, _tools; sys.exit(0 if _tools.mnnconvert(['mnnconvert', *sys.argv[1:]]) else 1)"
#: lines of MNNConvert's output that carry a reason
_REASON = re.compile(r"error|not support|unsupport|fail|can't|cannot|invalid", re.IGNORECASE)


def convert_mnn(tflite: Path, out_path: Path, timeout_s: float = 600.0) -> None:
    """Convert the ``.tflite`` at ``tflite`` into an ``.mnn`` at ``out_path`` (written atomically).

    Raises:
        ModelFileError: MNNConvert failed, crashed or timed out (its reason, one line).
    """
    tmp = out_path.with_name(out_path.name + ".converting")
    cmd = [sys.executable, "-c", _CONVERT, "-f", "TFLITE", "--modelFile", str(tflite), "--MNNModel", str(tmp),
           "--bizCode", "workbench"]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, errors="replace", timeout=timeout_s)
    except subprocess.TimeoutExpired:
        tmp.unlink(missing_ok=True)
        raise ModelFileError(f"{tflite.name}: MNNConvert did not finish within {timeout_s:g}s") from None
    try:
        if proc.returncode != 0 or not tmp.exists() or tmp.stat().st_size == 0:
            raise ModelFileError(f"{tflite.name}: MNNConvert cannot convert it ({reason(proc)})")
        atomic_write(out_path, tmp.read_bytes())
    finally:
        tmp.unlink(missing_ok=True)


def reason(proc: subprocess.CompletedProcess[str]) -> str:
    """MNNConvert's reason in one line: the first line that says what failed, else its last line, plus
    how it ended (a signal, a status)."""
    lines = [re.sub(r"^\[[\d:]+\]\s*(\S*:\d+:\s*)?", "", ln).strip() for ln in
             (proc.stdout + "\n" + proc.stderr).splitlines()]
    lines = [ln for ln in lines if ln and not ln.startswith("The device supports")]
    said = next((ln for ln in lines if _REASON.search(ln)), lines[-1] if lines else "")
    code = proc.returncode
    ended = (f"killed by {signal.Signals(-code).name}" if code < 0 else f"exit status {code}") if code else "no file written"
    return f"{said[:300]}; {ended}" if said else ended
