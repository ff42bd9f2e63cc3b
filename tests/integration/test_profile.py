"""The on-target profiler runs in a fresh process that never imports TensorFlow."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.conftest import rng_images
from workbench.errors import ModelFileError, ProfileError
from workbench.profile import profile_model
from workbench.spec import TargetSpec

FAST = TargetSpec(warmup_runs=2, min_runs=30, min_seconds=0.1, max_seconds=3)


def test_child_profile_reports_design_metrics(tiny_tflite):
    r = profile_model(tiny_tflite, FAST, rng_images(16))
    assert r.tensorflow_imported is False
    assert r.latency.runs >= 30 and len(r.samples_ms) == r.latency.runs
    m = r.metrics()
    for key in ("latency_ms_p50", "latency_ms_p95", "init_ms", "memory_mb_init", "memory_mb_peak", "throughput_ips"):
        assert m[key] >= 0, key
    assert m["latency_ms_min"] <= m["latency_ms_p50"] <= m["latency_ms_p99"]
    assert m["memory_mb_peak"] >= m["memory_mb_init"] > 0
    assert r.input_source_used == "test"
    assert r.ops.delegated and not r.ops.fallback  # a float CNN runs entirely on XNNPACK
    assert r.request.model_path == str(tiny_tflite) and r.raw["request"]["model_path"] == str(tiny_tflite)
    p = r.params()
    assert p["profile.threads"] == 1 and p["profile.xnnpack"] is True and p["profile.api"] == "interpreter"


def test_min_runs_and_min_seconds_both_honoured(tiny_tflite):
    r = profile_model(tiny_tflite, TargetSpec(warmup_runs=0, min_runs=5, min_seconds=0.3, max_runs=10**8, max_seconds=5))
    assert r.loop_seconds >= 0.3 and r.latency.runs >= 5


def test_options_reach_the_runtime(tiny_tflite):
    r = profile_model(tiny_tflite, TargetSpec(threads=2, xnnpack=False, batch=4, input_source="random", warmup_runs=1,
                                              min_runs=5, min_seconds=0.0, max_seconds=2))
    assert r.request.threads == 2 and r.request.xnnpack is False
    assert r.request.batch == 4 and r.input_source_used == "random"
    assert r.ops.names and "DELEGATE" not in r.ops.names  # no XNNPACK delegate node
    assert r.ops.fallback == r.ops.names and not r.ops.delegated


def test_truncated_tflite_is_one_line_error(tmp_path, tiny_tflite):
    bad = tmp_path / "trunc.tflite"
    bad.write_bytes(tiny_tflite.read_bytes()[:2000])
    with pytest.raises((ProfileError, ModelFileError)) as info:
        profile_model(bad, FAST)
    assert "trunc.tflite" in str(info.value) and "\n" not in str(info.value)


def test_not_a_tflite(tmp_path):
    bad = tmp_path / "x.tflite"
    bad.write_bytes(b"\x00" * 64)
    with pytest.raises(ModelFileError, match="TFL3"):
        profile_model(bad, FAST)


@pytest.mark.parametrize("content", [b"garbage", None])
def test_cli_profile_bad_file_exits_2(tmp_path, tiny_tflite, content):
    bad = tmp_path / "bad.tflite"
    bad.write_bytes(content if content is not None else tiny_tflite.read_bytes()[:1500])
    proc = subprocess.run([sys.executable, "-m", "workbench.cli", "profile", str(bad)], capture_output=True, text=True)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "bad.tflite" in lines[0] and "Traceback" not in proc.stderr


def test_cli_profile_json(tiny_tflite):
    proc = subprocess.run([sys.executable, "-m", "workbench.cli", "profile", str(tiny_tflite), "--json",
                           "--min-runs", "10", "--min-seconds", "0.05"], capture_output=True, text=True, check=True)
    data = json.loads(proc.stdout)
    assert data["metrics"]["latency_runs"] == len(data["samples_ms"]) >= 10


def test_cli_profile_against_measures_both_files_in_interleaved_rounds(tiny_tflite, tmp_path):
    """``--against``: the speed-up comes from rounds of both files back to back, with an interval over them;
    the p50 interval printed is run-to-run (over rounds), not the order statistics of one run."""
    same = tmp_path / "copy.tflite"
    same.write_bytes(tiny_tflite.read_bytes())
    args = [sys.executable, "-m", "workbench.cli", "profile", str(tiny_tflite), "--against", str(same),
            "--rounds", "3", "--min-runs", "30", "--min-seconds", "0.05", "--warmup", "2"]
    data = json.loads(subprocess.run([*args, "--json"], capture_output=True, text=True, check=True).stdout)
    assert data["stats"]["rounds"] == 3 and len(data["rounds"]) == 3
    against = data["against"]
    assert len(against["ratio_per_round"]) == 3 and against["model"] == str(same)
    assert against["speedup_ci_low"] <= against["speedup"] <= against["speedup_ci_high"]
    assert data["metrics"]["latency_ms_p50_ci_low"] <= data["metrics"]["latency_ms_p50"] <= data["metrics"]["latency_ms_p50_ci_high"]
    text = subprocess.run(args, capture_output=True, text=True, check=True).stdout
    assert "run-to-run 95% interval" in text and "over 3 rounds" in text
    assert f"{same} p50" in text and "over 3 interleaved rounds:" in text
    assert any(v in text for v in ("pays off", "no measurable difference", "slower", "faster by less than 5%"))
    one = subprocess.run([*args[:5], "--rounds", "1", "--min-runs", "10", "--min-seconds", "0"],
                         capture_output=True, text=True, check=True).stdout
    assert "one round: no run-to-run interval" in one and "95% CI" not in one


@pytest.mark.parametrize("rounds", ["0", "51"])
def test_cli_profile_rounds_out_of_range_exits_2(tiny_tflite, rounds):
    proc = subprocess.run([sys.executable, "-m", "workbench.cli", "profile", str(tiny_tflite), "--rounds", rounds],
                          capture_output=True, text=True)
    assert proc.returncode == 2 and proc.stderr.strip().count("\n") == 0 and "--rounds" in proc.stderr


def test_max_runs_caps_the_loop(tiny_tflite):
    r = profile_model(tiny_tflite, TargetSpec(warmup_runs=0, min_runs=5, min_seconds=30, max_runs=40, max_seconds=60))
    assert r.latency.runs == 40


def test_compiled_model_api_runs_and_says_what_it_ignored(tiny_tflite):
    r = profile_model(tiny_tflite, TargetSpec(api="compiled_model", warmup_runs=1, min_runs=10, min_seconds=0.05,
                                              max_seconds=2), rng_images(8))
    assert r.latency.runs >= 10 and r.runtime.api == "compiled_model"
    assert r.ignored_options == ("threads", "xnnpack")
    assert r.tensorflow_imported is False


@pytest.fixture(scope="module")
def big_tflite(tmp_path_factory):
    """~64 MB of float32 weights: memory figures dominated by the model, not the interpreter."""
    from workbench._keras import keras
    from workbench.convert import convert

    m = keras.Sequential([keras.layers.Input((2048,)), keras.layers.Dense(4096), keras.layers.Dense(2048),
                          keras.layers.Dense(10)])
    path = tmp_path_factory.mktemp("big") / "big.tflite"
    path.write_bytes(convert(m, "float32"))
    return path


@pytest.mark.parametrize("xnnpack", [True, False])
def test_peak_memory_is_the_models_and_within_the_kernels_peak(big_tflite, xnnpack):
    r = profile_model(big_tflite, TargetSpec(xnnpack=xnnpack, warmup_runs=2, min_runs=10, min_seconds=0.5, max_seconds=5,
                                             input_source="random"))
    internal = r.memory.peak_mb  # the runner's VmHWM during the invokes (absolute, MB)
    external = r.external_peak_rss_mb  # the kernel's lifetime peak for the child (wait4), never polled
    assert external is not None and internal <= external * 1.01, (internal, external)
    assert r.metrics()["memory_mb_peak"] > 60  # the model's weights dominate
    assert r.memory.setup_peak_mb is not None and r.memory.setup_peak_mb >= r.memory.after_allocate_mb


def test_load_scenario_runs_every_client(tiny_tflite):
    r = profile_model(tiny_tflite, TargetSpec(warmup_runs=1, min_runs=5, min_seconds=0.05, max_seconds=2, clients=2,
                                              load_seconds=0.5, input_source="random"))
    load = r.load
    assert load is not None and load.clients == 2 and len(load.per_client_invokes) == 2
    assert all(n > 0 for n in load.per_client_invokes) and load.errors == 0
    assert load.invokes == len(load.samples_ms) == sum(load.per_client_invokes)
    m = r.metrics()
    assert m["load_throughput_ips"] == pytest.approx(load.invokes / load.seconds)
    assert m["load_latency_ms_p50"] > 0 and m["load_clients"] == 2


def test_cli_profile_log_to_mlflow(tiny_tflite, project):
    from workbench.tracking import Tracker

    proc = subprocess.run([sys.executable, "-m", "workbench.cli", "profile", str(tiny_tflite), "--min-runs", "5",
                           "--min-seconds", "0.05", "--log-to", "adhoc"], capture_output=True, text=True, cwd=project)
    assert proc.returncode == 0, proc.stderr
    tr = Tracker(root=project)
    runs = tr.runs(tr.experiment("adhoc").experiment_id)
    assert len(runs) == 1 and runs[0].status == "FINISHED"
    assert "latency_ms_p50" in runs[0].metrics and runs[0].params["profile.threads"] == "1"



def test_runner_is_pinned_away_from_the_supervisor_and_says_where(tiny_tflite):
    import os

    cores = sorted(os.sched_getaffinity(0))
    before = os.sched_getaffinity(0)
    r = profile_model(tiny_tflite, FAST)
    assert r.placement is not None and r.placement.cpu_count == len(cores)
    assert os.sched_getaffinity(0) == before  # the supervisor's affinity is restored
    if len(cores) >= 2:
        assert r.placement.runner_cpus == (cores[-1],) and r.raw["affinity"] == [cores[-1]]
        assert cores[-1] not in r.placement.supervisor_cpus
    else:
        assert r.placement.runner_cpus is None and "shares its cores" in r.placement.note
