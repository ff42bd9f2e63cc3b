"""Executors run VariantTasks and yield Outcomes as they complete. Same interface, two engines:

- ``LocalExecutor``: up to N variants at once on this machine; each is its own papermill process tree,
  supervised by a thread that enforces the time limit (a crash or hang costs one variant).
- ``DaskExecutor``: fans the same tasks out over a Dask distributed cluster; each worker runs
  ``execute_variant`` exactly as the local pool does. All workers must reach the same MLflow
  tracking server and share the work directory (or retrain the deterministic baseline).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from typing import Protocol

from workbench.errors import WorkbenchError
from workbench.run.status import Outcome, VariantStatus
from workbench.run.task import VariantTask, execute_variant


class Executor(Protocol):
    def run(self, tasks: Sequence[VariantTask], on_start: Callable[[VariantTask], None],
            on_end: Callable[[VariantTask], None]) -> Iterator[Outcome]: ...


class LocalExecutor:
    def __init__(self, workers: int = 1) -> None:
        if workers < 1:
            raise WorkbenchError(f"--workers must be >= 1, got {workers}")
        self.workers = workers

    def run(self, tasks: Sequence[VariantTask], on_start: Callable[[VariantTask], None],
            on_end: Callable[[VariantTask], None]) -> Iterator[Outcome]:
        def job(task: VariantTask) -> Outcome:
            on_start(task)
            try:
                return execute_variant(task)
            finally:
                on_end(task)

        with ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="variant") as pool:
            futures = [pool.submit(job, t) for t in tasks]
            try:
                for fut in as_completed(futures):
                    yield fut.result()
            except BaseException:
                for f in futures:
                    f.cancel()
                from workbench.run.task import kill_running

                kill_running()
                raise


class DaskExecutor:
    def __init__(self, scheduler: str) -> None:
        if not scheduler:
            raise WorkbenchError("--executor dask needs --scheduler ADDRESS (e.g. tcp://10.0.0.5:8786)")
        self.scheduler = scheduler

    def run(self, tasks: Sequence[VariantTask], on_start: Callable[[VariantTask], None],
            on_end: Callable[[VariantTask], None]) -> Iterator[Outcome]:
        from distributed import Client
        from distributed import as_completed as dask_completed

        try:
            client = Client(self.scheduler, timeout="20s")
        except (OSError, TimeoutError) as exc:
            raise WorkbenchError(f"cannot reach the Dask scheduler at {self.scheduler} ({exc}); "
                                 "start it with `dask scheduler` or check the address") from None
        try:
            futures = []
            for t in tasks:  # queued on the cluster: shown as running until it completes
                on_start(t)
                # retries=0: a variant that crashed its worker is recorded FAILED, not retried blindly
                futures.append(client.submit(execute_variant, t, key=f"variant-{t.sweep_id}-{t.variant}",
                                             pure=False, retries=0))
            for fut in dask_completed(futures):
                on_end(tasks[futures.index(fut)])
                try:
                    yield fut.result()
                except Exception as exc:  # the worker process itself died
                    t = tasks[futures.index(fut)]
                    yield Outcome(t.variant, t.variant_id, VariantStatus.FAILED, f"crashed: Dask worker lost ({exc})"[:300],
                                  "", 0.0)
        finally:
            client.close()


def make_executor(kind: str, workers: int = 1, scheduler: str | None = None) -> Executor:
    if kind == "local":
        return LocalExecutor(workers)
    if kind == "dask":
        return DaskExecutor(scheduler or "")
    raise WorkbenchError(f"unknown executor '{kind}'; allowed: local, dask")
