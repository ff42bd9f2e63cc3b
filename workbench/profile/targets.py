"""Launch the runner on a target: a fresh local child process (default) or a remote device over SSH."""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from workbench.catalog import RUNTIMES, display_name
from workbench.errors import ModelFileError, ProfileError
from workbench.profile.request import ProfileRequest
from workbench.profile.result import ProfileResult, parse_result
from workbench.spec import TargetSpec

RUNNER = Path(__file__).with_name("runner.py")
BACKENDS = RUNNER.with_name("runners")  # runners/<runtime>.py: what differs per runtime
#: the model formats each runtime reads, by file suffix (from the catalogue)
FORMATS = {name: r.formats for name, r in RUNTIMES.items()}


def _interpret_exit(source: str, code: int, result_text: str | None, stderr: str) -> dict[str, Any]:
    if result_text:
        try:
            result = json.loads(result_text)
        except json.JSONDecodeError as exc:
            raise ProfileError(f"{source}: runner output is not JSON ({exc})") from None
        if not isinstance(result, dict):
            raise ProfileError(f"{source}: runner output is not a JSON object")
        if "error" in result:
            raise ProfileError(f"{source}: runner failed: {result['error']}")
        return result
    if code < 0:
        name = signal.Signals(-code).name
        hint = " (the runtime crashed loading it: the file is likely corrupt or truncated)" if code == -11 else ""
        raise ProfileError(f"{source}: runner killed by {name}{hint}")
    last = stderr.strip().splitlines()[-1] if stderr.strip() else "no output"
    raise ProfileError(f"{source}: runner exited with status {code} and no result ({last})")


def run_local(model_path: Path, target: TargetSpec, input_samples: np.ndarray | None = None,
              timeout_s: float | None = None) -> ProfileResult:
    """Profile ``model_path`` in a fresh local Python process (NumPy + the target's runtime only)."""
    with tempfile.TemporaryDirectory(prefix="wb-profile-") as tmp:
        input_path = None
        if input_samples is not None and target.input_source == "test":
            input_path = Path(tmp) / "inputs.npy"
            np.save(input_path, np.asarray(input_samples, dtype=np.float32), allow_pickle=False)
        out = Path(tmp) / "result.json"
        req_path = Path(tmp) / "request.json"
        req_path.write_text(ProfileRequest.from_target(model_path, target, input_path, out).to_json())
        env = {k: v for k, v in os.environ.items() if not k.startswith(("TF_", "OMP_"))}
        limit = timeout_s or target.max_seconds + 120
        err_path = Path(tmp) / "stderr.txt"
        with open(err_path, "w") as err:
            proc = subprocess.Popen([sys.executable, str(RUNNER), str(req_path)], stdout=subprocess.DEVNULL,
                                    stderr=err, env=env)
            external_peak_mb, timed_out = _poll_peak_rss(proc, limit)
        if timed_out:
            raise ProfileError(f"{model_path}: runner did not finish within {limit:g}s")
        text = out.read_text() if out.exists() else None
        raw = _interpret_exit(str(model_path), proc.returncode, text, err_path.read_text(errors="replace"))
        raw["external_peak_rss_mb"] = external_peak_mb  # the parent's own view, for cross-checking
        return _parse(str(model_path), raw)


def _poll_peak_rss(proc: subprocess.Popen[bytes], limit_s: float, every_s: float = 0.002) -> tuple[float, bool]:
    """Wait for ``proc`` while sampling its resident set from outside; returns (largest sample in MB,
    whether it was killed for running past ``limit_s``)."""
    import time

    import psutil

    peak = 0
    deadline = time.monotonic() + limit_s
    try:
        ps = psutil.Process(proc.pid)
        while proc.poll() is None:
            try:
                peak = max(peak, ps.memory_info().rss)
            except (psutil.NoSuchProcess, psutil.ZombieProcess):
                break
            if time.monotonic() > deadline:
                proc.kill()
                proc.wait()
                return peak / 2**20, True
            time.sleep(every_s)
    except psutil.NoSuchProcess:
        pass
    proc.wait()
    return peak / 2**20, False


def run_ssh(model_path: Path, target: TargetSpec, input_samples: np.ndarray | None = None,
            ssh_options: tuple[str, ...] = (), timeout_s: float | None = None) -> ProfileResult:
    """Copy runner (protocol + the target runtime's backend), model and inputs to ``target.host`` over SSH,
    run there with ``target.remote_python`` (which needs NumPy and that runtime), bring the JSON back. The device fingerprint comes from the
    runner on the device itself."""
    assert target.host, "run_ssh needs target.host"
    python = target.remote_python
    opts = ["-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=accept-new", "-o", "ConnectTimeout=20",
            *(["-i", target.ssh_key] if target.ssh_key else []), *ssh_options]
    ssh_opts = [*opts, "-p", str(target.ssh_port)]
    scp_opts = [*opts, "-P", str(target.ssh_port)]
    with tempfile.TemporaryDirectory(prefix="wb-ssh-") as tmp:
        remote_dir = subprocess.run(["ssh", *ssh_opts, target.host, 'd="$(mktemp -d)" && mkdir "$d/runners" && echo "$d"'],
                                    capture_output=True, text=True, timeout=60)
        if remote_dir.returncode != 0:
            raise ProfileError(f"ssh {target.host}: cannot connect ({remote_dir.stderr.strip()[:200]})")
        rdir = remote_dir.stdout.strip()
        files = [RUNNER, model_path]
        input_remote = None
        if input_samples is not None and target.input_source == "test":
            local_in = Path(tmp) / "inputs.npy"
            np.save(local_in, np.asarray(input_samples, dtype=np.float32), allow_pickle=False)
            files.append(local_in)
            input_remote = Path(rdir) / "inputs.npy"
        req = ProfileRequest.from_target(Path(rdir) / model_path.name, target, input_remote)
        req_local = Path(tmp) / "request.json"
        req_local.write_text(req.to_json())
        files.append(req_local)
        cp = subprocess.run(["scp", "-q", *scp_opts, *map(str, files), f"{target.host}:{rdir}/"],
                            capture_output=True, text=True, timeout=300)
        if cp.returncode == 0:
            cp = subprocess.run(["scp", "-q", *scp_opts, str(BACKENDS / f"{target.runtime}.py"),
                                 f"{target.host}:{rdir}/runners/"], capture_output=True, text=True, timeout=60)
        if cp.returncode != 0:
            raise ProfileError(f"scp to {target.host}: {cp.stderr.strip()[:200]}")
        cmd = f"cd {shlex.quote(rdir)} && {python} runner.py request.json; rc=$?; rm -rf {shlex.quote(rdir)}; exit $rc"
        try:
            proc = subprocess.run(["ssh", *ssh_opts, target.host, cmd], capture_output=True, text=True,
                                  timeout=timeout_s or target.max_seconds + 180)
        except subprocess.TimeoutExpired:
            raise ProfileError(f"{target.host}: remote runner did not finish in time") from None
        lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
        source = f"{target.host}:{model_path.name}"
        raw = _interpret_exit(source, proc.returncode, lines[-1] if lines else None, proc.stderr)
        if isinstance(raw.get("device"), dict):  # else parsing names the missing fingerprint
            raw["device"]["remote"] = target.host
        return _parse(source, raw)


def _parse(source: str, raw: dict[str, Any]) -> ProfileResult:
    try:
        return parse_result(raw)
    except ProfileError as exc:
        raise ProfileError(f"{source}: {exc}") from None


def profile_model(model_path: str | Path, target: TargetSpec, input_samples: np.ndarray | None = None,
                  **kwargs: Any) -> ProfileResult:
    """Profile a model file on ``target`` (local unless ``target.host`` is set), on ``target.runtime``.

    Args:
        model_path: the .tflite (LiteRT, OpenVINO) or .onnx (ONNX Runtime, OpenVINO) file.
        target: runtime options and, with ``host``, the SSH device.
        input_samples: real inputs (used when ``target.input_source == "test"``); None = generated.
        **kwargs: passed to ``run_local`` / ``run_ssh`` (``timeout_s``, ``ssh_options``).

    Raises:
        ModelFileError: the file is missing, not a model, or not a format the runtime reads.
        ProfileError: the runner failed, timed out or returned a malformed result.
    """
    path = Path(model_path)
    check_model_file(path, target.runtime)  # one-line ModelFileError for missing / wrong / truncated files
    if target.host:
        return run_ssh(path, target, input_samples, **kwargs)
    return run_local(path, target, input_samples, **kwargs)




def check_model_file(path: Path, runtime: str) -> None:
    """A cheap check that ``path`` is a model file ``runtime`` reads (before a child may crash on it).

    Raises:
        ModelFileError: missing or empty file, a format the runtime does not read, or not a .tflite / .onnx
            inside.
    """
    from workbench.tflite_model import read_tflite

    suffixes, suffix = FORMATS[runtime], path.suffix.lower()
    if any(suffix in fmts for fmts in FORMATS.values()) and suffix not in suffixes:
        others = [rt for rt, fmts in FORMATS.items() if suffix in fmts]
        raise ModelFileError(f"{path}: {display_name(runtime)} runs {' and '.join(suffixes)} files, not {suffix}; "
                             f"profile it with --runtime {' or '.join(others)}")
    kind = suffix if suffix in suffixes else suffixes[0]  # no known suffix: by content, as the runtime's own format
    if kind == ".tflite":
        read_tflite(path)
        return
    try:
        head = path.read_bytes()[:16]
    except FileNotFoundError:
        raise ModelFileError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise ModelFileError(f"{path}: is a directory, expected a {' or '.join(suffixes)} file") from None
    if kind == ".onnx" and (len(head) < 2 or head[0] != 0x08):  # a ModelProto starts with ir_version (tag 1)
        raise ModelFileError(f"{path}: not an ONNX model (no ModelProto header)")
    if not head:  # other formats: the runtime's own loader says what is wrong
        raise ModelFileError(f"{path}: is empty")
