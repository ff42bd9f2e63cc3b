"""The ``Tracker``: experiments, sweep (parent) and variant (child) runs, LoggedModels, the registry, claims."""

from __future__ import annotations

import time
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.errors import RunSettled, TrackingError
from workbench.tracking.claims import Claims
from workbench.tracking.names import (
    EMBEDDED_ARTIFACTS,
    EXPERIMENT_KIND_TRAINING,
    KIND_PROFILE,
    KIND_SWEEP,
    KIND_VARIANT,
    ORIGIN_ADHOC,
    RECOMMENDED_ALIAS,
    TAG_ARTIFACTS_SHA256,
    TAG_DATA_CONTEXT,
    TAG_DATASET,
    TAG_DEVICE,
    TAG_EXPERIMENT_KIND,
    TAG_INTEGRITY,
    TAG_KIND,
    TAG_MODEL_ID,
    TAG_MODEL_SHA256,
    TAG_NOTE,
    TAG_ORIGIN,
    TAG_PARENT_RUN,
    TAG_VARIANT,
    default_tracking_uri,
    is_embedded,
    logged_model_name,
    provenance_tags,
)
from workbench.tracking.records import (
    ArtifactEntry,
    ExperimentRecord,
    LoggedModelRecord,
    ModelVersionRecord,
    RunRecord,
    RunStatus,
    SweepSummary,
    experiment_record,
    logged_model_record,
    model_version_record,
    run_record,
    sweep_summary,
)
from workbench.tracking.retry import _RetryingClient, retry_budget_s, short_error
from workbench.tracking.uri import check_tracking_uri

if TYPE_CHECKING:
    from workbench.profile.result import ProfileResult


from mlflow.entities import Metric, Param, RunTag  # noqa: E402
from mlflow.tracking import MlflowClient  # noqa: E402


def _open_client(uri: str) -> MlflowClient:
    """An MlflowClient; for a SQLite file, checked first (MLflow would retry a path it cannot open for ~100 s)
    and created under a file lock, so that two processes opening a new store do not race its schema migration."""
    check_tracking_uri(uri)  # an unknown scheme, a malformed URI, a database on a closed port: one line, now
    if not uri.startswith("sqlite:///"):
        try:
            return MlflowClient(tracking_uri=uri)
        except Exception as exc:  # e.g. a database driver that is not installed
            raise TrackingError(f"MLflow tracking store {uri} cannot be opened ({short_error(exc)})") from None
    from workbench.files import file_lock

    db = Path(uri.removeprefix("sqlite:///").split("?")[0])
    if db.exists() and not db.is_file():
        raise TrackingError(f"MLflow tracking store {uri}: {db} is not a file; move it away or set "
                            "MLFLOW_TRACKING_URI")
    if not db.parent.is_dir():
        raise TrackingError(f"MLflow tracking store {uri}: the folder {db.parent} does not exist")
    try:
        with file_lock(db.with_name(f".{db.name}.lock")):
            client = MlflowClient(tracking_uri=uri)
            client.search_experiments(max_results=1)  # creates or migrates the schema, once, here
    except OSError as exc:
        raise TrackingError(f"MLflow tracking store {uri} cannot be opened ({exc.strerror or exc}); check that "
                            f"{db.parent} is writable") from None
    except Exception as exc:
        raise TrackingError(f"MLflow tracking store {uri} cannot be opened ({short_error(exc)})") from None
    return client


class Tracker(Claims):
    """Thin, explicit wrapper over ``MlflowClient`` (no global active-run state; safe across processes)."""

    def __init__(self, tracking_uri: str | None = None, root: Path | None = None,
                 retry_s: float | None = None) -> None:
        self.uri = tracking_uri or default_tracking_uri(root)
        self.root = (root or Path.cwd()).resolve()
        # no mlflow.set_tracking_uri(): it exports MLFLOW_TRACKING_URI and would leak into later Trackers
        self._raw = _open_client(self.uri)  # no retries: reachability checks, a running variant's polls
        self.retry_s = retry_budget_s() if retry_s is None else retry_s
        self._client: Any = _RetryingClient(self._raw, self.uri, self.retry_s)
        self._guarded: str = ""  # a run written to only while it is RUNNING (``guard``)

    def guard(self, run_id: str) -> None:
        """From now on every write to ``run_id`` first checks that the run is still RUNNING, and raises
        ``RunSettled`` instead of writing when its sweep has settled it (a notebook writing into a sweep's run:
        a run settled KILLED receives nothing more, whatever is still running)."""
        self._guarded = run_id

    def _writable(self, run_id: str) -> None:
        if run_id and run_id == self._guarded:
            status = str(self._client.get_run(run_id).info.status)
            if status != RunStatus.RUNNING:
                raise RunSettled(f"run {run_id} was settled {status} by its sweep; nothing more is written to it")

    # --- reachability -------------------------------------------------------------------------
    def check(self) -> None:
        """Raise TrackingError (one line, with what to do) when the store cannot be used."""
        try:
            self._raw.search_experiments(max_results=1)
        except Exception as exc:
            first = str(exc).strip().splitlines()[0][:160] if str(exc).strip() else type(exc).__name__
            hint = ("start the tracking server or unset MLFLOW_TRACKING_URI to use the embedded store"
                    if not is_embedded(self.uri) else "check that the working directory is writable")
            raise TrackingError(f"MLflow tracking store {self.uri} is not reachable ({first}); {hint}") from None

    # --- experiments and runs -----------------------------------------------------------------
    def experiment_id(self, name: str) -> str:
        """The experiment's id, created (as a model-training experiment) or restored when needed."""
        exp = self._client.get_experiment_by_name(name)
        if exp is not None:
            if exp.lifecycle_stage == "deleted":
                self._client.restore_experiment(exp.experiment_id)
            if exp.tags.get(TAG_EXPERIMENT_KIND) != EXPERIMENT_KIND_TRAINING:
                self._client.set_experiment_tag(exp.experiment_id, TAG_EXPERIMENT_KIND, EXPERIMENT_KIND_TRAINING)
            return str(exp.experiment_id)
        location = None
        if is_embedded(self.uri):
            location = (self.root / EMBEDDED_ARTIFACTS).resolve().as_uri()
        try:
            return str(self._client.create_experiment(name, artifact_location=location,
                                                     tags={TAG_EXPERIMENT_KIND: EXPERIMENT_KIND_TRAINING}))
        except Exception:  # created concurrently by another worker
            exp = self._client.get_experiment_by_name(name)
            if exp is None:
                raise
            return str(exp.experiment_id)

    def start_run(self, experiment_id: str, name: str, tags: dict[str, str], parent_run_id: str | None = None) -> str:
        all_tags = dict(tags)
        if parent_run_id:
            all_tags[TAG_PARENT_RUN] = parent_run_id
        run = self._client.create_run(experiment_id, run_name=name, tags=all_tags)
        return str(run.info.run_id)

    def log(self, run_id: str, params: dict[str, Any] | None = None, metrics: dict[str, float] | None = None,
            tags: dict[str, Any] | None = None, step: int = 0) -> None:
        self._writable(run_id)
        now = int(time.time() * 1000)
        self._client.log_batch(
            run_id,
            metrics=[Metric(k, float(v), now, step) for k, v in (metrics or {}).items()],
            params=[Param(k, str(v)[:6000]) for k, v in (params or {}).items()],
            tags=[RunTag(k, str(v)[:5000]) for k, v in (tags or {}).items()],
        )

    def log_history(self, run_id: str, history: dict[str, list[float]], prefix: str = "") -> None:
        """Per-epoch curves as metric histories (step = epoch)."""
        self._writable(run_id)
        now = int(time.time() * 1000)
        metrics = [Metric(f"{prefix}{k}", float(v), now, step) for k, vals in history.items()
                   for step, v in enumerate(vals)]
        for i in range(0, len(metrics), 900):
            self._client.log_batch(run_id, metrics=metrics[i : i + 900])

    def log_artifact(self, run_id: str, path: Path, artifact_path: str | None = None) -> None:
        self._writable(run_id)
        self._client.log_artifact(run_id, str(path), artifact_path)

    def log_text(self, run_id: str, text: str, name: str) -> None:
        self._writable(run_id)
        self._client.log_text(run_id, text, name)

    def end_run(self, run_id: str, status: RunStatus | str = RunStatus.FINISHED) -> None:
        self._client.set_terminated(run_id, str(status))

    def set_tags(self, run_id: str, tags: dict[str, Any]) -> None:
        self.log(run_id, tags=tags)

    # --- LoggedModel ---------------------------------------------------------------------------
    def log_model(self, experiment_id: str, run_id: str, name: str, tflite: Path, params: dict[str, Any],
                  metrics: dict[str, float], tags: dict[str, str]) -> str:
        """Register the variant as an MLflow LoggedModel with its .tflite, params and metrics. Its name says
        which experiment and variant it is, and is unique: ``<experiment>-<variant>-<variant id[:8]>``."""
        self._writable(run_id)
        experiment = self._client.get_experiment(experiment_id).name
        vid = tags.get(TAG_VARIANT, "")
        model = self._client.create_logged_model(
            experiment_id, name=logged_model_name(f"{experiment}-{name}" + (f"-{vid[:8]}" if vid else "")),
            source_run_id=run_id, tags=tags,
            params={k: str(v) for k, v in params.items()}, model_type="tflite",
        )
        try:
            self._client.log_model_artifact(model.model_id, str(tflite))
            self._writable(run_id)  # the upload took a while: still ours?
            now = int(time.time() * 1000)
            self._client.log_batch(run_id, metrics=[Metric(k, float(v), now, 0, model_id=model.model_id)
                                                   for k, v in metrics.items()])
            self._client.finalize_logged_model(model.model_id, "READY")
        except Exception:
            self._client.finalize_logged_model(model.model_id, "FAILED")
            raise
        self._client.set_tag(run_id, TAG_MODEL_ID, model.model_id)
        return str(model.model_id)

    # --- what a manager sees: descriptions, the dataset, the registry --------------------------
    def experiments(self) -> list[tuple[str, str]]:
        """(name, id) of every active experiment that holds runs, newest first."""
        exps = self._client.search_experiments(order_by=["creation_time DESC"])
        return [(str(e.name), str(e.experiment_id)) for e in exps
                if self._client.search_runs([e.experiment_id], max_results=1)]

    def describe_experiment(self, experiment_id: str, text: str) -> None:
        """The experiment's description (markdown, shown above its runs)."""
        self._client.set_experiment_tag(experiment_id, TAG_NOTE, text)

    def save_runs_view(self, experiment_id: str, name: str, run_ids: Iterable[str], metrics: Iterable[str],
                       primary: str, x_axes: Iterable[str]) -> bool:
        """The runs view a manager opens first (``RUNS_VIEW_ID``, rewritten in place; see ``tracking.views``) and
        the experiment's primary metric. False (nothing written) on an MLflow whose view format is not known."""
        import mlflow

        from workbench.tracking import views
        from workbench.tracking.names import RUNS_VIEW_ID, TAG_PRIMARY_METRIC

        if not views.supported(mlflow.__version__):
            return False
        key, value = views.saved_view_tag(RUNS_VIEW_ID, name, views.runs_view_state(
            list(run_ids), list(metrics), primary, list(x_axes)))
        self._client.set_experiment_tag(experiment_id, key, value)
        self._client.set_experiment_tag(experiment_id, TAG_PRIMARY_METRIC, primary)
        return True

    def rename_run(self, run_id: str, name: str) -> None:
        self._client.update_run(run_id, name=name)

    def log_image(self, run_id: str, png: bytes, name: str, compare: bool = True) -> None:
        """A PNG as the artifact ``name`` (the artifact view shows it) and, with ``compare``, as an MLflow image
        under the key of its stem (run comparisons' image charts show it)."""
        self._writable(run_id)
        import io
        import tempfile

        from PIL import Image

        with tempfile.TemporaryDirectory(prefix="wb-img-") as tmp:
            path = Path(tmp) / name
            path.write_bytes(png)
            self._client.log_artifact(run_id, str(path))
        if compare:
            self._client.log_image(run_id, Image.open(io.BytesIO(png)), key=Path(name).stem, step=0)

    def log_dataset(self, run_id: str, dataset: str, fingerprint: str, context: str = "test") -> None:
        """Record what the numbers were measured on as the run's MLflow dataset input (the Dataset column):
        ``dataset`` as the experiment names it (a zoo name, an .npz path, ``module:function``) and its
        fingerprint (the first 16 hex digits are MLflow's digest; the whole one is in the profile)."""
        self._writable(run_id)
        import json

        from mlflow.entities import Dataset, DatasetInput, InputTag

        local = dataset.endswith(".npz")
        name = Path(dataset).stem if local else dataset
        ds = Dataset(name=name[:500], digest=fingerprint[:16], source_type="local" if local else "code",
                     source=json.dumps({"uri": dataset} if local else {"tags": {TAG_DATASET: dataset}}),
                     profile=json.dumps({"dataset": dataset, "fingerprint": fingerprint}))
        self._client.log_inputs(run_id, [DatasetInput(ds, [InputTag(TAG_DATA_CONTEXT, context)])])

    def model_id_of(self, run: RunRecord) -> str | None:
        """The LoggedModel a variant run produced (its tag, else a search by source run)."""
        if run.tags.get(TAG_MODEL_ID):
            return str(run.tags[TAG_MODEL_ID])
        models = self._client.search_logged_models([run.experiment_id],
                                                  filter_string=f"source_run_id = '{run.run_id}'",
                                                  output_format="list")
        return str(models[0].model_id) if models else None

    def promote(self, registered_name: str, run: RunRecord, description: str, tags: dict[str, str]) -> str | None:
        """Point the ``recommended`` alias of the registered model ``registered_name`` at ``run``'s LoggedModel,
        adding a model version when that model is not already the aliased one (so the version history is the
        history of recommendations). Returns the aliased version, None when the run has no LoggedModel."""
        from mlflow.exceptions import MlflowException

        model_id = self.model_id_of(run)
        if model_id is None:
            return None
        try:
            self._client.create_registered_model(registered_name, description=(
                f"What ships for experiment '{registered_name}': the alias `{RECOMMENDED_ALIAS}` "
                "is the variant the newest sweep recommends; each version is one recommendation, with the sweep "
                "that made it."))
        except MlflowException as exc:
            if exc.error_code != "RESOURCE_ALREADY_EXISTS":
                raise
        try:
            current = self._client.get_model_version_by_alias(registered_name, RECOMMENDED_ALIAS)
        except MlflowException:
            current = None
        if current is not None and current.source == f"models:/{model_id}":  # (the store may not keep model_id)
            return str(current.version)
        version = self._client.create_model_version(registered_name, source=f"models:/{model_id}",
                                                   run_id=run.run_id, tags=tags, description=description,
                                                   model_id=model_id)
        self._client.set_registered_model_alias(registered_name, RECOMMENDED_ALIAS, version.version)
        return str(version.version)

    def demote(self, registered_name: str) -> None:
        """No variant is recommended any more: the ``recommended`` alias is removed (versions stay)."""
        from mlflow.exceptions import MlflowException

        try:
            self._client.delete_registered_model_alias(registered_name, RECOMMENDED_ALIAS)
        except MlflowException:
            pass  # no such model or alias: nothing was recommended

    # --- queries ------------------------------------------------------------------------------
    def runs(self, experiment_id: str, filter_string: str = "", statuses: Iterable[str] | None = None,
             max_results: int = 5000) -> list[RunRecord]:
        """The experiment's runs matching an MLflow ``filter_string`` (and ``statuses``), newest first."""
        runs: list[RunRecord] = []
        token = None
        while True:
            page = self._client.search_runs([experiment_id], filter_string=filter_string, max_results=1000,
                                           page_token=token, order_by=["attributes.start_time DESC"])
            runs.extend(run_record(r) for r in page)
            token = page.token
            if not token or len(runs) >= max_results:
                break
        if statuses is not None:
            wanted = set(statuses)
            runs = [r for r in runs if r.status in wanted]
        return runs

    def sweeps(self, experiment_id: str) -> list[SweepSummary]:
        """Every sweep of the experiment (its parent run), newest first."""
        return [sweep_summary(r) for r in self.runs(experiment_id, f"tags.`{TAG_KIND}` = '{KIND_SWEEP}'")]

    def finished_variant_runs(self, experiment_id: str, since_ms: int = 0) -> dict[str, RunRecord]:
        """variant id -> its newest FINISHED run (resume and de-duplication), ended after ``since_ms``."""
        out: dict[str, RunRecord] = {}
        for run in self.runs(experiment_id, f"tags.`{TAG_KIND}` = '{KIND_VARIANT}'", statuses=[RunStatus.FINISHED]):
            if since_ms and (run.end_time or 0) < since_ms:
                continue
            vid = run.tags.get(TAG_VARIANT)
            if run.tags.get(TAG_ORIGIN) == ORIGIN_ADHOC:
                continue  # a hand run is not a sweep result: it never replaces one
            if run.tags.get(TAG_INTEGRITY):
                continue  # its stored files failed their checksums: it is no result any more
            if not run.complete:
                continue  # ended without its completion marker (nor, from before the marker, its accuracy)
            if vid and vid not in out:
                out[vid] = run
        return out

    def get_run(self, run_id: str) -> RunRecord:
        return run_record(self._client.get_run(run_id))

    def poll_run(self, run_id: str) -> RunRecord:
        """The run, asked once (no retries): a running variant's poll judges silence by its own clock."""
        return run_record(self._raw.get_run(run_id))

    def experiment(self, name: str) -> ExperimentRecord | None:
        """The experiment named ``name`` (None when there is none); nothing is created."""
        exp = self._client.get_experiment_by_name(name)
        return experiment_record(exp) if exp is not None else None

    def experiment_by_id(self, experiment_id: str) -> ExperimentRecord:
        return experiment_record(self._client.get_experiment(experiment_id))

    def all_experiments(self, max_results: int = 1000) -> list[ExperimentRecord]:
        return [experiment_record(e) for e in self._client.search_experiments(max_results=max_results)]

    def download(self, run_id: str, path: str, dst: Path) -> Path:
        return Path(self._client.download_artifacts(run_id, path, str(dst)))

    def read_text(self, run_id: str, path: str) -> str:
        """A text artifact of a run, read through a temporary download."""
        import tempfile

        with tempfile.TemporaryDirectory(prefix="wb-read-") as tmp:
            return self.download(run_id, path, Path(tmp)).read_text()

    def list_artifacts(self, run_id: str, path: str | None = None) -> list[ArtifactEntry]:
        return [ArtifactEntry(str(a.path), bool(a.is_dir), a.file_size)
                for a in self._client.list_artifacts(run_id, path)]

    def metric_history(self, run_id: str, key: str) -> list[float]:
        """A metric's values in step order."""
        return [float(m.value) for m in sorted(self._client.get_metric_history(run_id, key), key=lambda m: m.step)]

    def logged_model(self, model_id: str) -> LoggedModelRecord:
        return logged_model_record(self._client.get_logged_model(model_id))

    def logged_models(self, experiment_id: str) -> list[LoggedModelRecord]:
        """Every LoggedModel of the experiment (all pages)."""
        out: list[LoggedModelRecord] = []
        token = None
        while True:
            page = self._client.search_logged_models([experiment_id], max_results=100, page_token=token)
            out.extend(logged_model_record(m) for m in page)
            token = page.token
            if not token:
                return out

    def recommended_version(self, registered_name: str) -> ModelVersionRecord | None:
        """The model version the ``recommended`` alias points at (None: no such model or alias)."""
        from mlflow.exceptions import MlflowException

        try:
            return model_version_record(self._client.get_model_version_by_alias(registered_name, RECOMMENDED_ALIAS))
        except MlflowException:
            return None


def log_profile_run(experiment: str, model: Path, result: ProfileResult, tracking_uri: str | None = None) -> str:
    """A standalone profile (``workbench profile --log-to``) as a FINISHED run with metrics and artifacts."""
    import json
    import tempfile

    tr = Tracker(tracking_uri)
    tr.check()
    exp = tr.experiment_id(experiment)
    run_id = tr.start_run(exp, f"profile {model.name}", {TAG_KIND: KIND_PROFILE,
                                                         **provenance_tags(result.request.threads),
                                                         TAG_DEVICE: json.dumps(result.device)})
    tr.log(run_id, params=result.params(), metrics=result.metrics())
    from workbench.model_files import sha256_file

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "profile.json"
        path.write_text(result.to_json())
        model_sha = sha256_file(model)
        manifest = {f"model/{model.name}": model_sha, "profile/profile.json": sha256_file(path)}
        tr.log(run_id, tags={TAG_MODEL_SHA256: model_sha, TAG_ARTIFACTS_SHA256: json.dumps(manifest)})
        tr.log_artifact(run_id, path, "profile")
    tr.log_artifact(run_id, model, "model")
    tr.end_run(run_id)
    return run_id
