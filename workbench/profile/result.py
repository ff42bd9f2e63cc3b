"""What the runner measured: typed records parsed once from its JSON by a pure function (no runtime needed).

``metrics()`` and ``params()`` give the names logged to MLflow; they must not change (run history
depends on them). Malformed runner output is a ``ProfileError`` naming the key, never a ``KeyError``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, NotRequired, TypedDict

from workbench.errors import ProfileError
from workbench.profile.request import ProfileRequest
from workbench.profile.stats import LatencyStats, latency_stats

_EXTERNAL = "external_peak_rss_mb"  # added by a local parent, never by the runner
#: what the runner's protocol writes; every other key of its result is a runtime fact (ONNX Runtime's providers,
#: OpenVINO's precisions, ...), free-form, reported as the backend wrote it: a new backend needs no edit here
_PROTOCOL_KEYS = frozenset({
    "request", "samples_ms", "init_ms", "loop_seconds", "throughput_ips", "memory_mb", "input_source_used", "runtime",
    "tensorflow_imported", "device", "affinity", "startup_s", "peak_reset", "load", "ops", "op_count", "delegated_ops",
    "fallback_ops", "ignored_options", "error", "traceback", _EXTERNAL, "stats", "metrics"})

#: request fields recorded as ``profile.<name>`` params, in this order
PARAM_FIELDS = ("accelerator", "threads", "xnnpack", "kernels", "api", "batch", "input_source", "warmup_runs", "min_runs",
                "min_seconds", "max_runs", "max_seconds", "cpu_pin", "clients", "load_seconds")


@dataclass(frozen=True)
class MemoryPhases:
    """Resident memory of the runner process at each phase, absolute MB (README: "Memory phases")."""

    baseline_mb: float  # after importing NumPy and the runtime, before the model
    after_load_mb: float  # model read, delegate applied
    after_allocate_mb: float  # tensors allocated
    peak_mb: float  # VmHWM during the invokes (reset after the inputs were built; includes them)
    after_release_mb: float  # the interpreter freed
    inputs_mb: float | None = None  # the runner's input buffers (RSS growth building them); None: older runner
    setup_peak_mb: float | None = None  # VmHWM over load + allocate (compile spikes); None: older runner


@dataclass(frozen=True)
class InputRecord:
    """One model input as it was fed: the concrete shape, the dtype, and where the data came from."""

    name: str
    shape: tuple[int, ...]
    dtype: str
    source: str  # "test" (the samples given) or "random" (generated for this input's dtype and shape)

    def describe(self) -> str:
        """``name 1x3x640x640 float32 (random)``; a scalar shows as ``scalar``."""
        return f"{self.name} {'x'.join(map(str, self.shape)) or 'scalar'} {self.dtype} ({self.source})"


@dataclass(frozen=True)
class Placement:
    """Which cores the local runner was pinned to and where the supervising process waited."""

    runner_cpus: tuple[int, ...] | None  # None: not pinned
    supervisor_cpus: tuple[int, ...]
    cpu_count: int
    note: str  # how it was decided, or why the processes share cores


@dataclass(frozen=True)
class OpPlacement:
    """Op names in execution order, and which the delegate took. All empty for the compiled_model API,
    which does not report its ops."""

    names: tuple[str, ...]  # every node, DELEGATE nodes included
    delegated: tuple[str, ...]
    fallback: tuple[str, ...]  # ran on LiteRT's builtin kernels


@dataclass(frozen=True)
class LoadScenario:
    """N client threads, each with its own interpreter, invoking for ``seconds``."""

    clients: int
    seconds: float
    invokes: int
    errors: int
    throughput_ips: float
    per_client_invokes: tuple[int, ...]
    samples_ms: tuple[float, ...] = field(repr=False)
    peak_mb: float  # VmHWM at the end, absolute
    latency: LatencyStats | None  # None when no invoke succeeded


@dataclass(frozen=True)
class RuntimeInfo:
    package: str
    version: str
    api: str


class DeviceInfo(TypedDict):
    """The device fingerprint, as the runner took it. A plain dict: it is logged verbatim as JSON."""

    hostname: str
    machine: str
    system: str
    release: str
    cpu_model: str
    cpu_count: int | None  # os.cpu_count() may not know
    loadavg_1m: float
    python: str
    remote: NotRequired[str]  # the SSH host, when profiled over SSH


@dataclass(frozen=True)
class ProfileResult:
    """What the runner measured, with the statistics computed from its raw samples."""

    request: ProfileRequest  # as the runner echoed it back (``output`` is not echoed: "")
    samples_ms: tuple[float, ...] = field(repr=False)
    latency: LatencyStats
    init_ms: float
    loop_seconds: float
    throughput_ips: float
    memory: MemoryPhases
    ops: OpPlacement
    ignored_options: tuple[str, ...]  # options the API could not apply (compiled_model: threads, xnnpack)
    facts: dict[str, Any]  # what the runtime said it did: ONNX Runtime's providers, OpenVINO's precisions
    load: LoadScenario | None  # None unless the load scenario ran
    device: DeviceInfo
    runtime: RuntimeInfo
    input_source_used: str  # "test", "random", or "mixed" (some inputs generated)
    inputs: tuple[InputRecord, ...]  # every input as fed; () from runners before this record existed
    placement: Placement | None  # local runs only
    tensorflow_imported: bool
    external_peak_rss_mb: float | None  # the parent's own RSS polling (local runs only)
    raw: dict[str, Any] = field(repr=False, compare=False)  # the runner's JSON as received

    def metrics(self) -> dict[str, float]:
        """Design metric names: latency_ms_*, latency_runs, init_ms, memory_mb_init/peak, throughput_ips,
        ops_fallback; plus ``load_*`` when the load scenario ran."""
        base, inputs_mb = self.memory.baseline_mb, self.memory.inputs_mb
        out = {
            **self.latency.metrics(),
            "init_ms": self.init_ms,
            "memory_mb_init": max(0.0, self.memory.after_allocate_mb - base),
            "memory_mb_peak": max(0.0, self.memory.peak_mb - base - (inputs_mb or 0.0)),
            "throughput_ips": self.throughput_ips,
            "ops_fallback": float(len(self.ops.fallback)),
        }
        if inputs_mb is not None:
            out["memory_mb_inputs"] = inputs_mb
        if self.load is not None:
            load = self.load
            out.update({"load_clients": float(load.clients), "load_throughput_ips": load.throughput_ips,
                        "load_errors": float(load.errors),
                        "load_memory_mb_peak": max(0.0, load.peak_mb - base)})
            if load.latency is not None:
                out.update({"load_latency_ms_p50": load.latency.p50, "load_latency_ms_p95": load.latency.p95,
                            "load_latency_ms_p99": load.latency.p99})
        return out

    def params(self) -> dict[str, Any]:
        """Every option that changed the number, as recorded by the runner itself."""
        req = self.request.to_dict()
        out = {f"profile.{k}": req[k] for k in PARAM_FIELDS}
        out["profile.input_source_used"] = self.input_source_used
        if self.inputs:
            out["profile.inputs"] = "; ".join(i.describe() for i in self.inputs)[:500]
        out["profile.runtime"] = f"{self.runtime.package}=={self.runtime.version}"
        return out

    def to_json(self) -> str:
        """The runner's JSON (raw samples included) with the statistics and metrics: ``profile.json``."""
        return json.dumps({**self.raw, "stats": self.latency.to_dict(), "metrics": self.metrics()}, indent=1)


def parse_result(raw: Any) -> ProfileResult:
    """Parse the runner's JSON result (a successful one: no ``error`` key) into a ``ProfileResult``.

    Keys the runner writes only for one API (ops for LiteRT's interpreter, ``ignored_options`` for every
    other API and runtime) or one scenario (``load``) are required exactly when they apply. A request echo
    without ``runtime`` / ``accelerator`` (runners before those fields existed) means LiteRT on the CPU.

    Raises:
        ProfileError: a key is missing or has the wrong type (the message names it), or the samples are
            empty or not finite.
    """
    top = _Obj(raw, "")
    request = _request(top.obj("request"))
    interpreter = request.runtime == "litert" and request.api == "interpreter"
    if interpreter:
        ops = OpPlacement(top.strs("ops"), top.strs("delegated_ops"), top.strs("fallback_ops"))
        ignored: tuple[str, ...] = ()
    else:
        ops, ignored = OpPlacement((), (), ()), top.strs("ignored_options")
    load_expected = (interpreter or request.runtime != "litert") and request.load_seconds > 0
    mem, rt, dev = top.obj("memory_mb"), top.obj("runtime"), top.obj("device")
    samples = top.nums("samples_ms")
    return ProfileResult(
        request=request, samples_ms=samples, latency=top.stats("samples_ms", samples),
        init_ms=top.number("init_ms"), loop_seconds=top.number("loop_seconds"),
        throughput_ips=top.number("throughput_ips"),
        memory=MemoryPhases(mem.number("baseline"), mem.number("after_load"), mem.number("after_allocate"),
                            mem.number("peak"), mem.number("after_release"),
                            mem.number("inputs") if "inputs" in mem.data else None,
                            mem.number("peak_setup") if "peak_setup" in mem.data else None),
        ops=ops, ignored_options=ignored,
        facts={k: v for k, v in top.data.items() if k not in _PROTOCOL_KEYS},
        load=_load(top.obj("load")) if load_expected or "load" in top.data else None,
        device=_device(dev), runtime=RuntimeInfo(rt.text("package"), rt.text("version"), rt.text("api")),
        input_source_used=top.text("input_source_used"),
        inputs=tuple(_input(top.item("inputs", i)) for i in range(len(top.seq("inputs")))) if "inputs" in top.data else (),
        placement=_placement(top.obj("placement")) if "placement" in top.data else None,
        tensorflow_imported=top.flag("tensorflow_imported"),
        external_peak_rss_mb=top.number(_EXTERNAL) if _EXTERNAL in top.data else None,
        raw=top.data,
    )


def _shapes(echo: _Obj) -> dict[str, list[int]]:
    """The request's ``input_shapes`` ({} from runners before the field existed)."""
    if "input_shapes" not in echo.data:
        return {}
    shapes = echo.obj("input_shapes")
    return {name: list(shapes.ints(name)) for name in shapes.data}


def _request(echo: _Obj) -> ProfileRequest:
    cpu_pin = None if echo.get("cpu_pin") is None else echo.ints("cpu_pin")
    return ProfileRequest(
        model_path=echo.text("model_path"), input_path=echo.text("input_path"), output="",
        runtime=echo.text("runtime") if "runtime" in echo.data else "litert",
        accelerator=echo.text("accelerator") if "accelerator" in echo.data else "cpu",
        threads=echo.integer("threads"), api=echo.text("api"), xnnpack=echo.flag("xnnpack"),
        kernels=echo.text("kernels"), batch=echo.integer("batch"), input_source=echo.text("input_source"),
        warmup_runs=echo.integer("warmup_runs"), min_runs=echo.integer("min_runs"),
        min_seconds=echo.number("min_seconds"), max_runs=echo.integer("max_runs"),
        max_seconds=echo.number("max_seconds"), cpu_pin=cpu_pin, input_shapes=_shapes(echo),
        clients=echo.integer("clients"), load_seconds=echo.number("load_seconds"),
        layer_runs=echo.integer("layer_runs") if "layer_runs" in echo.data else 0,
    )


def _input(rec: _Obj) -> InputRecord:
    return InputRecord(rec.text("name"), rec.ints("shape"), rec.text("dtype"), rec.text("source"))


def _placement(p: _Obj) -> Placement:
    cpus = None if p.get("runner_cpus") is None else p.ints("runner_cpus")
    return Placement(cpus, p.ints("supervisor_cpus"), p.integer("cpu_count"), p.text("note"))


def _load(load: _Obj) -> LoadScenario:
    samples = load.nums("samples_ms")
    return LoadScenario(
        clients=load.integer("clients"), seconds=load.number("seconds"), invokes=load.integer("invokes"),
        errors=load.integer("errors"), throughput_ips=load.number("throughput_ips"),
        per_client_invokes=load.ints("per_client_invokes"), samples_ms=samples,
        peak_mb=load.number("peak_mb"),
        latency=load.stats("samples_ms", samples) if samples else None,
    )


def _device(dev: _Obj) -> DeviceInfo:
    cpu_count = dev.get("cpu_count")
    out = DeviceInfo(
        hostname=dev.text("hostname"), machine=dev.text("machine"), system=dev.text("system"),
        release=dev.text("release"), cpu_model=dev.text("cpu_model"),
        cpu_count=None if cpu_count is None else dev.integer("cpu_count"),
        loadavg_1m=dev.number("loadavg_1m"),
        python=dev.text("python"),
    )
    if "remote" in dev.data:
        out["remote"] = dev.text("remote")
    return out


class _Obj:
    """Typed reads from one JSON object; errors name the key by its dotted path."""

    def __init__(self, data: Any, path: str) -> None:
        if not isinstance(data, dict):
            what = f"'{path}'" if path else "the result"
            raise ProfileError(f"runner result: {what} should be an object, got {_kind(data)}")
        self.data: dict[str, Any] = data
        self.path = path

    def _where(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def get(self, key: str) -> Any:
        if key not in self.data:
            raise ProfileError(f"runner result: '{self._where(key)}' is missing")
        return self.data[key]

    def _typed(self, key: str, types: tuple[type, ...], what: str) -> Any:
        value = self.get(key)
        if isinstance(value, bool) and bool not in types or not isinstance(value, types):
            raise ProfileError(f"runner result: '{self._where(key)}' should be {what}, got {_kind(value)}")
        return value

    def obj(self, key: str) -> _Obj:
        return _Obj(self._typed(key, (dict,), "an object"), self._where(key))

    def text(self, key: str) -> str:
        return str(self._typed(key, (str,), "a string"))

    def flag(self, key: str) -> bool:
        return bool(self._typed(key, (bool,), "true or false"))

    def integer(self, key: str) -> int:
        return int(self._typed(key, (int,), "an integer"))

    def number(self, key: str) -> float:
        return float(self._typed(key, (int, float), "a number"))

    def _list(self, key: str, types: tuple[type, ...], item: str, items: str) -> list[Any]:
        values = self._typed(key, (list,), f"a list of {items}")
        for i, v in enumerate(values):
            if isinstance(v, bool) and bool not in types or not isinstance(v, types):
                where = f"{self._where(key)}[{i}]"
                raise ProfileError(f"runner result: '{where}' should be {item}, got {_kind(v)}")
        return list(values)

    def seq(self, key: str) -> list[Any]:
        return list(self._typed(key, (list,), "a list"))

    def item(self, key: str, i: int) -> _Obj:
        """The i-th element of the list ``key``, as an object."""
        return _Obj(self.get(key)[i], f"{self._where(key)}[{i}]")

    def strs(self, key: str) -> tuple[str, ...]:
        return tuple(self._list(key, (str,), "a string", "strings"))

    def ints(self, key: str) -> tuple[int, ...]:
        return tuple(self._list(key, (int,), "an integer", "integers"))

    def nums(self, key: str) -> tuple[float, ...]:
        return tuple(float(v) for v in self._list(key, (int, float), "a number", "numbers"))

    def stats(self, key: str, samples: tuple[float, ...]) -> LatencyStats:
        try:
            return latency_stats(list(samples))
        except ValueError as exc:
            raise ProfileError(f"runner result: '{self._where(key)}': {exc}") from None


def _kind(value: Any) -> str:
    return "null" if value is None else type(value).__name__
