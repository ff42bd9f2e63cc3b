"""The runner's request: every option the runner reads, always sent in full (the runner has no defaults)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from workbench.spec import TargetSpec

#: TargetSpec fields that stay with the launcher (where and how to reach the device, what it has), never sent
LAUNCHER_FIELDS = frozenset({"name", "host", "ssh_port", "ssh_key", "remote_python", "cpus"})


@dataclass(frozen=True)
class ProfileRequest:
    """What runner.py is asked to do. Field order is the JSON key order (and the echo in profile.json).

    ``input_path`` is ``""`` when the runner generates its inputs; ``output`` is ``""`` for stdout.
    """

    model_path: str
    input_path: str
    output: str
    runtime: str
    accelerator: str
    threads: int
    api: str
    xnnpack: bool
    kernels: str
    batch: int
    input_shapes: dict[str, list[int]]  # {input name: concrete shape} for inputs with dynamic dimensions
    input_source: str
    warmup_runs: int
    min_runs: int
    min_seconds: float
    max_runs: int
    max_seconds: float
    cpu_pin: tuple[int, ...] | None
    clients: int
    load_seconds: float
    layer_runs: int = 0  # > 0: also time each node with the runtime's own profiler over that many runs

    @classmethod
    def from_target(cls, model_path: str | Path, target: TargetSpec, input_path: str | Path | None = None,
                    output: str | Path = "", layer_runs: int = 0) -> ProfileRequest:
        """The request for profiling ``model_path`` (a path as the runner will see it) on ``target``.

        Args:
            model_path: the model file (.tflite or .onnx) on the machine that runs the runner.
            target: every runtime option; the launcher-only fields (``LAUNCHER_FIELDS``) are not sent.
            input_path: the input samples on that machine (an .npy for a single-input model, an .npz keyed by
                input name), or None for generated inputs.
            output: where the runner writes its JSON result; ``""`` = stdout.
            layer_runs: > 0 also times every node with the runtime's own profiler (OpenVINO's performance
                counters, ONNX Runtime's profiler) over that many runs, in a session of its own.
        """
        return cls(
            model_path=str(model_path), input_path=str(input_path) if input_path else "", output=str(output),
            runtime=target.runtime, accelerator=target.accelerator, threads=target.threads, api=target.api, xnnpack=target.xnnpack, kernels=target.kernels,
            batch=target.batch, input_shapes={k: list(v) for k, v in target.input_shapes.items()},
            input_source=target.input_source, warmup_runs=target.warmup_runs,
            min_runs=target.min_runs, min_seconds=float(target.min_seconds), max_runs=target.max_runs,
            max_seconds=float(target.max_seconds),
            cpu_pin=tuple(target.cpu_pin) if target.cpu_pin is not None else None,
            clients=target.clients, load_seconds=float(target.load_seconds), layer_runs=layer_runs,
        )

    def to_dict(self) -> dict[str, Any]:
        """Every field, JSON-ready (``cpu_pin`` as a list)."""
        out = asdict(self)
        out["cpu_pin"] = list(self.cpu_pin) if self.cpu_pin is not None else None
        return out

    def to_json(self) -> str:
        """The request file runner.py reads: every field, always."""
        return json.dumps(self.to_dict())
