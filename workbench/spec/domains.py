"""Value domains every spec shares: booleans are not numbers, seeds fit the generators, and the timing budget
a target asks for fits the variant timeout. Pure: no files, no environment (which CPUs a target's machine has
is ``workbench.spec.load.check_machine``'s to find out)."""

from __future__ import annotations

import types
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import Field

#: NumPy's and TensorFlow's generators take seeds of 32 bits
MAX_SEED = 2**32 - 1
Seed = Annotated[int, Field(ge=0, le=MAX_SEED)]

_NUMBERS = (int, float)


def _is_numeric(annotation: Any) -> bool:
    """int or float, optionally None-able or a list/tuple/dict of them (bool itself is not numeric)."""
    if annotation in _NUMBERS:
        return True
    origin, args = get_origin(annotation), get_args(annotation)
    if origin is Annotated:
        return _is_numeric(args[0])
    if origin in (Union, types.UnionType):
        return bool not in args and any(_is_numeric(a) for a in args if a is not type(None))
    if origin in (list, tuple) and args:
        return _is_numeric(args[0])
    if origin is dict and len(args) == 2:
        return _is_numeric(args[1])
    return False


def _holds_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return True
    if isinstance(value, list | tuple):
        return any(_holds_bool(v) for v in value)
    if isinstance(value, dict):
        return any(_holds_bool(v) for v in value.values())
    return False


def refuse_bools(model: type, data: Any) -> Any:
    """For a ``mode="before"`` model validator: ``epochs: true`` is refused instead of read as 1 (pydantic's
    lax mode takes a boolean for a number); fields typed bool are untouched."""
    if isinstance(data, dict):
        fields = getattr(model, "model_fields", {})
        for key, value in data.items():
            if key in fields and _holds_bool(value) and _is_numeric(fields[key].annotation):
                shown = str(value).replace("True", "true").replace("False", "false")  # as YAML writes it
                raise ValueError(f"{key}: {shown} is a boolean, not a number; write the number")
    return data


#: the fastest invoke assumed when estimating a profile's least duration: no model runs faster on a CPU (the
#: smallest variants measured here take 4 µs), so an estimate over the timeout is certainly over it
MIN_INVOKE_S = 1e-6
#: load-scenario clients per usable CPU: beyond this the clients only queue for the cores, each holding its
#: own interpreter
MAX_CLIENTS_PER_CPU = 4


def least_profile_s(target: Any, rounds: int, axes: int) -> float:
    """The least time profiling one variant takes on ``target`` (a TargetSpec), for the variant and the float
    reference beside it, over ``rounds`` fresh processes each and ``axes`` targets: every process warms up
    (``warmup_runs`` invokes) and the timed loops together meet ``min_runs`` and ``min_seconds``; the load
    scenario adds ``load_seconds``. Invokes count ``MIN_INVOKE_S`` each, start-up nothing: a lower bound."""
    per_file = (rounds * target.warmup_runs + target.min_runs) * MIN_INVOKE_S + target.min_seconds + target.load_seconds
    return 2 * axes * per_file


def _cpu_ranges(cpus: list[int]) -> str:
    out: list[str] = []
    for c in sorted(cpus):
        if out and int(out[-1].split("-")[-1]) == c - 1:
            out[-1] = f"{out[-1].split('-')[0]}-{c}"
        else:
            out.append(str(c))
    return ",".join(out)


def machine_problem(where: str, target: Any, cpus: list[int], machine: str = "") -> str:
    """What in ``target`` (a TargetSpec) the machine it runs on cannot do ('' when nothing): more threads than
    usable CPUs, a pin to a CPU it does not have (or may not use), more than ``MAX_CLIENTS_PER_CPU`` load
    clients per CPU. ``cpus`` are that machine's usable CPUs: this one's (``os.sched_getaffinity``), or a
    remote device's as declared (``target.cpus``) or recorded by its last profile, then named by ``machine``
    (e.g. "pi@device (declared by target.cpus: 4)"); the caller decides which apply."""
    if not cpus:
        return ""
    n = len(cpus)
    on = f"{machine}, {n} usable CPU(s) ({_cpu_ranges(cpus)})" if machine else ""
    if target.threads > n:
        if machine:
            return f"{where}.threads: {target.threads} threads on {on}; use at most {n}"
        return (f"{where}.threads: {target.threads} threads on a machine with {n} usable CPU(s) ({_cpu_ranges(cpus)}); "
                f"use at most {n}")
    missing = [c for c in target.cpu_pin or [] if c not in cpus]
    if missing:
        if machine:
            return f"{where}.cpu_pin: CPU {missing[0]} is not one of the usable CPUs of {on}; pin to those"
        return (f"{where}.cpu_pin: CPU {missing[0]} is not one of this machine's usable CPUs ({_cpu_ranges(cpus)}); "
                "pin to those")
    if target.clients > MAX_CLIENTS_PER_CPU * n:
        return (f"{where}.clients: {target.clients} load clients on {on or f'{n} usable CPU(s)'}; at most "
                f"{MAX_CLIENTS_PER_CPU} per CPU ({MAX_CLIENTS_PER_CPU * n}) measure the model rather than the queue")
    return ""
