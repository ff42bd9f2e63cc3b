"""``workbench`` console script. Parses arguments, calls one function, prints. Exit status (``RUN_EXIT_CODES``):
0 success, 1 some variants failed, 2 bad input (spec, file, data, unreachable store), 3 regressions found,
4 nothing compared, 128 + N stopped by signal N.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from workbench.catalog import RUNTIMES, accelerators, runtime_names
from workbench.catalog.quantization import QUANT_MODE_INFO, QUANTIZER_MODES
from workbench.errors import WorkbenchError

EXIT_USAGE = 2
#: what ``workbench run`` exits with (``run.sweep.SweepResult.exit_code``, ``_Group``): shown by ``run --help``
RUN_EXIT_CODES = (
    (0, "every selected variant measured (or already FINISHED)"),
    (1, "some variants failed; the others finished and were logged"),
    (2, "bad input, refused in one line before anything runs (experiment, model or data file, an option,\n"
        "      a wrong --compare-to id, an unreachable tracking store, a full disk)"),
    (3, "--compare-to found regressions against the sweep it compared with"),
    (4, "--compare-to found that sweep but no variant id matched: nothing was compared"),
    ("128+N", "stopped by signal N (130 Ctrl-C, 143 SIGTERM, 129 SIGHUP): running variants' runs settled KILLED"),
)


def _exit_codes_help(codes: tuple[tuple[int | str, str], ...]) -> str:
    """An epilog listing exit codes, one per line (``\b``: click keeps the lines)."""
    return "\b\nExit status:\n" + "\n".join(f"  {str(code).ljust(5)} {what}" for code, what in codes)


def _main_help() -> str:
    """The top-level help; the runtimes come from the catalogue."""
    runtimes = ", ".join(r.display for r in RUNTIMES.values())
    return f"""Compress Keras models, measure every variant on its target runtime ({runtimes}), log it all to MLflow.

\b
Quick start:
  workbench run experiments/digits_quick.yaml      # a sweep, logged to ./mlflow.db
  workbench sweeps digits-quick                    # its sweeps (the ids --compare-to and report take)
  workbench profile model.tflite --threads 2       # profile any model file on any runtime (--runtime)
  workbench quantize model.tflite -m int4_weights  # LiteRT Quantizer recipe on a float .tflite
  workbench graph model.tflite --overlay snr.json  # the graph in Model Explorer on 127.0.0.1, coloured
  workbench validate experiments/*.yaml            # check experiment files
The MLflow store is $MLFLOW_TRACKING_URI when set, else ./mlflow.db (SQLite) + ./mlartifacts.
"""


def _fail(exc: BaseException) -> None:
    click.echo(f"error: {exc}", err=True)
    sys.exit(EXIT_USAGE)


class _Group(click.Group):
    """Turns WorkbenchError (and an OS refusal such as a full disk) into one line on stderr and exit status 2
    (no traceback), and a signal that stopped
    a sweep (SIGINT, SIGTERM, SIGHUP) into one line and exit status 128 + the signal number."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except WorkbenchError as exc:
            _fail(exc)
        except click.UsageError as exc:  # a command's own arguments: one line too, with where to look
            name = exc.ctx.command_path if exc.ctx is not None else "workbench"
            click.echo(f"error: {exc.format_message()} (see `{name} --help`)", err=True)
            sys.exit(EXIT_USAGE)
        except OSError as exc:  # the OS refused (disk full, read-only, permissions): name it, not a traceback
            from workbench.errors import StorageError
            from workbench.files import describe_os_error

            _fail(StorageError(describe_os_error(exc)))
        except KeyboardInterrupt as exc:
            import signal

            signum = getattr(exc, "signum", signal.SIGINT)
            click.echo(f"error: interrupted by {signal.Signals(signum).name}: running variants stopped and their "
                       "runs settled KILLED; run the same command again to resume", err=True)
            sys.exit(128 + signum)


@click.group(cls=_Group, help=_main_help(), context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="workbench")
def main() -> None:
    pass


def _print_table(rows: list[dict[str, Any]], primary: Any = None) -> None:
    """The sweep's table: the catalogue's ``CLI_TABLE`` columns, headings and formats (the task's ``primary``
    metric where accuracy stands), each cell in the unit that reads best (latency in µs below 1 ms, sizes in KB
    or MB: ``catalog.metrics.fmt_ms`` / ``fmt_bytes``)."""
    from workbench.catalog.metrics import CLI_TABLE, FIELDS, cell, heading, task_columns

    columns = task_columns(CLI_TABLE, primary) if primary is not None else CLI_TABLE
    heads = [heading(c, readable=True, primary=primary) for c in columns]
    table = [[cell(c, r.get(c), readable=True, primary=primary) for c in columns] for r in rows]
    widths = [max(len(h), *(len(row[i]) for row in table)) for i, h in enumerate(heads)]
    left = [c in FIELDS for c in columns]  # text left, numbers right
    click.echo("  ".join(h.ljust(w) for h, w in zip(heads, widths, strict=True)))
    for row in table:
        click.echo("  ".join(c.ljust(w) if lj else c.rjust(w) for c, w, lj in zip(row, widths, left, strict=True)))


@main.command(epilog=_exit_codes_help(RUN_EXIT_CODES))
@click.argument("experiment_file", type=click.Path(dir_okay=False))
@click.option("--workers", "-w", default=1, show_default=True, help="Variants executed at once (local pool).")
@click.option("--executor", type=click.Choice(["local", "dask"]), default="local", show_default=True,
              help="local: process pool on this machine; dask: a Dask distributed cluster (--scheduler).")
@click.option("--scheduler", default=None, help="Dask scheduler address, e.g. tcp://10.0.0.5:8786.")
@click.option("--force", is_flag=True, help="Re-run variants that already have a FINISHED run.")
@click.option("--only", multiple=True, help="Run only this variant (repeatable).")
@click.option("--compare-to", default=None, metavar="previous|SWEEP_ID",
              help="Compare with the previous successful sweep (or a sweep id) and print one line saying what "
                   "was compared; exit 3 on regressions, 4 when no variant id matched that sweep's.")
@click.option("--since", default=None, metavar="DURATION",
              help="Skip only variants FINISHED within DURATION (e.g. 20h, 90m): nightly re-measures, yet a "
                   "re-run after a crash skips what tonight already did.")
@click.option("--work-dir", default=".workbench", show_default=True, help="Cache for baselines and notebooks.")
@click.option("--no-progress", is_flag=True, help="No progress bar (logs, cron).")
def run(experiment_file: str, workers: int, executor: str, scheduler: str | None, force: bool, only: tuple[str, ...],
        compare_to: str | None, since: str | None, work_dir: str, no_progress: bool) -> None:
    """Run every variant of EXPERIMENT_FILE (resumable: variants already FINISHED are skipped)."""
    since_s = _duration_s(since) if since else None  # `--since -5h`: refused before anything is imported
    from workbench.run.signals import stop_on_signals
    from workbench.run.sweep import run_sweep

    with stop_on_signals():
        result = run_sweep(experiment_file, workers=workers, executor=executor, scheduler=scheduler, force=force,
                           only=only, compare_to=compare_to, work_dir=work_dir, progress=not no_progress,
                           since_s=since_s)
    from workbench.tracking import (  # after planning: bad input is refused before MLflow loads
        is_embedded,
        ui_path,
    )
    from workbench.views.summary import plain

    if result.parent_run_id:
        click.echo(f"\nExperiment '{result.experiment}', sweep {result.sweep_id} (parent run {result.parent_run_id})")
    else:
        click.echo(f"\nExperiment '{result.experiment}': nothing to run, no sweep run logged (every selected variant "
                   "is already FINISHED or running elsewhere).")
    if result.killed_runs:
        click.echo(f"Settled {len(result.killed_runs)} run(s) as KILLED: left RUNNING by a sweep that is gone "
                   "(lease expired or process ended).")
    _print_table(result.rows, result.primary)
    skipped = sum(1 for r in result.rows if r["status"] == "SKIPPED")
    if skipped:
        click.echo(f"{skipped} variant(s) skipped: already FINISHED (use --force to re-run).")
    for r in result.elsewhere:
        click.echo(f"ELSEWHERE {r['variant']}: {r['reason']}")
    for name, why in result.remeasured.items():
        click.echo(f"RE-MEASURED {name}: {why}")
    for r in result.failed:
        click.echo(f"FAILED {r['variant']}: {r['reason']}")
    if result.comparison:
        click.echo(("\n" if result.compared_nothing else "") + f"Nightly comparison: {result.comparison}",
                   err=result.compared_nothing)
    for reg in result.regressions:
        click.echo(f"REGRESSION {reg['variant']}: {reg['what']}")
    if result.dashboard:
        click.echo(f"\nDashboard: {result.dashboard}")
    page = ui_path(result.experiment_id)
    if is_embedded(result.tracking_uri):
        here = "" if Path(result.tracking_uri.removeprefix("sqlite:///")).parent == Path.cwd() else \
            f"   (from {Path(result.tracking_uri.removeprefix('sqlite:///')).parent})"
        click.echo(f"MLflow UI: {Path(sys.executable).parent / 'workbench'} ui   (or: make ui){here}, then open "
                   f"http://127.0.0.1:5000/ (it opens on the runs that ship; this experiment: "
                   f"http://127.0.0.1:5000/{page})")
    else:
        base = result.tracking_uri.rstrip("/")
        click.echo(f"MLflow: {base}/{page}" if base.startswith("http") else f"MLflow: {result.tracking_uri}")
    if result.recommendation:
        click.echo(f"\nRecommendation: {plain(result.recommendation)}")
    sys.exit(result.exit_code)


@main.command(epilog=_exit_codes_help((
    (0, "a variant within the accuracy budget was found (--precision: a candidate within every budget)"),
    (1, "no trial was within the budget"),
    (2, "bad input, refused in one line before anything runs"), ("128+N", "stopped by signal N"))))
@click.argument("experiment_file", type=click.Path(dir_okay=False))
@click.option("--work-dir", default=".workbench", show_default=True,
              help="Cache for baselines and notebooks (shared with `workbench run`).")
@click.option("--no-progress", is_flag=True, help="No progress bar (logs, cron).")
@click.option("--precision", is_flag=True,
              help="Per-layer precision search instead (no search.space needed): LiteRT Quantizer recipes of the "
                   "float baseline's .tflite (float32, float16, int16x8, int8, int8x4 (int4 weights, int8 "
                   "activations), int8 dynamic, int8 or int4 weights per layer), "
                   "Optuna NSGA-II under the experiment's budgets, every candidate measured on the target.")
@click.option("--trials", default=30, show_default=True, type=click.IntRange(min=1), help="--precision: trials, seeds included.")
@click.option("--layers", "individual", default=8, show_default=True, type=click.IntRange(min=0),
              help="--precision: the most sensitive layers decided one by one (the others share one precision).")
@click.option("--seed", default=0, show_default=True, help="--precision: the sampler's seed.")
@click.option("--max-seconds", default=3600.0, show_default=True, type=click.FloatRange(min=0, min_open=True), help="--precision: no trial starts after this.")
@click.option("--no-log-front", is_flag=True,
              help="--precision: do not run the front's mixed variants (those within every budget, when the "
                   "experiment sets budgets) through the sweep; front.yaml is written anyway.")
def search(experiment_file: str, work_dir: str, no_progress: bool, precision: bool, trials: int, individual: int,
           seed: int, max_seconds: float, no_log_front: bool) -> None:
    """Accuracy-budget search over EXPERIMENT_FILE's `search.space` (every trial is a logged variant), or with
    --precision a per-layer precision search of its float baseline."""
    from workbench.run.signals import stop_on_signals

    if precision:
        _precision_search(experiment_file, work_dir, no_progress, trials, individual, seed, max_seconds,
                          not no_log_front)
        return
    from workbench.run.search import run_search

    with stop_on_signals():
        r = run_search(experiment_file, work_dir=work_dir, progress=not no_progress)
    _print_table(r.trials)
    click.echo(f"\n{len(r.trials)} trial(s) in {r.seconds:.0f}s; stopped by {r.stopped_by}.")
    click.echo(f"Pareto front (size, latency) within the accuracy budget: {', '.join(r.front) or 'none'}")
    if r.best:
        click.echo(f"Most compressed within budget: {r.best['variant']} (gzip ratio "
                   f"{r.best['compression_ratio_gzip']:.2f}, {r.best['accuracy_delta']:+.2f} pts)")
    sys.exit(0 if r.best else 1)


def _precision_search(experiment_file: str, work_dir: str, no_progress: bool, trials: int, individual: int,
                      seed: int, max_seconds: float, log_front: bool) -> None:
    from workbench.catalog.metrics import fmt_bytes, fmt_ms
    from workbench.run.precision import run_precision_search
    from workbench.run.signals import stop_on_signals
    from workbench.views.summary import plain

    with stop_on_signals():
        r = run_precision_search(experiment_file, work_dir=work_dir, trials=trials, individual=individual, seed=seed,
                                 max_seconds=max_seconds, log_front=log_front, progress=not no_progress)
    for row in r.rows:
        mark = "*" if row["variant"] in r.front else " "
        ok = "within budgets" if row["within_budgets"] else "over: " + "; ".join(row["violations"])
        click.echo(f"{mark} {row['variant']}  {row['accuracy_delta']:+6.2f} pts  {fmt_bytes(row['size_bytes']):>9}  "
                   f"p50 {fmt_ms(row['latency_ms_p50']):>9}  {row['origin']}  ({ok})")
    click.echo(f"\n{len(r.rows)} candidate(s) measured in {r.trials} trial(s), {r.seconds:.0f}s; stopped by "
               f"{r.stopped_by}. * = front (accuracy delta, size, p50).")
    click.echo(f"Within every budget: {len(r.uniform_within)} uniform, {len(r.mixed_within)} mixed; front within "
               f"budgets: {', '.join(r.front_within) or 'none'}")
    click.echo(f"Recipes and the front as an experiment file: {r.front_file}")
    for name, same in r.reproduced.items():
        click.echo(f"{name}: logged as a variant; its file {'is' if same else 'is NOT'} the one the search measured")
    if r.dashboard:
        click.echo(f"\nDashboard of the front's sweep: {r.dashboard}")
    if r.recommendation:
        click.echo(f"\nRecommendation: {plain(r.recommendation)}")
        click.echo(f"To weigh them with every variant of {experiment_file} in its recommendation, copy them (each with "
                   f"its recipe .json) from {r.front_file} into it and `workbench run` it: finished variants are reused.")
    sys.exit(0 if r.front_within else 1)


@main.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--ids", is_flag=True, help="Also compute variant ids (loads each dataset).")
def validate(files: tuple[str, ...], ids: bool) -> None:
    """Check the experiment FILES and list the variants they expand to; a user's model file is also checked against
    its dataset (input shape and dtype, labels against outputs), from the file's config, without TensorFlow."""
    from workbench.spec import load_experiment
    from workbench.spec.load import check_machine

    for f in files:
        if Path(f).name.startswith("_"):
            click.echo(f"{f}: shared base file (merged by files that say `base: {Path(f).name}`), skipped")
            continue
        if ids:
            from workbench.run.sweep import plan_experiment

            p = plan_experiment(f, Path.cwd())
            click.echo(f"{f}: OK, experiment '{p.experiment.name}', {len(p.variants)} variant(s)")
            for note in check_machine(p.experiment, f):  # what could not be checked: a remote device's CPUs
                click.echo(f"  note: {note}")
            for pv in p.variants:
                click.echo(f"  {pv.name:<32} {pv.spec.technique:<28} {pv.id[:16]}")
        else:
            from workbench.model_files import resolve_model

            spec = load_experiment(f)
            vs = spec.resolved_variants()
            checked = resolve_model(spec.baseline.model, Path.cwd())  # a missing or corrupt model file: exit 2
            user_model = checked is not None and checked.signature is not None
            if user_model or ":" not in spec.baseline.dataset:  # a dataset function is the user's code: --ids, run
                from workbench.data import load_dataset
                from workbench.fit import check_classes, check_fit
                from workbench.variant.inputs import check_resources, model_input_shape

                dataset = load_dataset(spec.baseline.dataset, spec.baseline.dataset_args, Path.cwd(),
                                       model_input_shape(checked), labels=spec.task.labels)
                if checked is not None and checked.signature is not None:  # a user's model: does the data fit it?
                    check_fit(spec.baseline.model, checked.signature, dataset)
                elif checked is None:
                    check_classes(spec.baseline.model, dataset)
                check_resources(spec, vs, dataset, Path.cwd(), f, checked)  # schedules; the memory estimate
            click.echo(f"{f}: OK, experiment '{spec.name}', {len(vs)} variant(s)")
            for note in check_machine(spec, f):  # what could not be checked: a remote device's CPUs
                click.echo(f"  note: {note}")
            if checked is not None:
                click.echo(f"  model {spec.baseline.model}: {checked.format}, {checked.size_bytes / 1024:.1f} KB, "
                           f"sha256 {checked.sha256[:16]}")
            for v in vs:
                click.echo(f"  {v.name:<32} {v.technique}")


@main.command()
@click.argument("model", type=click.Path())
@click.option("--runtime", "-r", type=click.Choice(runtime_names()), default=runtime_names()[0], show_default=True,
              help="; ".join(f"{r.name} runs {' and '.join(r.formats)} files" for r in RUNTIMES.values()) + ".")
@click.option("--accelerator", type=click.Choice(accelerators()), default="cpu", show_default=True,
              help="; ".join(f"{r.display}: {'/'.join(r.accelerators[1:])}" for r in RUNTIMES.values() if r.accelerators[1:])
              + " (LiteRT's: compiled_model API). Fails in one line when the device is absent.")
@click.option("--threads", "-t", default=1, show_default=True, help="Interpreter threads.")
@click.option("--no-xnnpack", is_flag=True, help="Disable the XNNPACK delegate (builtin kernels only).")
@click.option("--kernels", type=click.Choice(["optimized", "reference"]), default="optimized", show_default=True,
              help="reference: LiteRT's reference kernels (BUILTIN_REF), to see what optimized kernels buy.")
@click.option("--api", type=click.Choice(["interpreter", "compiled_model"]), default="interpreter", show_default=True,
              help="LiteRT's API: the Interpreter, or the compiled-model API (what --accelerator gpu/npu use).")
@click.option("--batch", default=1, show_default=True, help="Batch size: the size every dynamic first dimension takes.")
@click.option("--inputs", type=click.Path(exists=True, dir_okay=False), default=None,
              help="Real input samples: an .npz keyed by input name (each (N, ...)), or an .npy for a single-input "
                   "model; inputs not given get random data of their own dtype and shape.")
@click.option("--input-shape", "input_shape", multiple=True, metavar="NAME=1x3x640x640",
              help="The shape of an input with dynamic dimensions (repeatable); a dynamic first dimension "
                   "alone takes --batch.")
@click.option("--warmup", default=10, show_default=True, help="Warm-up invocations (not timed).")
@click.option("--min-runs", default=50, show_default=True,
              help="Timed invocations at least (timing goes on until both --min-runs and --min-seconds are met).")
@click.option("--min-seconds", default=1.0, show_default=True, help="Seconds of timed invocations at least.")
@click.option("--max-runs", default=10_000, show_default=True, help="Timed invocations at most (a cap).")
@click.option("--max-seconds", default=30.0, show_default=True, help="Seconds of timed invocations at most (a cap).")
@click.option("--cpu", "cpu_pin", multiple=True, type=int, help="Pin the runner to this CPU (repeatable).")
@click.option("--clients", default=1, show_default=True, help="Load scenario: concurrent clients (with --load-seconds).")
@click.option("--load-seconds", default=0.0, show_default=True, help="Load scenario duration; 0 = no load run.")
@click.option("--host", default=None, help="user@host: profile on a remote device over SSH.")
@click.option("--ssh-port", default=22, show_default=True, help="SSH port of --host.")
@click.option("--ssh-key", default=None, type=click.Path(dir_okay=False), help="Private key for --host.")
@click.option("--remote-python", default="python3", show_default=True,
              help="Python on the device (needs numpy and the runtime: "
                   + ", ".join(r.package for r in RUNTIMES.values()) + ").")
@click.option("--log-to", "log_to", default=None, metavar="EXPERIMENT",
              help="Also log the profile (metrics, JSON, the .tflite) as a run of this MLflow experiment.")
@click.option("--layers", "layer_runs", default=0, show_default=True, metavar="RUNS",
              help="Also time every node with the runtime's own profiler over RUNS runs, in a session of its own "
                   "(OpenVINO, ONNX Runtime; LiteRT's Python API cannot): the slowest nodes and their sum vs p50.")
@click.option("--overlay", type=click.Path(dir_okay=False), default=None,
              help="With --layers: write each node's median ms as a Model Explorer node-data overlay here.")
@click.option("--rounds", default=3, show_default=True,
              help="Fresh processes the timing budget is split over; the p50 interval is the spread between them "
                   "(run-to-run noise, not sample count). 1: one process and no interval.")
@click.option("--against", type=click.Path(exists=True, dir_okay=False), default=None, metavar="REFERENCE",
              help="A reference file (e.g. the float32 .tflite) measured side by side with MODEL, interleaved round "
                   "by round on the same runtime and settings: prints the speed-up with its interval, or says "
                   "there is no measurable difference.")
@click.option("--json", "as_json", is_flag=True, help="Print the full JSON result (raw samples included).")
@click.option("--output", "-o", type=click.Path(dir_okay=False), default=None, help="Also write the JSON here.")
def profile(model: str, runtime: str, accelerator: str, threads: int, no_xnnpack: bool, kernels: str, api: str, batch: int, inputs: str | None,
            input_shape: tuple[str, ...], warmup: int, min_runs: int, min_seconds: float, max_runs: int, max_seconds: float,
            cpu_pin: tuple[int, ...], clients: int, load_seconds: float, host: str | None, ssh_port: int,
            ssh_key: str | None, remote_python: str, log_to: str | None, layer_runs: int, overlay: str | None,
            rounds: int, against: str | None, as_json: bool, output: str | None) -> None:
    """Profile a MODEL file on any runtime (see --runtime) in a fresh process: latency stats, init, memory."""
    from pydantic import ValidationError

    from workbench.catalog.metrics import fmt_ms
    from workbench.profile.layers import layer_lines
    from workbench.profile.targets import check_model_file
    from workbench.spec import TargetSpec, format_validation_error

    try:
        if runtime == "litert" and accelerator != "cpu":
            api = "compiled_model"  # LiteRT's accelerators are the compiled-model API's
        target = TargetSpec(runtime=runtime, accelerator=accelerator,  # type: ignore[arg-type]
                            threads=threads, xnnpack=not no_xnnpack, api=api, batch=batch,  # type: ignore[arg-type]
                            input_source="test" if inputs else "random", warmup_runs=warmup, min_runs=min_runs,
                            min_seconds=min_seconds, max_runs=max_runs, max_seconds=max_seconds,
                            cpu_pin=list(cpu_pin) or None, host=host, kernels=kernels, clients=clients,  # type: ignore[arg-type]
                            input_shapes=_input_shapes(input_shape),
                            load_seconds=load_seconds, ssh_port=ssh_port, ssh_key=ssh_key, remote_python=remote_python)
    except ValidationError as exc:
        raise WorkbenchError(format_validation_error("options", exc)) from None
    from workbench.spec.domains import machine_problem
    from workbench.spec.load import target_machine, usable_cpus

    on, machine = target_machine("options", target, usable_cpus())  # --host: as its last profile found it
    problem = machine_problem("options", target, on or [], machine)  # --threads 256, --cpu 999: before any cost
    if problem:
        raise WorkbenchError(problem.replace("options.cpu_pin", "--cpu").replace("options.", "--"))
    if on is None:
        click.echo(f"note: remote CPUs unknown, not checked: {host} was never profiled from this project (this "
                   "profile records them), so --threads, --cpu and --clients are not checked", err=True)
    samples = _load_inputs(inputs) if inputs else None
    if layer_runs < 0:
        raise WorkbenchError(f"--layers {layer_runs}: give a number of runs, 0 for none")
    if overlay and not layer_runs:
        raise WorkbenchError("--overlay writes per-node times: give --layers RUNS too")
    if not 1 <= rounds <= 50:
        raise WorkbenchError(f"--rounds {rounds}: give 1 to 50 rounds (3 or more measure run-to-run noise)")
    if against:
        check_model_file(Path(against), runtime)
    paired = _profile_rounds(Path(model), Path(against) if against else None, target, samples, layer_runs, rounds)
    result = paired.subject
    text = result.to_json()
    if paired.speedup is not None and paired.reference is not None:
        data = json.loads(text)
        data["against"] = {"model": against, "p50_ms": paired.reference.latency.p50,
                           "p50_ci_low": paired.reference.latency.p50_ci_low,
                           "p50_ci_high": paired.reference.latency.p50_ci_high,
                           **paired.speedup.metrics("speedup"), "ratio_per_round": list(paired.speedup.per_round)}
        text = json.dumps(data, indent=1)
    if output:
        Path(output).write_text(text)
    if log_to:
        from workbench.tracking import log_profile_run

        run_id = log_profile_run(log_to, Path(model), result)
        click.echo(f"logged to MLflow experiment '{log_to}', run {run_id}", err=as_json)
    if as_json:
        click.echo(text)
        return
    s, m, mem = result.latency, result.metrics(), result.memory
    rt = result.runtime
    click.echo(f"{model}: {s.runs} runs on {rt.package} {rt.version} ({accelerator}), threads={threads}, "
               + (f"xnnpack={not no_xnnpack}, api={api}, " if runtime == "litert" else "")
               + f"batch={batch}, inputs={result.input_source_used}")
    if result.inputs:
        click.echo("  inputs      " + ";  ".join(i.describe() for i in result.inputs))
    noise = (f"run-to-run 95% interval {fmt_ms(s.p50_ci_low)} - {fmt_ms(s.p50_ci_high)} over {s.rounds} rounds"
             if s.rounds > 1 else "one round: no run-to-run interval, --rounds 3 measures one")
    click.echo(f"  latency     p50 {fmt_ms(s.p50)} ({noise})  "
               f"p90 {fmt_ms(s.p90)}  p95 {fmt_ms(s.p95)}  p99 {fmt_ms(s.p99)}  mean {fmt_ms(s.mean)}  "
               f"std {fmt_ms(s.std)}  min {fmt_ms(s.min)}")
    click.echo(f"  init {fmt_ms(m['init_ms'])}   throughput {m['throughput_ips']:.1f}/s" + ("   NOISY" if s.noisy else ""))
    if paired.speedup is not None and paired.reference is not None:
        click.echo("  against     " + _against_line(against or "", paired.reference.latency.p50, paired.speedup))
    if result.ignored_options:
        click.echo(f"  note: the {rt.api} API ran with its defaults for: {', '.join(result.ignored_options)}")
    if facts := {k: v for k, v in result.facts.items() if k not in ("layers", "inputs", "placement")}:  # own lines
        click.echo("  runtime     " + "  ".join(f"{k} {v}" for k, v in facts.items()))
    external_mb = float("nan") if result.external_peak_rss_mb is None else result.external_peak_rss_mb
    click.echo(f"  memory MB   baseline {mem.baseline_mb:.1f}  after load +{mem.after_load_mb - mem.baseline_mb:.1f}  "
               f"after allocate +{m['memory_mb_init']:.1f}  peak +{m['memory_mb_peak']:.1f}  "
               f"inputs {m.get('memory_mb_inputs', float('nan')):.1f} (apart)  "
               f"(kernel's peak for the whole runner: {external_mb - mem.baseline_mb:+.1f})")
    if result.placement is not None:
        click.echo(f"  cpus        {result.placement.note}")
    fallback = result.ops.fallback
    if fallback and runtime == "litert" and not no_xnnpack and kernels == "optimized":
        click.echo(f"  note: {len(fallback)} op(s) not taken by XNNPACK: " + ", ".join(sorted(set(fallback))))
    if "layers" in result.facts:
        for line in layer_lines(result.facts["layers"], s.p50):
            click.echo(line)
        if overlay and result.facts["layers"].get("nodes"):
            from workbench.profile.layers import overlay_values
            from workbench.views.overlay import write_overlay

            ops = None
            if model.endswith(".tflite"):  # OpenVINO's nodes found again on the .tflite's ops (names, weights)
                from workbench.tflite_model import op_weights, read_tflite

                ops = op_weights(read_tflite(model))
            values = overlay_values(result.facts["layers"], ops)
            write_overlay(Path(overlay), values)
            click.echo(f"  overlay     {overlay}: median ms of {len(values)} nodes, for Model Explorer"
                       + (f" (workbench graph {model} --overlay {overlay})" if model.endswith(".tflite") else ""))
    if "load_throughput_ips" in m:
        click.echo(f"  load        {clients} clients x {load_seconds:g}s: {m['load_throughput_ips']:.1f}/s  "
                   f"p50 {fmt_ms(m.get('load_latency_ms_p50', float('nan')))}  "
                   f"p95 {fmt_ms(m.get('load_latency_ms_p95', float('nan')))}  "
                   f"p99 {fmt_ms(m.get('load_latency_ms_p99', float('nan')))}  errors {m['load_errors']:.0f}  "
                   f"peak +{m['load_memory_mb_peak']:.1f} MB")


def _profile_rounds(model: Path, against: Path | None, target: Any, samples: Any, layer_runs: int,
                    rounds: int) -> Any:
    """MODEL (and REFERENCE, interleaved) in ``rounds`` fresh processes; per-node timing in the first of MODEL's."""
    from workbench.profile import profile_model
    from workbench.profile.paired import measure_rounds

    pending = [layer_runs]

    def measure(path: Path, t: Any) -> Any:
        runs, pending[0] = (pending[0], 0) if path == model else (0, pending[0])
        return profile_model(path, t, samples, layer_runs=runs)

    return measure_rounds(measure, model, against, target, rounds)


def _against_line(reference: str, reference_p50: float, speedup: Any) -> str:
    """'float.tflite p50 9.1 ms; x1.92 faster [1.80-2.05] over 3 interleaved rounds: pays off'."""
    from workbench.catalog.metrics import fmt_ms
    from workbench.profile.stats import payoff

    interval = (f" [{speedup.ci_low:.2f}-{speedup.ci_high:.2f}]" if speedup.ci_low == speedup.ci_low
                else " (one round: no interval)")
    return (f"{reference} p50 {fmt_ms(reference_p50)}; speed-up x{speedup.value:.2f}{interval} over "
            f"{speedup.rounds} interleaved round{'s' if speedup.rounds > 1 else ''}: "
            f"{payoff(speedup.value, speedup.ci_low, speedup.ci_high)}")


def _duration_s(text: str) -> float:
    """'20h' / '90m' / '45s' / '2d' -> seconds (positive and finite); WorkbenchError otherwise."""
    import math

    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    try:
        seconds = float(text[:-1]) * units[text[-1]]
    except (KeyError, ValueError, IndexError):
        raise WorkbenchError(f"--since: '{text}' is not a duration; use e.g. 45s, 90m, 20h, 2d") from None
    if not (math.isfinite(seconds) and seconds > 0):
        raise WorkbenchError(f"--since: '{text}' is not a positive duration; use e.g. 45s, 90m, 20h, 2d")
    return seconds


def _input_shapes(specs: tuple[str, ...]) -> dict[str, list[int]]:
    """``NAME=1x3x640x640`` options as {name: [1, 3, 640, 640]}; WorkbenchError (one line) when malformed."""
    out: dict[str, list[int]] = {}
    for text in specs:
        name, _, dims = text.rpartition("=")
        try:
            shape = [int(d) for d in dims.lower().split("x")]
        except ValueError:
            shape = []
        if not name or not shape or min(shape) < 1:
            raise WorkbenchError(f"--input-shape '{text}': expected NAME=DIMS with sizes >= 1 joined by x, "
                                 "e.g. images=1x3x640x640")
        if name in out:
            raise WorkbenchError(f"--input-shape: input '{name}' is given twice")
        out[name] = shape
    return out


def _load_inputs(path: str) -> Any:
    """The samples of an .npy (one array, for a single-input model) or an .npz (every array, keyed by name:
    the runner matches them to the model's inputs) as numeric arrays; WorkbenchError (one line) for a file
    NumPy cannot read without pickle, strings or objects, no samples, NaN or Inf. The runner then checks
    them against the model's inputs."""
    import zipfile

    import numpy as np

    from workbench.files import refuse_special

    refuse_special(path, "--inputs file", WorkbenchError)  # a named pipe would block np.load forever
    try:
        data = np.load(path, allow_pickle=False)
        if hasattr(data, "files"):
            if not data.files:
                raise WorkbenchError(f"--inputs {path}: the .npz holds no arrays")
            arrays = {key: np.asarray(data[key]) for key in data.files}
        else:
            arrays = {"": np.asarray(data)}
    except ValueError as exc:
        raise WorkbenchError(f"--inputs {path}: cannot load inputs without pickle ({exc})") from None
    except (zipfile.BadZipFile, EOFError, OSError, KeyError) as exc:
        raise WorkbenchError(f"--inputs {path}: not a readable .npy / .npz file ({type(exc).__name__}: "
                             f"{str(exc).strip()[:120]})") from None
    for key, x in arrays.items():
        where = f"--inputs {path}" + (f" ['{key}']" if key else "")
        if x.dtype.kind not in "biuf":
            raise WorkbenchError(f"{where}: dtype {x.dtype} is not numeric (need int, uint, float or bool samples)")
        if x.ndim < 1 or x.shape[0] == 0:
            raise WorkbenchError(f"{where}: shape {x.shape} holds no samples; expected (N, *input shape), N >= 1")
        if x.dtype.kind == "f" and not np.isfinite(x).all():
            bad = int((~np.isfinite(x)).sum())
            raise WorkbenchError(f"{where}: {bad} value(s) are NaN or Inf")
    return arrays[""] if "" in arrays else arrays


@main.command()
@click.option("--port", default=5000, show_default=True, help="Port the MLflow UI listens on.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Listen here only (127.0.0.1: this machine).")
def ui(port: int, host: str) -> None:
    """Start the MLflow UI on the embedded store and print the address of each experiment's model-training view
    (MLflow opens on its GenAI pages otherwise)."""
    import os

    from workbench.tracking import Tracker, is_embedded, ui_path

    tr = Tracker()
    tr.check()
    if not is_embedded(tr.uri):
        raise WorkbenchError(f"MLFLOW_TRACKING_URI={tr.uri} is a tracking server, which already serves the UI: open "
                             f"{tr.uri.rstrip('/')}/{ui_path('<experiment id>')}")
    for name, exp_id in tr.experiments():
        click.echo(f"{name}: http://{host}:{port}/{ui_path(exp_id)}")
    click.echo(f"MLflow UI on http://{host}:{port} (Ctrl-C stops it)", err=True)
    from workbench.tracking.ui_app import ui_command  # MLflow's server + the landing page (the runs view)

    argv = ui_command(tr.uri, host, port)
    os.execv(argv[0], argv)


@main.command()
@click.argument("experiment")
@click.option("--sweep", default="latest", show_default=True,
              help="Sweep id (`workbench sweeps EXPERIMENT` lists them), or 'latest'.")
@click.option("--out", default=".workbench/reports", show_default=True, type=click.Path(file_okay=False),
              help="Folder the dashboard's HTML file is written to (it is also logged on the sweep's run).")
def report(experiment: str, sweep: str, out: str) -> None:
    """Rebuild the HTML dashboard of a past sweep from MLflow (EXPERIMENT: a name or an experiment YAML)."""
    from workbench.run.history import find_sweep, sweeps_of
    from workbench.run.settle import report as build_report
    from workbench.tracking import Tracker

    tr = Tracker()
    tr.check()
    exp, sweeps = sweeps_of(tr, experiment)
    if sweep == "latest":
        if not sweeps:
            raise WorkbenchError(f"experiment '{exp.name}' has no sweeps yet; run `workbench run` first")
        sweep = sweeps[0].sweep_id
    find_sweep(sweeps, sweep, "--sweep", exp.name)
    from workbench.run.verify import refuse_if_tampered

    refuse_if_tampered(tr, exp.experiment_id, sweep)  # a result whose stored files changed is not shown as valid
    path = build_report(tr, exp.experiment_id, sweep, Path(out)).path
    click.echo(f"Dashboard for sweep {sweep}: {path}")
    from workbench.run.overlays import sweep_overlays

    try:
        graph = sweep_overlays(tr, exp.experiment_id, sweep, Path(out))
    except WorkbenchError as exc:  # no float32 variant: the dashboard stands, the graph is not drawn
        click.echo(f"No Model Explorer overlays: {exc}")
        return
    click.echo(f"Model Explorer overlays for {graph.model.name}: {len(graph.overlays)} in {graph.model.parent} "
               f"(open them: workbench graph {experiment} --sweep {sweep})")
    for name, why in graph.skipped.items():
        click.echo(f"  no overlay for {name}: {why}")


@main.command()
@click.argument("experiment")
@click.option("--limit", "-n", default=20, show_default=True, help="Show the newest N sweeps; 0 shows all.")
@click.option("--json", "as_json", is_flag=True, help="Print the sweeps as JSON (every field, newest first).")
def sweeps(experiment: str, limit: int, as_json: bool) -> None:
    """List the sweeps of EXPERIMENT (a name or an experiment YAML), newest first: the ids `--compare-to` and
    `report --sweep` take, when each started, its variants and how they ended, the regressions the nightly
    comparison found (- when it compared nothing) and what it recommended."""
    import dataclasses

    from workbench.run.history import started, sweeps_of
    from workbench.tracking import Tracker

    tr = Tracker()
    tr.check()
    exp, found = sweeps_of(tr, experiment)
    shown = found[:limit] if limit > 0 else found
    if as_json:
        click.echo(json.dumps([{**dataclasses.asdict(s), "status": str(s.status), "started": started(s)}
                               for s in shown], indent=1))
        return
    if not found:
        click.echo(f"experiment '{exp.name}' has no sweeps yet; run `workbench run` first")
        return
    heads = ("sweep", "started (UTC)", "status", "variants", "finished", "failed", "skipped", "regressions",
             "recommended")
    rows = [(s.sweep_id, started(s), str(s.status), str(s.variants) if s.variants >= 0 else "?", str(s.finished),
             str(s.failed), str(s.skipped), "-" if s.regressions is None else str(s.regressions),
             s.recommended or "-") for s in shown]
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(heads)]
    numeric = {3, 4, 5, 6, 7}
    click.echo("  ".join(h.rjust(w) if i in numeric else h.ljust(w) for i, (h, w) in enumerate(zip(heads, widths, strict=True))))
    for r in rows:
        click.echo("  ".join(c.rjust(w) if i in numeric else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True))))
    if len(shown) < len(found):
        click.echo(f"({len(found) - len(shown)} older sweep(s) not shown: --limit 0 shows all)")


@main.command()
@click.argument("experiment", required=False)
@click.option("--work-dir", default=None, help="Whose cached baselines to check (default: .workbench when it exists; "
              "a folder given must exist).")
def verify(experiment: str | None, work_dir: str | None) -> None:
    """Re-hash stored artifacts and cached files against the SHA-256s recorded when they were produced.

    EXPERIMENT: a name or an experiment YAML (default: every experiment in the store). Checks every
    variant and profile run's artifacts, each LoggedModel's .tflite, and the cached baselines in
    --work-dir. Exit status 1 when anything does not match, 0 when all does.
    """
    from workbench.run.verify import verify_store

    name = experiment
    if experiment and experiment.endswith((".yaml", ".yml")):
        from workbench.spec import load_experiment

        name = load_experiment(experiment, machine=False).name
    rep = verify_store(name, work_dir=work_dir)
    for line in rep.mismatches:
        click.echo(f"MISMATCH {line}")
    for line in rep.unverifiable:
        click.echo(f"UNVERIFIED {line}")
    caches = f"{rep.caches_checked} cached baseline(s)" + ("" if rep.work_dir is not None
                                                          else " (no work dir: .workbench is absent here)")
    click.echo(f"Checked {rep.files_checked} stored file(s) of {rep.runs_checked} run(s) in "
               f"{len(rep.experiments)} experiment(s) and {caches}: "
               f"{len(rep.mismatches)} mismatch(es), {len(rep.unverifiable)} without recorded checksums.")
    sys.exit(0 if rep.ok else 1)


@main.command()
@click.argument("model", type=click.Path(dir_okay=False))
@click.option("--mode", "-m", type=click.Choice(QUANTIZER_MODES), default="int4_weights", show_default=True,
              help="The LiteRT Quantizer recipe: " + "; ".join(f"{m}: {QUANT_MODE_INFO[m].what.split(': ', 1)[-1]}"
                                                          for m in QUANTIZER_MODES) + ".")
@click.option("--output", "-o", type=click.Path(dir_okay=False), default=None,
              help="Where to write the quantized .tflite (default: MODEL's name with .MODE.tflite, beside it).")
@click.option("--overlay", type=click.Path(dir_okay=False), default=None,
              help="Also compare every tensor with the float file (the quantizer's SNR, on --data's samples, "
                   "else one random-normal sample) and write the SNR in dB as a Model Explorer node-data overlay "
                   "here.")
@click.option("--recipe", type=click.Path(dir_okay=False), default=None,
              help="Apply this LiteRT Quantizer recipe (.json, e.g. one `workbench search --precision` wrote) "
                   "instead of --mode.")
@click.option("--data", type=click.Path(dir_okay=False), default=None,
              help="An .npz of the model's inputs (x_train, or x_train_<input> per input; y_* not needed): its "
                   "first --samples x_train samples calibrate a recipe with static int8 / int16 layers (required "
                   "then) and feed --overlay's comparison.")
@click.option("--samples", type=click.IntRange(min=1), default=100, show_default=True,
              help="How many x_train samples of --data to use.")
def quantize(model: str, mode: str, output: str | None, overlay: str | None, recipe: str | None,
             data: str | None, samples: int) -> None:
    """Quantize MODEL, a float .tflite you bring (no Keras model needed), with a LiteRT Quantizer recipe; then
    `workbench profile` the result. Runs without TensorFlow."""
    import hashlib

    from workbench.catalog.quantization import recipe_hash, recipe_needs_calibration
    from workbench.convert.quantizer import quantize_recipe, quantize_tflite
    from workbench.files import atomic_write
    from workbench.tflite_model import read_tflite

    src = Path(model)
    rules = _read_recipe(recipe) if recipe else None
    if rules is not None:
        mode = f"mixed-{recipe_hash(rules)}"
        if recipe_needs_calibration(rules) and data is None:
            raise WorkbenchError(f"--recipe {recipe}: the recipe has static int8/int16 activations and needs "
                                 "calibration samples: give --data X.npz (its x_train, first --samples samples)")
    dst = Path(output) if output else src.with_name(f"{src.stem}.{mode}.tflite")
    if dst.resolve() == src.resolve():
        raise WorkbenchError(f"--output {dst} is the input file; give another path")
    float_bytes = read_tflite(src)
    x = _input_samples(data, samples) if data else None
    content = quantize_recipe(float_bytes, rules, mode, x) if rules is not None else quantize_tflite(
        float_bytes, mode)
    atomic_write(dst, content)
    before, after = src.stat().st_size, len(content)
    click.echo(f"{dst}: {mode}, {after:,} bytes ({after / before:.3f} of {before:,}), "
               f"sha256 {hashlib.sha256(content).hexdigest()}")
    if overlay:
        from workbench.convert.quantizer import tensor_errors
        from workbench.views.overlay import write_overlay

        snr = {k: v["snr_db"] for k, v in tensor_errors(float_bytes, content, x).items() if "snr_db" in v}
        write_overlay(Path(overlay), snr, higher_is_worse=False)
        worst = sorted(snr.items(), key=lambda kv: kv[1])[:5]
        on = f"{len(x)} samples of {data}" if x is not None else "one random-normal sample"
        click.echo(f"{overlay}: SNR in dB of {len(snr)} changed tensors ({on}); lowest: "
                   + ", ".join(f"{k} {v:.1f}" for k, v in worst))


def _input_samples(path: str, samples: int) -> Any:
    """The first ``samples`` x_train samples of an .npz (``data.npz_inputs``: checked as a dataset's, never
    unpickled; no labels or x_test needed): an array for one input, one ``{input name: array}`` per sample for
    ``x_train_<input>`` arrays."""
    import numpy as np

    from workbench.data import npz_inputs

    if not path.endswith(".npz"):
        raise WorkbenchError(f"--data {path}: give an .npz (x_train, or x_train_<input> per model input)")
    x = npz_inputs(Path(path).resolve(), f"--data {path}")
    if not isinstance(x, dict):
        return x[:samples].astype(np.float32)
    n = min(samples, *(len(a) for a in x.values()))
    return [{k: a[i:i + 1].astype(np.float32) for k, a in x.items()} for i in range(n)]


def _read_recipe(path: str) -> list[Any]:
    """A recipe .json file (bounded read); one line naming the problem otherwise."""
    from workbench.catalog.quantization import recipe_problem
    from workbench.files import read_bounded

    try:
        rules = json.loads(read_bounded(Path(path), 10_000_000, "recipe file", WorkbenchError).decode("utf-8"))
    except FileNotFoundError:
        raise WorkbenchError(f"--recipe {path}: no such file") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise WorkbenchError(f"--recipe {path}: not JSON ({exc})") from None
    problem = recipe_problem(rules) if isinstance(rules, list) else "is not a list of rules"
    if problem:
        raise WorkbenchError(f"--recipe {path}: {problem}")
    return list(rules)


@main.command()
@click.argument("target")
@click.option("--overlay", "overlays", multiple=True, type=click.Path(exists=True, dir_okay=False),
              help="A node-data file to colour the graph with (repeatable): what `profile --overlay`, "
                   "`quantize --overlay` or the sensitivity notebook wrote. For a model file only.")
@click.option("--sweep", default="latest", show_default=True,
              help="For an experiment: the sweep (`workbench sweeps EXPERIMENT` lists them), or 'latest'.")
@click.option("--out", default=".workbench/reports", show_default=True, type=click.Path(file_okay=False),
              help="For an experiment: the folder the sweep's graph and overlays are written to.")
@click.option("--port", default=8080, show_default=True, help="Port Model Explorer listens on.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Listen here only (127.0.0.1: this machine).")
@click.option("--no-serve", is_flag=True, help="Write (and check) the files and print the command; start nothing.")
def graph(target: str, overlays: tuple[str, ...], sweep: str, out: str, port: int, host: str, no_serve: bool) -> None:
    """Open a model's graph in Google's Model Explorer on this machine (offline), coloured by node-data overlays.
    TARGET: a .tflite with --overlay files, or an experiment (a name or its YAML): the
    float32 variant's .tflite of a sweep, with one overlay per variant (each tensor's SNR in dB against float)."""
    import os
    import shlex
    import socket

    from workbench.views.model_explorer_app import PACKAGE, command, explorer_url, installed
    from workbench.views.overlay import read_overlay

    model = Path(target)
    files = [Path(o) for o in overlays]
    if model.suffix == ".tflite":
        if not model.is_file():
            raise WorkbenchError(f"{target}: no such .tflite file")
    elif model.suffix not in (".yaml", ".yml") and model.is_file():
        raise WorkbenchError(f"{target}: Model Explorer's built-in adapters read a .tflite here; give a .tflite "
                             "or an experiment (a name or its YAML)")
    else:
        if files:
            raise WorkbenchError("--overlay goes with a model file; an experiment's sweep brings its own overlays")
        from workbench.run.history import find_sweep, sweeps_of
        from workbench.run.overlays import sweep_overlays
        from workbench.tracking import Tracker

        tr = Tracker()
        tr.check()
        exp, sweeps = sweeps_of(tr, target)
        sweep = sweeps[0].sweep_id if sweep == "latest" and sweeps else sweep
        find_sweep(sweeps, sweep, "--sweep", exp.name)
        done = sweep_overlays(tr, exp.experiment_id, sweep, Path(out))
        model, files = done.model, done.overlays
        for name, why in done.skipped.items():
            click.echo(f"  no overlay for {name}: {why}", err=True)
    data = [read_overlay(f) for f in files]  # a file Model Explorer would not read: refused now, in one line
    if data and installed():
        from workbench.views.model_explorer_app import graph_tensors
        from workbench.views.overlay import on_graph

        nodes = graph_tensors(model)
        for f, d in zip(files, data, strict=True):
            landed, keys = on_graph(d, nodes)
            click.echo(f"  {f.name}: {landed} of {keys} values on nodes of {model.name}", err=True)
    argv = command(model, files, host, port)
    url = explorer_url(host, port, model, files)
    if no_serve:
        click.echo(f"{model}: {len(files)} overlay(s): " + ", ".join(str(f) for f in files))
        click.echo(shlex.join(argv))
        return
    if not installed():
        raise WorkbenchError(f"Model Explorer is not installed here: pip install -c constraints.txt {PACKAGE} "
                             "(make venv installs it)")
    with socket.socket() as s:
        if s.connect_ex((host, port)) == 0:
            raise WorkbenchError(f"--port {port}: something already listens on {host}:{port}; give another port")
    click.echo(f"Model Explorer on {url} (Ctrl-C stops it; the overlays are in its side panel)", err=True)
    os.execv(argv[0], argv)


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print the model and dataset names as JSON.")
def zoo(as_json: bool) -> None:
    """List the built-in baseline models and datasets (from the catalogue: no TensorFlow, prints at once)."""
    from workbench.catalog.zoo import DATASETS, ZOO_MODELS

    if as_json:
        click.echo(json.dumps({"models": sorted(ZOO_MODELS), "datasets": sorted(DATASETS)}))
        return
    click.echo("models (or a .keras / .h5 / SavedModel path):")
    width = max(len(n) for n in ZOO_MODELS)
    for m in ZOO_MODELS.values():
        shape = "x".join(str(d) for d in m.input_shape)
        click.echo(f"  {m.name.ljust(width)}  {m.description}; made for {shape}, {m.classes} classes; "
                   f"fits {', '.join(m.datasets)}" + (f"; model_args: {', '.join(m.args)}" if m.args else ""))
    click.echo("datasets: " + ", ".join(sorted(DATASETS)) + "  (or an .npz with x_train,y_train,x_test,y_test; "
               "several inputs: x_train_<input>,x_test_<input>; an image folder; docs/datasets.md)")


if __name__ == "__main__":
    main()
