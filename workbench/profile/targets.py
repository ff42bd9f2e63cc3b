"""Launch the runner on a target: a fresh local child process (default) or a remote device over SSH."""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from workbench.catalog import RUNTIMES, display_name
from workbench.errors import ModelFileError, ProfileError
from workbench.files import refuse_special
from workbench.profile.request import ProfileRequest
from workbench.profile.result import ProfileResult, parse_result
from workbench.spec import TargetSpec

RUNNER = Path(__file__).with_name("runner.py")
BACKENDS = RUNNER.with_name("runners")  # runners/<runtime>.py: what differs per runtime
#: the model formats each runtime reads, by file suffix (from the catalogue)
FORMATS = {name: r.formats for name, r in RUNTIMES.items()}


#: distinct input feeds the runner keeps per input (runner.py MAX_SAMPLE_BUFFERS): only these samples are sent
MAX_SAMPLE_BUFFERS = 8
Samples = np.ndarray | Mapping[str, np.ndarray]


def _interpret_exit(source: str, code: int, result_text: str | None, stderr: str) -> dict[str, Any]:
    if result_text:
        try:
            result = json.loads(result_text)
        except json.JSONDecodeError as exc:
            raise ProfileError(f"{source}: runner output is not JSON ({exc})") from None
        if not isinstance(result, dict):
            raise ProfileError(f"{source}: runner output is not a JSON object")
        if "error" in result:
            if result.get("input_error"):  # the inputs asked for do not fit the model: the runner says how
                raise ProfileError(f"{source}: {result['error']}")
            raise ProfileError(f"{source}: runner failed: {result['error']}")
        return result
    if code < 0:
        name = signal.Signals(-code).name
        hint = " (the runtime crashed loading it: the file is likely corrupt or truncated)" if code == -11 else ""
        raise ProfileError(f"{source}: runner killed by {name}{hint}")
    last = stderr.strip().splitlines()[-1] if stderr.strip() else "no output"
    raise ProfileError(f"{source}: runner exited with status {code} and no result ({last})")


def save_samples(samples: Samples, folder: Path, batch: int) -> Path:
    """Write the samples the runner reads: an .npy (one array: a single-input model) or an .npz keyed by input
    name; only the first ``MAX_SAMPLE_BUFFERS`` feeds' worth of samples, the runner never uses more."""
    keep = MAX_SAMPLE_BUFFERS * max(1, batch)
    if isinstance(samples, Mapping):
        path = folder / "inputs.npz"
        arrays: dict[str, Any] = {str(k): np.asarray(v)[:keep] for k, v in samples.items()}
        np.savez(path, **arrays)
        return path
    path = folder / "inputs.npy"
    x = np.asarray(samples)[:keep]
    np.save(path, x.astype(np.float32) if x.dtype.kind == "f" else x, allow_pickle=False)
    return path


def placement(target: TargetSpec, cores: set[int]) -> tuple[list[int] | None, str]:
    """The cores the local runner is pinned to (None: not pinned) and a note for the result. ``cpu_pin`` wins;
    otherwise a target that needs fewer cores than there are gets the highest-numbered ones, so the
    supervising process can keep to the others."""
    if target.cpu_pin is not None:
        return sorted(target.cpu_pin), "pinned by cpu_pin"
    needed = target.threads * (target.clients if target.load_seconds > 0 else 1)
    if needed >= len(cores):
        return None, (f"not pinned: the runner needs {needed} core(s) of {len(cores)}, so the supervising "
                      "process shares its cores")
    return sorted(cores)[-needed:], f"pinned to {needed} of {len(cores)} cores; the supervising process kept off them"


def _set_thread_affinity(cores: set[int]) -> dict[int, set[int]]:
    """Move every thread of this process to ``cores``; returns each thread's affinity before."""
    before = {}
    for tid in (int(t) for t in os.listdir("/proc/self/task")):
        try:
            before[tid] = os.sched_getaffinity(tid)
            os.sched_setaffinity(tid, cores)
        except OSError:  # the thread ended meanwhile
            pass
    return before


def _restore_affinity(before: dict[int, set[int]]) -> None:
    for tid, cores in before.items():
        try:
            os.sched_setaffinity(tid, cores)
        except OSError:
            pass


def _wait(proc: subprocess.Popen[bytes], limit_s: float) -> tuple[float, bool]:
    """Block until ``proc`` ends (no polling: the child is never disturbed); returns (its peak resident set
    in MB from the kernel's rusage, whether it was killed for running past ``limit_s``)."""
    killed = threading.Event()

    def kill() -> None:
        killed.set()
        proc.kill()

    timer = threading.Timer(limit_s, kill)
    timer.start()
    try:
        _, status, usage = os.wait4(proc.pid, 0)
    finally:
        timer.cancel()
    proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here: Popen must not wait for it again
    return usage.ru_maxrss / 1024.0, killed.is_set()


def run_local(model_path: Path, target: TargetSpec, input_samples: Samples | None = None,
              timeout_s: float | None = None, layer_runs: int = 0) -> ProfileResult:
    """Profile ``model_path`` in a fresh local Python process (NumPy + the target's runtime only), pinned away
    from this (supervising) process when there are cores to spare."""
    with tempfile.TemporaryDirectory(prefix="wb-profile-") as tmp:
        input_path = None
        if input_samples is not None and target.input_source == "test":
            input_path = save_samples(input_samples, Path(tmp), target.batch)
        out = Path(tmp) / "result.json"
        req_path = Path(tmp) / "request.json"
        req_path.write_text(ProfileRequest.from_target(model_path, target, input_path, out, layer_runs).to_json())
        env = {k: v for k, v in os.environ.items() if not k.startswith(("TF_", "OMP_"))}
        limit = timeout_s or target.max_seconds + 120
        err_path = Path(tmp) / "stderr.txt"
        cores = os.sched_getaffinity(0)
        child_cpus, note = placement(target, cores)
        others = cores - set(child_cpus or ())
        before: dict[int, set[int]] = {}
        with open(err_path, "w") as err:
            proc = subprocess.Popen([sys.executable, str(RUNNER), str(req_path)], stdout=subprocess.DEVNULL,
                                    stderr=err, env=env)
            try:
                if child_cpus is not None:
                    try:
                        os.sched_setaffinity(proc.pid, child_cpus)
                    except OSError as exc:
                        proc.kill()
                        raise ProfileError(f"cpu_pin {child_cpus}: cannot pin the runner there ({exc.strerror}); "
                                           f"this machine's cores: {sorted(cores)}") from None
                    if others:
                        before = _set_thread_affinity(others)
                external_peak_mb, timed_out = _wait(proc, limit)
            finally:
                _restore_affinity(before)
        if timed_out:
            raise ProfileError(f"{model_path}: runner did not finish within {limit:g}s")
        text = out.read_text() if out.exists() else None
        raw = _interpret_exit(str(model_path), proc.returncode, text, err_path.read_text(errors="replace"))
        # the kernel's lifetime peak for the child (Linux counts the launching process's image at spawn too):
        # an upper bound on every figure the runner reports, taken without ever interrupting it
        raw["external_peak_rss_mb"] = external_peak_mb
        raw["placement"] = {"runner_cpus": child_cpus, "supervisor_cpus": sorted(others) if before else sorted(cores),
                            "cpu_count": len(cores), "note": note}
        return _parse(str(model_path), raw)


def run_ssh(model_path: Path, target: TargetSpec, input_samples: Samples | None = None,
            ssh_options: tuple[str, ...] = (), timeout_s: float | None = None, layer_runs: int = 0) -> ProfileResult:
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
            local_in = save_samples(input_samples, Path(tmp), target.batch)
            files.append(local_in)
            input_remote = Path(rdir) / local_in.name
        req = ProfileRequest.from_target(Path(rdir) / model_path.name, target, input_remote, layer_runs=layer_runs)
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


def profile_model(model_path: str | Path, target: TargetSpec, input_samples: Samples | None = None,
                  **kwargs: Any) -> ProfileResult:
    """Profile a model file on ``target`` (local unless ``target.host`` is set), on ``target.runtime``.

    Args:
        model_path: the .tflite (LiteRT, OpenVINO) or .onnx (ONNX Runtime, OpenVINO) file.
        target: runtime options and, with ``host``, the SSH device.
        input_samples: real inputs (used when ``target.input_source == "test"``): one array (N, ...) for a
            single-input model, or {input name: array} for any model; inputs without samples are generated.
        **kwargs: passed to ``run_local`` / ``run_ssh`` (``timeout_s``, ``ssh_options``, ``layer_runs``).

    Raises:
        ModelFileError: the file is missing, not a model, or not a format the runtime reads.
        ProfileError: the runner failed, timed out or returned a malformed result.
    """
    path = Path(model_path)
    check_model_file(path, target.runtime)  # one-line ModelFileError for missing / wrong / truncated files
    if target.host:
        result = run_ssh(path, target, input_samples, **kwargs)
        _remember_device(target, result)
        return result
    return run_local(path, target, input_samples, **kwargs)


def _remember_device(target: TargetSpec, result: ProfileResult) -> None:
    """Record the CPUs the runner could use on ``target.host`` (its affinity there; else 0..cpu_count-1) in the
    project's ``workbench.devices`` record: ``validate`` checks the next experiment's threads, CPU pins and load
    clients for that device against them."""
    from workbench.devices import record_device
    from workbench.paths import project_root

    assert target.host
    cpus = result.raw.get("affinity")
    if not (isinstance(cpus, list) and cpus and all(isinstance(c, int) and c >= 0 for c in cpus)):
        count = result.device.get("cpu_count")
        cpus = list(range(count)) if count else None
    if cpus:
        record_device(target.host, target.ssh_port, cpus, result.device.get("cpu_model", ""), project_root())




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
    refuse_special(path, "model", ModelFileError)
    try:
        with open(path, "rb") as f:
            head = f.read(16)
    except FileNotFoundError:
        raise ModelFileError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise ModelFileError(f"{path}: is a directory, expected a {' or '.join(suffixes)} file") from None
    if kind == ".onnx" and (len(head) < 2 or head[0] != 0x08):  # a ModelProto starts with ir_version (tag 1)
        raise ModelFileError(f"{path}: not an ONNX model (no ModelProto header)")
    if not head:  # other formats: the runtime's own loader says what is wrong
        raise ModelFileError(f"{path}: is empty")
