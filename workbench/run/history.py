"""An experiment's sweeps as the store holds them: named by the user (an experiment name or its YAML), listed
newest first (``workbench sweeps``), and found by id for ``--compare-to`` and ``report --sweep``, where a
wrong id is refused in one line that names the ids there are."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from workbench.errors import WorkbenchError

if TYPE_CHECKING:
    from workbench.tracking import ExperimentRecord, SweepSummary, Tracker

#: how many of the newest sweep ids an error message names
SHOWN_IN_ERRORS = 3


def experiment_name(experiment: str) -> str:
    """The MLflow experiment a user means: ``experiment`` itself, or the ``name:`` of an experiment YAML."""
    if experiment.endswith((".yaml", ".yml")):
        from workbench.spec import load_experiment

        return load_experiment(experiment, machine=False).name
    return experiment


def find_experiment(tracker: Tracker, name: str) -> ExperimentRecord:
    """The experiment named ``name``; WorkbenchError naming the experiments the store holds when there is none."""
    exp = tracker.experiment(name)
    if exp is None or exp.lifecycle_stage != "active":
        known = [n for n, _ in tracker.experiments()]
        raise WorkbenchError(f"no MLflow experiment named '{name}' in {tracker.uri}; "
                             + (f"it holds: {', '.join(known)}" if known else "it holds none yet: run `workbench run` first"))
    return exp


def started(sweep: SweepSummary) -> str:
    """When the sweep started, UTC, to the minute: ``2026-11-30 22:01``."""
    return dt.datetime.fromtimestamp(sweep.start_time / 1000, dt.UTC).strftime("%Y-%m-%d %H:%M")


def unknown_sweep(option: str, wanted: str, experiment: str, sweeps: list[SweepSummary]) -> WorkbenchError:
    """The one-line refusal of a sweep id the experiment does not have, naming the newest ids it has."""
    if not sweeps:
        return WorkbenchError(f"{option}: no sweep '{wanted}': experiment '{experiment}' has no sweep yet; "
                              "run `workbench run` first")
    newest = ", ".join(f"{s.sweep_id} ({started(s)}, {s.status})" for s in sweeps[:SHOWN_IN_ERRORS])
    more = (f"; `workbench sweeps {experiment}` lists all {len(sweeps)}" if len(sweeps) > SHOWN_IN_ERRORS
            else f" (`workbench sweeps {experiment}` lists them)")
    return WorkbenchError(f"{option}: no sweep '{wanted}' in experiment '{experiment}'; the newest: {newest}{more}")


def find_sweep(sweeps: list[SweepSummary], wanted: str, option: str, experiment: str) -> SweepSummary:
    """The sweep ``wanted`` among ``sweeps`` (newest first); WorkbenchError (``unknown_sweep``) when it is not
    there."""
    for s in sweeps:
        if s.sweep_id == wanted:
            return s
    raise unknown_sweep(option, wanted, experiment, sweeps)


def sweeps_of(tracker: Tracker, experiment: str) -> tuple[ExperimentRecord, list[SweepSummary]]:
    """The experiment (a name or a YAML) and its sweeps, newest first; WorkbenchError when it does not exist."""
    exp = find_experiment(tracker, experiment_name(experiment))
    return exp, tracker.sweeps(exp.experiment_id)
