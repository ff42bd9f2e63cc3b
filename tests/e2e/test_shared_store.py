"""The real shared set-up (issue 11): an MLflow tracking server backed by PostgreSQL with its artifact root on
disk, a Dask scheduler and two workers as separate processes, all on 127.0.0.1, started here.

- a real sweep through Dask, with the tracking server killed mid-sweep and restarted: it rides the outage out;
- the server down for longer than the retry budget: the sweep stops with one line and exit 2, the parent is
  settled, and the same command later redoes exactly what is missing;
- two sweeps of one experiment at once from two work directories: each variant id ends FINISHED exactly once,
  nothing is left RUNNING, no live run is killed; and two sweeps that split an experiment end recommending
  what one sweep would (the one that settles last decides over the other's results too).

Needs Debian's `postgresql` package (``make system-deps`` installs it as root) and psycopg; PostgreSQL refuses
to run as root, so as root the server runs as the `postgres` user (via runuser). Skips, saying why, otherwise.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO, free_port, write_experiment
from tests.e2e.fault_rows import Row, fault_row

pytestmark = pytest.mark.slow

BIN = Path(sys.executable).parent
STUB = REPO / "tests" / "data" / "stub_variant.ipynb"
DRIVER = textwrap.dedent(f"""\
    import sys
    import workbench.run.sweep as sweep
    sweep.NOTEBOOK = {str(STUB)!r}  # the stand-in notebook (no TensorFlow); everything else is the real CLI
    from workbench.cli import main
    main(sys.argv[1:])
    """)


def _pg_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).resolve().parent if initdb else None


def _skip_reason() -> str:
    if _pg_bin() is None:
        return "PostgreSQL is not installed (Debian package `postgresql`; `make system-deps` installs it as root)"
    try:
        import psycopg  # noqa: F401
    except ImportError:
        return "psycopg is not installed (make venv)"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return "running as root without a `postgres` user to run PostgreSQL as"
        if not shutil.which("runuser"):
            return "running as root without runuser"
    return ""


def _wait_port(port: int, timeout: float, proc: subprocess.Popen[bytes] | None = None, log: Path | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            tail = log.read_text(errors="replace")[-2000:] if log is not None and log.exists() else ""
            raise RuntimeError(f"{proc.args!r} exited with {proc.returncode} before listening on {port}: {tail}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout}s")


def _stop(proc: subprocess.Popen[bytes] | None) -> None:
    if proc is not None and proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


@dataclass
class Shared:
    tmp: Path
    db_uri: str
    tracking_uri: str
    scheduler: str
    mlflow_port: int
    mlflow: subprocess.Popen[bytes] | None = None

    def start_mlflow(self) -> None:
        log = open(self.tmp / "mlflow-server.log", "ab")
        self.mlflow = subprocess.Popen(
            [str(BIN / "mlflow"), "server", "--backend-store-uri", self.db_uri, "--artifacts-destination",
             str(self.tmp / "artifacts"), "--host", "127.0.0.1", "--port", str(self.mlflow_port), "--workers", "1"],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        _wait_port(self.mlflow_port, 120, self.mlflow, self.tmp / "mlflow-server.log")

    def kill_mlflow(self) -> None:
        _stop(self.mlflow)
        self.mlflow = None


@pytest.fixture(scope="module")
def shared() -> Iterator[Shared]:
    reason = _skip_reason()
    if reason:
        pytest.skip(reason)
    pg = _pg_bin()
    assert pg is not None
    tmp = Path(tempfile.mkdtemp(prefix="wb-shared-"))
    procs: list[subprocess.Popen[bytes]] = []
    as_pg: list[str] = []
    if os.geteuid() == 0:  # PostgreSQL refuses root: its files and process belong to `postgres`
        as_pg = ["runuser", "-u", "postgres", "--"]
        os.chmod(tmp, 0o755)
    data = tmp / "pg"
    data.mkdir()
    if as_pg:
        shutil.chown(data, "postgres", "postgres")
    port = free_port()
    state = Shared(tmp, f"postgresql://wb@127.0.0.1:{port}/mlflow", "", "", free_port())
    try:
        subprocess.run([*as_pg, str(pg / "initdb"), "-D", str(data), "-U", "wb", "--auth=trust", "-E", "UTF8"],
                       check=True, capture_output=True, timeout=120)
        pg_proc = subprocess.Popen([*as_pg, str(pg / "postgres"), "-D", str(data), "-p", str(port), "-k", str(data),
                                    "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off"],
                                   stdout=subprocess.DEVNULL, stderr=open(tmp / "postgres.log", "wb"),
                                   start_new_session=True)
        procs.append(pg_proc)
        _wait_port(port, 60, pg_proc, tmp / "postgres.log")
        import psycopg

        for _ in range(50):  # listening is not yet accepting connections
            try:
                con = psycopg.connect(host="127.0.0.1", port=port, user="wb", dbname="postgres", autocommit=True)
                break
            except psycopg.OperationalError:
                time.sleep(0.2)
        con.execute("CREATE DATABASE mlflow")
        con.close()
        state.start_mlflow()
        state.tracking_uri = f"http://127.0.0.1:{state.mlflow_port}"
        sport = free_port()
        state.scheduler = f"tcp://127.0.0.1:{sport}"
        sched = subprocess.Popen([str(BIN / "dask"), "scheduler", "--host", "127.0.0.1", "--port", str(sport),
                                  "--no-dashboard"], stdout=subprocess.DEVNULL, stderr=open(tmp / "dask.log", "ab"),
                                 start_new_session=True)
        procs.append(sched)
        _wait_port(sport, 60, sched, tmp / "dask.log")
        for k in range(2):
            procs.append(subprocess.Popen(
                [str(BIN / "dask"), "worker", state.scheduler, "--nworkers", "1", "--nthreads", "1", "--host",
                 "127.0.0.1", "--no-dashboard", "--name", f"w{k}"],
                stdout=subprocess.DEVNULL, stderr=open(tmp / f"worker{k}.log", "ab"), start_new_session=True,
                env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "MLFLOW_TRACKING_URI": state.tracking_uri}))
        from distributed import Client

        with Client(state.scheduler, timeout="60s") as client:
            client.wait_for_workers(2, timeout=120)
        yield state
    finally:
        state.kill_mlflow()
        for p in reversed(procs):
            _stop(p)
        shutil.rmtree(tmp, ignore_errors=True)


def _env(shared: Shared, **extra: str) -> dict[str, str]:
    return {**os.environ, "MLFLOW_TRACKING_URI": shared.tracking_uri, "TF_CPP_MIN_LOG_LEVEL": "3",
            "WORKBENCH_CLAIM_SETTLE_S": "0.3", **extra}


def _runs(shared: Shared, experiment: str) -> list[Any]:
    from workbench.tracking import Tracker

    tr = Tracker(shared.tracking_uri)
    exp = tr.experiment(experiment)
    return tr.runs(exp.experiment_id) if exp else []


def _variant_statuses(shared: Shared, experiment: str) -> list[str]:
    """Straight from PostgreSQL (works while the tracking server is down)."""
    import psycopg

    port = shared.db_uri.rsplit(":", 1)[1].split("/")[0]
    with psycopg.connect(host="127.0.0.1", port=port, user="wb", dbname="mlflow") as con, con.cursor() as cur:
        cur.execute("SELECT r.status FROM runs r JOIN experiments e ON e.experiment_id = r.experiment_id "
                    "JOIN tags t ON t.run_uuid = r.run_uuid WHERE e.name = %s AND t.key = 'workbench.kind' "
                    "AND t.value = 'variant' AND r.lifecycle_stage = 'active'", (experiment,))
        return [row[0] for row in cur.fetchall()]


def _finished_once(runs: list[Any], expected: int) -> None:
    variants = [r for r in runs if r.tags.get("workbench.kind") == "variant"]
    finished = [r.tags["workbench.variant_id"] for r in variants if r.status == "FINISHED"]
    assert len(finished) == len(set(finished)) == expected, [(r.name, r.status) for r in variants]
    assert not [r for r in runs if r.status == "RUNNING"]


def test_real_sweep_on_dask_rides_out_a_tracking_server_restart(shared: Shared, tmp_path: Path) -> None:
    write_experiment(tmp_path, name="shared-real", epochs=4)
    cmd = [sys.executable, "-m", "workbench.cli", "run", "experiments/shared-real.yaml", "--executor", "dask",
           "--scheduler", shared.scheduler, "--no-progress"]
    sweep = subprocess.Popen(cmd, cwd=tmp_path, env=_env(shared), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True)
    deadline = time.monotonic() + 240
    while "RUNNING" not in _variant_statuses(shared, "shared-real"):  # a variant is in flight
        assert time.monotonic() < deadline and sweep.poll() is None, sweep.stderr.read() if sweep.stderr else ""
        time.sleep(0.5)
    shared.kill_mlflow()
    time.sleep(8)  # workers and the supervisor keep retrying meanwhile
    shared.start_mlflow()
    out, err = sweep.communicate(timeout=400)
    assert sweep.returncode == 0, out[-2000:] + err[-3000:]
    runs = _runs(shared, "shared-real")
    _finished_once(runs, 2)
    parents = [r for r in runs if r.tags.get("workbench.kind") == "sweep"]
    assert [p.status for p in parents] == ["FINISHED"]
    assert not [r for r in runs if r.status == "KILLED"]  # no live run was settled by anyone
    from workbench.tracking import Tracker

    tr = Tracker(shared.tracking_uri)
    child = next(r for r in runs if r.tags.get("workbench.variant") == "int8")
    arts = {a.path for a in tr.list_artifacts(child.run_id, "model")}
    assert "model/model.tflite" in arts  # artifacts went through the server to its root on disk
    assert any((shared.tmp / "artifacts").rglob("model.tflite"))


def test_server_down_too_long_stops_cleanly_then_resumes(shared: Shared, tmp_path: Path) -> None:
    (tmp_path / "e.yaml").write_text(
        "name: shared-down\nbaseline: {model: digits_cnn, dataset: digits}\nvariants:\n"
        + "".join(f"  - {{name: v{k}, quantization: {q}}}\n" for k, q in enumerate(
            ["float32", "float16", "dynamic", "int8"])))
    cmd = [sys.executable, "-c", DRIVER, "run", "e.yaml", "--workers", "2", "--no-progress"]
    env = _env(shared, WORKBENCH_TRACKING_RETRY_S="4", STUB_SLEEP_S="6")
    sweep = subprocess.Popen(cmd, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while "RUNNING" not in _variant_statuses(shared, "shared-down"):
        assert time.monotonic() < deadline and sweep.poll() is None
        time.sleep(0.3)
    shared.kill_mlflow()
    try:
        out, err = sweep.communicate(timeout=120)
    finally:
        shared.start_mlflow()
    lines = [ln for ln in err.splitlines() if ln.strip() and not ln.startswith("  ")]
    assert sweep.returncode == 2, out[-1500:] + err[-3000:]
    assert len(lines) == 1 and lines[0].startswith("error: MLflow tracking store") and "stopped answering" in lines[0]
    assert "run the same command again" in lines[0] and "Traceback" not in err
    before = _runs(shared, "shared-down")
    assert not [r for r in before if r.status == "FINISHED" and r.tags.get("workbench.kind") == "variant"
                and "accuracy" not in r.metrics]  # nothing half-logged marked FINISHED

    again = subprocess.run(cmd, cwd=tmp_path, env=_env(shared, STUB_SLEEP_S="0"), capture_output=True, text=True,
                           timeout=300)
    assert again.returncode == 0, again.stdout[-1500:] + again.stderr[-3000:]
    runs = _runs(shared, "shared-down")
    _finished_once(runs, 4)
    done_before = {r.run_id for r in before if r.status == "FINISHED"}
    assert done_before <= {r.run_id for r in runs if r.status == "FINISHED"}  # kept, not redone
    redone = [r for r in runs if r.status == "FINISHED" and r.run_id not in done_before
              and r.tags.get("workbench.kind") == "variant"]
    assert len(redone) == 4 - len([r for r in before if r.run_id in done_before
                                   and r.tags.get("workbench.kind") == "variant"])
    assert all(r.status in ("FINISHED", "KILLED") for r in runs)  # the first sweep's leftovers settled


def test_two_concurrent_sweeps_from_two_work_dirs_run_each_variant_once(shared: Shared, tmp_path: Path) -> None:
    (tmp_path / "e.yaml").write_text(
        "name: shared-two\nbaseline: {model: digits_cnn, dataset: digits}\nvariants:\n"
        + "".join(f"  - {{name: v{k}, quantization: {q}}}\n" for k, q in enumerate(
            ["float32", "float16", "dynamic", "int8", "int8_io", "int16x8"])))
    procs = [subprocess.Popen([sys.executable, "-c", DRIVER, "run", "e.yaml", "--executor", "dask", "--scheduler",
                               shared.scheduler, "--work-dir", f"wd{k}", "--no-progress"],
                              cwd=tmp_path, env=_env(shared, STUB_SLEEP_S="3"), stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for k in (1, 2)]
    outs = [p.communicate(timeout=300) for p in procs]
    for p, (out, err) in zip(procs, outs, strict=True):
        assert p.returncode == 0, out[-1500:] + err[-3000:]
    runs = _runs(shared, "shared-two")
    _finished_once(runs, 6)
    assert not [r for r in runs if r.status in ("KILLED", "FAILED")]  # no live run killed, nothing failed
    assert "ELSEWHERE" in outs[0][0] + outs[1][0]  # they did meet: one left variants to the other


def test_two_sweeps_that_split_an_experiment_recommend_what_one_sweep_would(
        shared: Shared, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    """Sweep A measures v0 (the most accurate by far) and v3, sweep B from another work dir v1 and v2 and settles
    last: B decides over the whole experiment's newest results, not over the half it measured."""
    with fault_row(tmp_path_factory.getbasetemp(), "concurrent-split-sweeps-converge", "concurrency",
                   "two sweeps of one experiment from two work dirs split its variants (PostgreSQL-backed MLflow "
                   "server); the best one, v0, measured by the sweep that settles first") as row:
        _split_sweeps(shared, tmp_path, row)


def _split_sweeps(shared: Shared, tmp_path: Path, row: Row) -> None:
    (tmp_path / "e.yaml").write_text(
        "name: shared-decide\nbaseline: {model: digits_cnn, dataset: digits}\nvariants:\n"
        + "".join(f"  - {{name: v{k}, quantization: {q}}}\n" for k, q in enumerate(
            ["float32", "float16", "dynamic", "int8"])))
    accuracy = '{"v0": 0.99, "v1": 0.5, "v2": 0.5, "v3": 0.5}'
    flags = {k: tmp_path / f"go-{k}" for k in "AB"}

    def sweep(k: str, workers: int) -> subprocess.Popen[str]:
        return subprocess.Popen([sys.executable, "-c", DRIVER, "run", "e.yaml", "--workers", str(workers),
                                 "--work-dir", f"wd{k}", "--no-progress"], cwd=tmp_path, text=True,
                                env=_env(shared, STUB_WAIT_FOR=str(flags[k]), STUB_ACCURACY=accuracy),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    def wait_running(n: int, *procs: subprocess.Popen[str]) -> None:
        deadline = time.monotonic() + 180
        while _variant_statuses(shared, "shared-decide").count("RUNNING") < n:
            assert time.monotonic() < deadline and all(p.poll() is None for p in procs)
            time.sleep(0.3)

    a = sweep("A", 1)
    wait_running(1, a)  # A holds v0
    b = sweep("B", 2)
    wait_running(3, a, b)  # B holds v1 and v2
    flags["A"].touch()  # A finishes v0, measures v3 (B holds v1, v2) and settles first
    out_a, err_a = a.communicate(timeout=300)
    assert a.returncode == 0, out_a[-1500:] + err_a[-3000:]
    flags["B"].touch()  # B finishes v1, v2 and settles last
    out_b, err_b = b.communicate(timeout=300)
    row.exit = max(a.returncode, b.returncode)
    row.output(err_a + err_b, out_a + out_b, tmp_path)
    assert b.returncode == 0, out_b[-1500:] + err_b[-3000:]
    runs = _runs(shared, "shared-decide")
    _finished_once(runs, 4)
    variant_of = {r.run_id: r.tags.get("workbench.variant") for r in runs}
    by_sweep = {}
    for r in runs:
        if r.tags.get("workbench.kind") == "variant" and r.status == "FINISHED":
            by_sweep.setdefault(r.tags["workbench.sweep_id"], set()).add(r.tags["workbench.variant"])
    parents = sorted((r for r in runs if r.tags.get("workbench.kind") == "sweep"), key=lambda r: r.end_time or 0)
    assert sorted(map(sorted, by_sweep.values())) == [["v0", "v3"], ["v1", "v2"]]  # they did split the experiment
    assert by_sweep[parents[-1].tags["workbench.sweep_id"]] == {"v1", "v2"}  # B settled last
    assert [p.tags.get("workbench.recommended_variant") for p in parents] == ["v0", "v0"]
    assert [variant_of[r.run_id] for r in runs if r.tags.get("workbench.recommended") == "true"] == ["v0"]
    row.runs_created = len(runs)
    row.note = ("exits 0, 0; A measured v0, v3 and B v1, v2, each FINISHED once; both sweeps recommend v0, "
                "the one run tagged recommended")
