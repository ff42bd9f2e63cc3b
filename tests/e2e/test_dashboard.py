"""The sweep dashboard: Pareto set equals an independent computation from MLflow; one recommended run;
the standalone HTML renders its plots in a real headless Chromium (screenshot kept in test-artifacts/)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.conftest import write_experiment
from tests.e2e.browser import ARTIFACTS, launch, needs_chromium
from tests.e2e.model_explorer import graph_server, open_graph

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def swept(tmp_path_factory):
    from workbench.run.sweep import run_sweep

    root = tmp_path_factory.mktemp("dash")
    write_experiment(root, name="dash", extra="budgets: {max_accuracy_drop: 1.0, max_size_kb: 100}\n",
                     variants=textwrap.dedent("""\
        variants:
          - {name: float32, quantization: float32}
          - {name: float16, quantization: float16}
          - {name: int8, quantization: int8}
          - {name: dynamic, quantization: dynamic}
        """))
    import os

    cwd = os.getcwd()
    os.chdir(root)
    try:
        result = run_sweep("experiments/dash.yaml", workers=2, progress=False)
    finally:
        os.chdir(cwd)
    return root, result


def _independent_front(runs):
    pts = [(r.tags["workbench.variant"], r.metrics["accuracy"], r.metrics["latency_ms_p50"])
           for r in runs]
    front = []
    for name, acc, lat in pts:
        beaten = any(a >= acc and lt <= lat and (a > acc or lt < lat) for n, a, lt in pts if n != name)
        if not beaten:
            front.append(name)
    return sorted(front)


def test_pareto_and_recommendation_match_mlflow(swept):
    from workbench.tracking import Tracker

    root, result = swept
    tr = Tracker(root=root)
    runs = [r for r in tr.runs(result.experiment_id, "tags.`workbench.kind` = 'variant'", statuses=["FINISHED"])]
    with (root / "p.json").open("w") as f:
        f.write(Path(tr.download(result.parent_run_id, "pareto.json", str(root))).read_text())
    logged = json.loads((root / "p.json").read_text())
    assert sorted(logged["pareto_accuracy_latency"]) == _independent_front(runs)
    recommended = [r for r in tr.runs(result.experiment_id) if r.tags.get("workbench.recommended") == "true"]
    assert len(recommended) == 1
    assert recommended[0].tags["workbench.variant"] == logged["recommended"]
    assert result.dashboard is not None and result.dashboard.exists()
    # a person reads it without a browser too: the Pareto chart as a PNG, beside the dashboard
    png = Path(tr.download(result.parent_run_id, "pareto.png", str(root)))
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 20_000


def test_dashboard_is_small():
    """plotly.js travels compressed (the basic bundle, gzip + base64): 4.9 MB with it inlined raw, now < 1 MB."""
    from workbench.views.dashboard import _plotly_loader

    loader = _plotly_loader("[]")
    assert 300_000 < len(loader) < 800_000
    assert "DecompressionStream('gzip')" in loader


def test_report_command_rebuilds_from_mlflow_only(swept):
    root, result = swept
    shutil.rmtree(root / ".workbench" / "reports")
    proc = subprocess.run([sys.executable, "-m", "workbench.cli", "report", "dash", "--sweep", result.sweep_id],
                          cwd=root, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert (root / ".workbench" / "reports" / f"dash-{result.sweep_id}.html").exists()
    # and the sweep's Model Explorer overlays: the float32 graph, one SNR overlay per other variant, keyed by it
    from ai_edge_litert.interpreter import Interpreter

    from workbench.views.overlay import read_overlay

    graph = root / ".workbench" / "reports" / f"dash-{result.sweep_id}-graph"
    assert f"Model Explorer overlays for float32.tflite: 2 in {graph.relative_to(root)}" in proc.stdout, proc.stdout
    # the LiteRT Quantizer cannot compare a float16 file with float32 (tensors of one name, two sizes): said, skipped
    assert "no overlay for float16: the LiteRT Quantizer cannot compare" in proc.stdout, proc.stdout
    names = {t["name"] for t in Interpreter(model_path=str(graph / "float32.tflite")).get_tensor_details()}
    for variant in ("int8", "dynamic"):
        keys = set(read_overlay(graph / f"snr-db-{variant}.json")["results"])
        assert keys and keys <= names, (variant, keys - names)


@needs_chromium
def test_dashboard_renders_in_headless_chromium(swept):
    from playwright.sync_api import sync_playwright

    _, result = swept
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "dashboard.png"
    with sync_playwright() as p:
        browser = launch(p)
        page = browser.new_context(offline=True, viewport={"width": 1400, "height": 1100}).new_page()  # offline
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(result.dashboard.as_uri())
        page.wait_for_selector("#plot0 .main-svg", timeout=30_000)
        assert page.locator(".js-plotly-plot").count() >= 4
        assert page.locator("#plot0 .scatterlayer .point").count() >= 4  # one marker per variant
        assert "Recommended" in page.locator("#recommended").inner_text()
        page.locator("#variants th").nth(3).click()  # sortable table
        page.screenshot(path=str(shot), full_page=False)
        browser.close()
    assert errors == []
    assert shot.stat().st_size > 10_000
    assert result.dashboard.stat().st_size < 1_000_000  # was 4.9 MB with plotly.js inlined raw


@needs_chromium
def test_the_sweeps_overlays_open_in_model_explorer(swept):
    """The overlays of this one sweep, as docs/overlays.md opens them (``workbench graph dash``), in Chromium with
    nothing but 127.0.0.1 reachable: the float32 graph renders, the node-data panel lists one overlay per variant
    (int8, dynamic; float16 has none, see above), none in error, and the nodes carry the overlay's colours (screenshot: test-artifacts/model-explorer-sweep.png)."""
    import re

    root, result = swept
    with graph_server(["dash", "--sweep", result.sweep_id], root) as (_, log):
        url = re.search(r"Model Explorer on (\S+)", log.read_text()).group(1)
        seen = open_graph(url, [f"snr-db-{v}.json" for v in ("int8", "dynamic")],
                          ARTIFACTS / "model-explorer-sweep.png")
    assert seen["errors"] == [] and seen["outside"] == [], seen
    assert seen["distinct"] > 50 and seen["bad"] > 100 and seen["good"] > 100, seen
