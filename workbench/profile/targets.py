"""Launch the runner on a target: a fresh local child process (default) or a remote device over SSH."""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from workbench.errors import ProfileError
from workbench.profile.stats import LatencyStats, latency_stats
from workbench.spec import TargetSpec

RUNNER = Path(__file__).with_name("runner.py")
RESULT_FIELDS = ("init_ms", "throughput_ips", "memory_mb", "samples_ms")


@dataclass(frozen=True)
class ProfileResult:
    """What the runner measured, plus the statistics computed from its raw samples."""

    raw: dict[str, Any]
    latency: LatencyStats = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "latency", latency_stats(self.raw["samples_ms"]))

    @property
    def memory_mb(self) -> dict[str, float]:
        return dict(self.raw["memory_mb"])

    def metrics(self) -> dict[str, float]:
        """Design metric names: latency_ms_*, latency_runs, init_ms, memory_mb_init/peak, throughput_ips;
        plus ``load_*`` when the load scenario ran."""
        mem = self.memory_mb
        out = {
            **self.latency.metrics(),
            "init_ms": float(self.raw["init_ms"]),
            "memory_mb_init": max(0.0, mem["after_allocate"] - mem["baseline"]),
            "memory_mb_peak": max(0.0, mem["peak"] - mem["baseline"]),
            "throughput_ips": float(self.raw["throughput_ips"]),
            "ops_fallback": float(len(self.raw.get("fallback_ops", []))),
        }
        load = self.raw.get("load")
        if load:
            stats = latency_stats(load["samples_ms"]) if load["samples_ms"] else None
            out.update({"load_clients": float(load["clients"]), "load_throughput_ips": float(load["throughput_ips"]),
                        "load_errors": float(load["errors"]),
                        "load_memory_mb_peak": max(0.0, load["peak_mb"] - mem["baseline"])})
            if stats:
                out.update({"load_latency_ms_p50": stats.p50, "load_latency_ms_p95": stats.p95,
                            "load_latency_ms_p99": stats.p99})
        return out

    def params(self) -> dict[str, Any]:
        """Every option that changed the number, as recorded by the runner itself."""
        req = self.raw["request"]
        keys = ("threads", "xnnpack", "kernels", "api", "batch", "input_source", "warmup_runs", "min_runs",
                "min_seconds", "max_runs", "max_seconds", "cpu_pin", "clients", "load_seconds")
        out = {f"profile.{k}": req.get(k) for k in keys}
        out["profile.input_source_used"] = self.raw.get("input_source_used")
        out["profile.runtime"] = f"{self.raw['runtime']['package']}=={self.raw['runtime']['version']}"
        return out

    def to_json(self) -> str:
        return json.dumps({**self.raw, "stats": self.latency.to_dict(), "metrics": self.metrics()}, indent=1)


def _request(model_path: Path, target: TargetSpec, input_path: Path | None, output: str) -> dict[str, Any]:
    return {
        "model_path": str(model_path), "input_path": str(input_path) if input_path else "", "output": output,
        **target.model_dump(exclude={"name", "host", "ssh_port", "ssh_key", "remote_python"}),
    }


def _interpret_exit(source: str, code: int, result_text: str | None, stderr: str) -> dict[str, Any]:
    if result_text:
        result = json.loads(result_text)
        if "error" in result:
            raise ProfileError(f"{source}: runner failed: {result['error']}")
        return dict(result)
    if code < 0:
        name = signal.Signals(-code).name
        hint = " (the runtime crashed loading it: the file is likely corrupt or truncated)" if code == -11 else ""
        raise ProfileError(f"{source}: runner killed by {name}{hint}")
    last = stderr.strip().splitlines()[-1] if stderr.strip() else "no output"
    raise ProfileError(f"{source}: runner exited with status {code} and no result ({last})")


def run_local(model_path: Path, target: TargetSpec, input_samples: np.ndarray | None = None,
              timeout_s: float | None = None) -> ProfileResult:
    """Profile ``model_path`` in a fresh local Python process (LiteRT + NumPy only)."""
    with tempfile.TemporaryDirectory(prefix="wb-profile-") as tmp:
        input_path = None
        if input_samples is not None and target.input_source == "test":
            input_path = Path(tmp) / "inputs.npy"
            np.save(input_path, np.asarray(input_samples, dtype=np.float32), allow_pickle=False)
        out = Path(tmp) / "result.json"
        req_path = Path(tmp) / "request.json"
        req_path.write_text(json.dumps(_request(model_path, target, input_path, str(out))))
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
        return ProfileResult(raw)


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
    """Copy runner, model and inputs to ``target.host`` over SSH, run there with ``target.remote_python``
    (which needs NumPy and ai-edge-litert), bring the JSON back. The device fingerprint comes from the
    runner on the device itself."""
    assert target.host, "run_ssh needs target.host"
    python = target.remote_python
    opts = ["-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=accept-new", "-o", "ConnectTimeout=20",
            *(["-i", target.ssh_key] if target.ssh_key else []), *ssh_options]
    ssh_opts = [*opts, "-p", str(target.ssh_port)]
    scp_opts = [*opts, "-P", str(target.ssh_port)]
    with tempfile.TemporaryDirectory(prefix="wb-ssh-") as tmp:
        remote_dir = subprocess.run(["ssh", *ssh_opts, target.host, "mktemp -d"], capture_output=True, text=True,
                                    timeout=60)
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
        req = _request(Path(rdir) / model_path.name, target, input_remote, "")
        req_local = Path(tmp) / "request.json"
        req_local.write_text(json.dumps(req))
        files.append(req_local)
        cp = subprocess.run(["scp", "-q", *scp_opts, *map(str, files), f"{target.host}:{rdir}/"],
                            capture_output=True, text=True, timeout=300)
        if cp.returncode != 0:
            raise ProfileError(f"scp to {target.host}: {cp.stderr.strip()[:200]}")
        cmd = f"cd {shlex.quote(rdir)} && {python} runner.py request.json; rc=$?; rm -rf {shlex.quote(rdir)}; exit $rc"
        try:
            proc = subprocess.run(["ssh", *ssh_opts, target.host, cmd], capture_output=True, text=True,
                                  timeout=timeout_s or target.max_seconds + 180)
        except subprocess.TimeoutExpired:
            raise ProfileError(f"{target.host}: remote runner did not finish in time") from None
        lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
        raw = _interpret_exit(f"{target.host}:{model_path.name}", proc.returncode, lines[-1] if lines else None,
                              proc.stderr)
        raw["device"]["remote"] = target.host
        return ProfileResult(raw)


def profile(model_path: str | Path, target: TargetSpec, input_samples: np.ndarray | None = None,
            **kwargs: Any) -> ProfileResult:
    """Profile a .tflite file on ``target`` (local unless ``target.host`` is set)."""
    from workbench.tflite_model import read_tflite

    path = Path(model_path)
    read_tflite(path)  # one-line ModelFileError for missing / non-tflite / truncated-header files
    if target.host:
        return run_ssh(path, target, input_samples, **kwargs)
    return run_local(path, target, input_samples, **kwargs)
