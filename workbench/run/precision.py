"""Per-layer precision search under the experiment's budgets, every candidate measured on the target.

``workbench search EXPERIMENT --precision``:

1. The float baseline's ``.tflite`` (the cached one; when there is none, the float variant runs first
   through the sweep, like any sweep's reference).
2. Per-layer evidence: the LiteRT Quantizer's per-tensor SNR of every layer's output with int4 weights
   everywhere ranks the layers; the ``individual`` most sensitive are decided one by one, the rest together
   (``analysis.precision``).
3. Optuna's NSGA-II (constraints: how far a candidate is over each budget) over one precision per group,
   started from the uniform assignments (static int8 and int16x8 among them), "int4 except the k most
   sensitive layers" and "static int8 except the k most sensitive layers". Each candidate is a LiteRT
   Quantizer recipe applied to the float file (a recipe with static layers calibrated on the experiment's
   calibration draw, as the variant's build draws it), then measured by the variants' protocol: accuracy by
   running the file on LiteRT over the test split, size = the file's bytes, latency and peak memory in fresh
   profiler processes, interleaved with the float file (``profile.paired``). Never estimated; a recipe seen
   before is not measured twice.
4. The front (accuracy delta, size, p50) is written as an experiment file (``front.yaml``: the experiment as
   base, one ``quantization: mixed`` variant per front member, its recipe a ``.json`` beside it) and, unless
   ``log_front`` is False, its mixed members (those within every budget when the experiment sets budgets) run
   through the sweep: each becomes a variant run like any other (the recommendation and dashboard weigh it),
   and its file's SHA-256 is checked against the search's.

Everything the search measured is logged on one run (kind ``search``): ``precision_search.json`` (every
candidate's row and recipe hash), the recipes, ``front.yaml``.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from workbench.analysis.pareto import budget_violations, pareto_front
from workbench.analysis.precision import (
    CHOICES,
    OBJECTIVES,
    Group,
    assignment,
    budget_excess,
    make_groups,
    objective_values,
    seed_label,
    seeds,
)
from workbench.catalog.quantization import MIXED, recipe_hash
from workbench.errors import SpecError, WorkbenchError
from workbench.files import atomic_write


@dataclass
class PrecisionResult:
    """What a precision search measured and found."""

    out_dir: Path
    rows: list[dict[str, Any]] = field(default_factory=list)  # every distinct candidate, in measuring order
    trials: int = 0  # the optimiser's trials (a repeated recipe is a trial, not a measurement)
    seconds: float = 0.0
    front: list[str] = field(default_factory=list)  # non-dominated among every candidate (OBJECTIVES)
    front_within: list[str] = field(default_factory=list)  # non-dominated among those within every budget
    groups: list[Group] = field(default_factory=list)
    stopped_by: str = ""
    parent_run_id: str = ""
    front_file: Path | None = None
    reproduced: dict[str, bool] = field(default_factory=dict)  # front variant -> its sweep run's file == ours
    front_rows: list[dict[str, Any]] = field(default_factory=list)  # the front sweep's rows of its mixed variants
    dashboard: Path | None = None  # the front sweep's dashboard
    recommendation: str = ""  # the front sweep's (partial: among its mixed variants only)

    def row(self, name: str) -> dict[str, Any]:
        return next(r for r in self.rows if r["variant"] == name)

    @property
    def uniform_within(self) -> list[str]:
        return [r["variant"] for r in self.rows if r["origin"].startswith("uniform") and r["within_budgets"]]

    @property
    def mixed_within(self) -> list[str]:
        return [r["variant"] for r in self.rows if not r["origin"].startswith("uniform") and r["within_budgets"]]


class Measurer:
    """Quantizes and measures one candidate: the variants' protocol on the float file's recipe rewrites."""

    def __init__(self, float_tflite: Path, layers: dict[str, str], x_test: np.ndarray, y_test: np.ndarray,
                 target: Any, rounds: int, out_dir: Path, budgets: Any, lock_dir: Path,
                 calibration: np.ndarray | None = None, weights: dict[str, int] | None = None) -> None:
        """``calibration``: the samples a recipe with static layers is calibrated on (the experiment's draw,
        as a ``quantization: mixed`` variant's build draws them: the same file again). ``weights``: layer ->
        weight count (``convert.quantizer.layer_weights``), for the size seeds."""
        from workbench.tflite_model import TfliteModel, accuracy

        self.calibration = calibration
        self.float_path, self.float_bytes = float_tflite, float_tflite.read_bytes()
        self.layers, self.x, self.y = layers, x_test, y_test
        self.target, self.rounds, self.out_dir, self.budgets, self.lock_dir = target, rounds, out_dir, budgets, lock_dir
        logits = TfliteModel(self.float_bytes, source="float baseline").predict(x_test)
        self.float_accuracy = accuracy(logits, y_test)
        self.float_top1 = np.argmax(logits, axis=1)
        self.seen: dict[str, dict[str, Any]] = {}
        self.weights: dict[str, int] = dict(weights or {})

    def measure(self, assign: dict[str, str], origin: str) -> tuple[dict[str, Any], bool]:
        """The candidate's row (and whether it was measured now: False when its recipe was measured before)."""
        from workbench.convert.quantizer import layer_recipe, quantize_recipe

        rules = layer_recipe(assign, self.layers)
        h = recipe_hash(rules)
        if h in self.seen:
            return self.seen[h], False
        name = f"{MIXED}-{h}"
        content = quantize_recipe(self.float_bytes, rules, name, self.calibration) if rules else self.float_bytes
        atomic_write(self.out_dir / "recipes" / f"{h}.json", json.dumps(rules, indent=1))
        row = self.measure_file(content, name, origin, h)
        row.update({"recipe_hash": h, "rules": len(rules), "precisions": dict(Counter(assign.values())),
                    "assignment": assign})
        self.seen[h] = row
        return row, True

    def measure_file(self, content: bytes, name: str, origin: str, stem: str) -> dict[str, Any]:
        """Any .tflite of this model measured like a candidate (accuracy on LiteRT over the test split, the
        file's bytes, p50 and peak memory beside the float file): the search's rows, and a benchmark's
        converter-made references."""
        import hashlib

        from workbench.files import file_lock
        from workbench.profile import profile_model
        from workbench.profile.paired import measure_rounds
        from workbench.tflite_model import TfliteModel, accuracy, agreement

        path = self.out_dir / "candidates" / f"{stem}.tflite"
        atomic_write(path, content)
        logits = TfliteModel(content, source=name).predict(self.x)
        acc = accuracy(logits, self.y)
        samples = self.x[: max(self.target.batch * 8, 32)]

        def run(p: Path, t: Any) -> Any:
            return profile_model(p, t, samples)

        with file_lock(self.lock_dir / "profile.lock"):  # never beside a sweep worker's profile
            paired = measure_rounds(run, path, self.float_path, self.target, self.rounds)
        prof = paired.subject.metrics()
        row: dict[str, Any] = {
            "variant": name, "origin": origin, "model_sha256": hashlib.sha256(content).hexdigest(),
            "accuracy": acc, "accuracy_delta": 100.0 * (acc - self.float_accuracy),
            "agreement": agreement(logits, self.float_top1), "size_bytes": len(content),
            "float_size_bytes": len(self.float_bytes),
            **{k: prof[k] for k in ("latency_ms_p50", "latency_ms_p90", "memory_mb_peak", "latency_runs")},
            "float_latency_ms_p50": paired.reference.latency.p50 if paired.reference else float("nan"),
            **(paired.speedup.metrics() if paired.speedup else {}),
        }
        row["violations"] = budget_violations(row, self.budgets)
        row["within_budgets"] = not row["violations"]
        return row


def run_precision_search(experiment_file: str | Path, work_dir: str | Path = ".workbench",
                         root: str | Path | None = None, trials: int = 30, individual: int = 8, seed: int = 0,
                         max_seconds: float = 3600.0, log_front: bool = True, progress: bool = True,
                         notebook: str | Path | None = None) -> PrecisionResult:
    """Search per-layer precisions for EXPERIMENT_FILE's float baseline; see the module docstring.

    Args:
        trials: the optimiser's trials, seeds included (a repeated recipe is not measured again).
        individual: how many of the most sensitive layers are decided one by one (the rest share one choice).
        seed: the sampler's seed.
        max_seconds: no new trial starts after this long.
        log_front: run the front's variants through the sweep (a variant run each, logged and compared).
    Raises:
        SpecError: not a classification task, a target runtime that does not run the .tflite, bad numbers.
    """
    from workbench.run.sweep import new_sweep_id, run_sweep
    from workbench.spec import load_experiment
    from workbench.tracking import check_tracking_uri, default_tracking_uri
    from workbench.variant.inputs import read_inputs

    for bad, what in ((trials < 1, f"--trials {trials}: give 1 or more"), (individual < 0, f"--layers "
                      f"{individual}: give 0 or more"), (max_seconds <= 0, f"--max-seconds {max_seconds:g}: give > 0")):
        if bad:
            raise SpecError(what)
    root_p = Path(root or Path.cwd()).resolve()
    check_tracking_uri(default_tracking_uri(root_p))  # a bad URI or a closed database port: before any cost
    wdir = Path(work_dir) if Path(work_dir).is_absolute() else root_p / work_dir
    spec = load_experiment(experiment_file)
    _check_searchable(spec, experiment_file)
    # the model file and the data checked (and the data read) once, before any cost
    inputs = read_inputs(spec, root_p, source=str(Path(experiment_file).resolve()))
    plan, dataset = inputs.plan, inputs.dataset
    base = _float_baseline(experiment_file, plan, wdir, root_p, progress, notebook)
    search_id = "precision-" + new_sweep_id()
    out = PrecisionResult(wdir / "sweeps" / search_id)
    start = time.monotonic()
    measurer, out.groups = _prepare(base.tflite_path, dataset, spec, out.out_dir, wdir, individual)
    _optimise(measurer, out, trials, seed, max_seconds, spec.budgets, progress, start)
    out.seconds = time.monotonic() - start
    out.front = pareto_front(out.rows, OBJECTIVES)
    out.front_within = pareto_front([r for r in out.rows if r["within_budgets"]], OBJECTIVES)
    out.front_file = _write_front(out, Path(experiment_file).resolve())
    out.parent_run_id = _log_search(out, spec, search_id, root_p, trials, individual, seed)
    mixed = [n for n in (out.front_within if _has_budgets(spec.budgets) else out.front)
             if not out.row(n)["origin"].startswith("uniform") and out.row(n)["rules"]]
    if log_front and mixed:
        sweep = run_sweep(out.front_file, only=tuple(mixed), work_dir=wdir, root=root_p, progress=progress,
                          notebook=notebook)
        for r in sweep.rows:
            if r["variant"] in mixed:
                out.reproduced[r["variant"]] = r.get("model_sha256") == out.row(r["variant"])["model_sha256"]
        out.dashboard, out.recommendation = sweep.dashboard, sweep.recommendation
        out.front_rows = [r for r in sweep.rows if r["variant"] in mixed]
    return out


def _has_budgets(budgets: Any) -> bool:
    return bool(budget_excess({"accuracy_delta": 0.0, "latency_ms_p50": 0.0, "size_bytes": 0.0,
                               "memory_mb_peak": 0.0}, budgets))


def _check_searchable(spec: Any, source: str | Path) -> None:
    from workbench.catalog import runtime

    if not spec.task.classification:
        raise SpecError(f"{source}: the precision search scores accuracy: it needs task kind classification, not "
                        f"'{spec.task.kind}'")
    if runtime(spec.target.runtime).made_from != "tflite":
        raise SpecError(f"{source}: target.runtime {spec.target.runtime} runs a file exported from Keras; the "
                        "precision search rewrites the .tflite: measure it on litert (or openvino)")


def _float_baseline(experiment_file: str | Path, plan: Any, wdir: Path, root: Path, progress: bool,
                    notebook: str | Path | None) -> Any:
    """The cached float baseline; when there is none, the float variant runs first (a sweep of it alone):
    its run is also what every variant is compared with."""
    from workbench.baseline import cached_baseline

    found = cached_baseline(wdir, plan.baseline_id)
    if found is not None:
        return found
    from workbench.run.sweep import run_sweep

    reference = next(v.name for v in plan.variants if v.role == "baseline")
    run_sweep(experiment_file, only=(reference,), work_dir=wdir, root=root, progress=progress, notebook=notebook)
    found = cached_baseline(wdir, plan.baseline_id)
    if found is None:
        raise WorkbenchError(f"the float variant '{reference}' ran but left no cached baseline in {wdir}; see its "
                             "run's failure, then search again")
    return found


def _prepare(float_tflite: Path, dataset: Any, spec: Any, out_dir: Path, wdir: Path,
             individual: int) -> tuple[Measurer, list[Group]]:
    """The layers, their int4 sensitivity (the quantizer's SNR per output, on test samples) and the groups."""
    from workbench.convert.quantizer import layer_weights, quantize_tflite, tensor_errors, weighted_layers

    content = float_tflite.read_bytes()
    layers = weighted_layers(content)
    if not layers:
        raise WorkbenchError("the float .tflite has no operator with weights: nothing to assign a precision to")
    errors = tensor_errors(content, quantize_tflite(content, "int4_weights"), dataset.x_test[:16])
    snr = {n: errors[n]["snr_db"] for n in layers if "snr_db" in errors.get(n, {})}
    weights = layer_weights(content)
    groups = make_groups(layers, snr, individual, weights)
    atomic_write(out_dir / "layers.json", json.dumps(
        {"layers": layers, "int4_snr_db": snr, "weights": weights, "groups": {g.key: list(g.layers) for g in groups}},
        indent=1))
    from workbench.variant.inputs import draw_calibration

    calibration = draw_calibration(dataset, spec.calibration_samples, spec.baseline.training.seed)
    measurer = Measurer(float_tflite, layers, dataset.x_test, dataset.y_test, spec.target, spec.rounds, out_dir,
                        spec.budgets, wdir / "locks", calibration, weights)
    return measurer, groups


def _optimise(measurer: Measurer, out: PrecisionResult, trials: int, seed: int, max_seconds: float,
              budgets: Any, progress: bool, start: float) -> None:
    """NSGA-II over one precision per group, the seeds enqueued first; each trial measured (or recalled)."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    sampler = optuna.samplers.NSGAIISampler(population_size=max(4, min(10, trials // 3)), seed=seed)
    study = optuna.create_study(directions=["maximize" if d == "max" else "minimize" for _, d in OBJECTIVES],
                                sampler=sampler)
    starts = seeds(out.groups, measurer.weights)
    for s in starts:
        study.enqueue_trial(s)
    labels = {json.dumps(s, sort_keys=True): seed_label(s, out.groups, measurer.weights) for s in starts}
    from tqdm import tqdm

    bar = tqdm(total=trials, desc="precision trials", disable=not progress)

    def objective(trial: Any) -> list[float]:
        choice = {g.key: trial.suggest_categorical(g.key, CHOICES) for g in out.groups}
        origin = labels.get(json.dumps(choice, sort_keys=True), "nsga2")
        row, fresh = measurer.measure(assignment(out.groups, choice, measurer.layers), origin)
        if fresh:
            out.rows.append(row)
        for budget, excess in budget_excess(row, budgets).items():  # feasible: every value <= 0
            trial.set_constraint(budget, excess)
        trial.set_user_attr("variant", row["variant"])
        bar.update(1)
        bar.set_postfix_str(f"{len(out.rows)} measured")
        return objective_values(row)

    def time_budget(study: Any, trial: Any) -> None:
        if time.monotonic() - start > max_seconds:
            out.stopped_by = f"time budget ({max_seconds:g}s)"
            study.stop()

    study.optimize(objective, n_trials=trials, callbacks=[time_budget])
    bar.close()
    # enqueued seeds the trial budget did not reach stay WAITING in study.trials: count what ran
    out.trials = sum(t.state == optuna.trial.TrialState.COMPLETE for t in study.trials)
    out.stopped_by = out.stopped_by or f"trial budget ({trials})"


def _write_front(out: PrecisionResult, experiment: Path) -> Path:
    """The front as an experiment file: the searched one as its base, one mixed variant per front member (its
    recipe the .json beside it): ``workbench run`` on it reproduces each file and its numbers."""
    import yaml

    variants = [{"name": n, "quantization": MIXED, "recipe": f"recipes/{out.row(n)['recipe_hash']}.json"}
                for n in out.front if out.row(n)["rules"]]
    doc = {"base": str(experiment), "matrix": None, "search": None, "variants": variants}
    path = out.out_dir / "front.yaml"
    atomic_write(path, "# the precision search's front: `workbench run` this file (or copy a variant, with its\n"
                       "# recipe .json, into your experiment) to measure it again as a variant\n"
                 + yaml.safe_dump(doc, sort_keys=False))
    return path


def _log_search(out: PrecisionResult, spec: Any, search_id: str, root: Path, trials: int, individual: int,
                seed: int) -> str:
    """One run (kind search) with every candidate's row, the recipes and the front file; FINISHED."""
    from workbench.tracking import (
        KIND_SEARCH,
        TAG_KIND,
        TAG_PRECISION_FRONT,
        TAG_STOPPED_BY,
        TAG_SWEEP,
        RunStatus,
        Tracker,
        provenance_tags,
    )

    tracker = Tracker(None, root)
    tracker.check()
    exp_id = tracker.experiment_id(spec.name)
    run = tracker.start_run(exp_id, search_id, {TAG_KIND: KIND_SEARCH, TAG_SWEEP: search_id,
                                                **provenance_tags(spec.target.threads)})
    try:
        tracker.log(run, params={"search.kind": "precision", "search.trials": trials, "search.layers": individual,
                                 "search.seed": seed, "search.groups": len(out.groups)},
                    metrics={"trials": out.trials, "candidates_measured": len(out.rows), "search_seconds": out.seconds,
                             "trials_within_budget": sum(r["within_budgets"] for r in out.rows)},
                    tags={TAG_STOPPED_BY: out.stopped_by, TAG_PRECISION_FRONT: ",".join(out.front)[:4000]})
        report = {"rows": out.rows, "front": out.front, "front_within_budgets": out.front_within,
                  "groups": {g.key: list(g.layers) for g in out.groups}, "seconds": out.seconds,
                  "trials": out.trials, "stopped_by": out.stopped_by}
        atomic_write(out.out_dir / "precision_search.json", json.dumps(report, indent=1, default=str))
        for name in ("precision_search.json", "front.yaml", "layers.json"):
            tracker.log_artifact(run, out.out_dir / name)
        for recipe in sorted((out.out_dir / "recipes").glob("*.json")):
            tracker.log_artifact(run, recipe, "recipes")
    except BaseException:
        tracker.end_run(run, RunStatus.FAILED)
        raise
    tracker.end_run(run, RunStatus.FINISHED)
    return run
