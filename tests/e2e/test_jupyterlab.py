"""JupyterLab as a data scientist meets it: started from the project's environment with its working
directory in ``notebooks/``, the shipped notebooks open unmodified, run as they are (their relative paths
resolve against the project, and the explorer shows the store a sweep filled), the explorer's controls
build a new variant that appears in the figure, and the sensitivity tables render. Headless Chromium;
screenshots in test-artifacts/."""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import REPO, free_port, write_experiment
from tests.e2e.browser import ARTIFACTS, launch, needs_chromium

pytestmark = [pytest.mark.slow, needs_chromium]
NOTEBOOKS = ("explore.ipynb", "sensitivity.ipynb")
PANEL = ".jp-NotebookPanel:not(.lm-mod-hidden)"  # the notebook in the current tab
IDLE = f"{PANEL} .jp-Notebook-ExecutionIndicator[data-status='idle']"
POINTS = f"{PANEL} .js-plotly-plot .scatterlayer .point"  # every marker: sweep variants, ad-hoc runs, the new one
NEW = f"{PANEL} .js-plotly-plot .scatterlayer .trace:nth-child(3) .point"  # the red highlight of the run just made
TABLES = f"{PANEL} .jp-OutputArea-output table.dataframe"


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    """A project as a user has it: experiments/digits_quick.yaml (tiny here), notebooks/, and a store that a
    sweep (``workbench run``, what ``make demo`` runs) filled from the project root."""
    root = tmp_path_factory.mktemp("lab")
    write_experiment(root, name="digits_quick",
                     extra="budgets: {max_accuracy_drop: 3.0, max_latency_ms: 0.5, max_size_kb: 100}\n")
    (root / "notebooks").mkdir()
    for nb in NOTEBOOKS:
        shutil.copy(REPO / "notebooks" / nb, root / "notebooks" / nb)
    env = {k: v for k, v in os.environ.items() if k not in ("MLFLOW_TRACKING_URI", "WORKBENCH_ROOT")}
    proc = subprocess.run([sys.executable, "-m", "workbench.cli", "run", "experiments/digits_quick.yaml",
                           "--workers", "2", "--no-progress"], cwd=root, env=env, capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return root


@pytest.fixture(scope="module")
def lab(project):
    """JupyterLab from this environment, working directory notebooks/, on 127.0.0.1 with a token."""
    from workbench.run.task import kill_tree

    port, token = free_port(), secrets.token_hex(16)
    home = project / ".lab-home"  # config, runtime, workspaces and settings of this test only
    notification = home / "settings" / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings"
    notification.parent.mkdir(parents=True)
    notification.write_text(json.dumps({"fetchNews": "false", "checkForUpdates": False}))
    env = {k: v for k, v in os.environ.items() if k not in ("MLFLOW_TRACKING_URI", "WORKBENCH_ROOT")}
    env.update(JUPYTER_CONFIG_DIR=str(home / "config"), JUPYTER_RUNTIME_DIR=str(home / "runtime"),
               JUPYTERLAB_WORKSPACES_DIR=str(home / "workspaces"), JUPYTERLAB_SETTINGS_DIR=str(home / "settings"))
    log = (project / "lab.log").open("w")
    proc = subprocess.Popen([sys.executable, "-m", "jupyterlab", "--no-browser", "--ServerApp.ip=127.0.0.1",
                             f"--ServerApp.port={port}", f"--IdentityProvider.token={token}",
                             "--LabApp.extension_manager=readonly", "--allow-root",
                             "--ContentsManager.pre_save_hook=workbench.notebook_files.strip_on_save"],  # as make lab
                            cwd=project / "notebooks", env=env, stdout=log, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                with urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=5):
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail("JupyterLab did not start:\n" + (project / "lab.log").read_text()[-3000:])
                time.sleep(0.5)
        yield base, token
    finally:
        kill_tree(proc.pid)
        log.close()


def _tab(notebook: str) -> str:
    return f".lm-DockPanel-tabBar .lm-TabBar-tab:has(.lm-TabBar-tabLabel:text-is('{notebook}'))"


def _open(page, base: str, token: str, notebook: str) -> None:
    page.goto(f"{base}/lab/tree/{notebook}?token={token}")
    page.wait_for_selector(f"{_tab(notebook)}.jp-mod-current", timeout=90_000)  # restored tabs settle first
    page.wait_for_selector(IDLE, timeout=90_000)
    page.wait_for_timeout(1000)  # kernel info (language_info) arrives after idle


def _dirty(page, notebook: str) -> bool:
    return "jp-mod-dirty" in (page.locator(_tab(notebook)).get_attribute("class") or "")


def _run_all(page) -> None:
    """Run > Run All Cells; pressed again if no cell started (a kernel still connecting drops the request)."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    for _ in range(3):
        page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
        page.locator(".lm-Menu-itemLabel").get_by_text("Run All Cells", exact=True).click()
        try:
            page.wait_for_function(
                f"[...document.querySelectorAll('{PANEL} .jp-InputPrompt')].some(e => /\\[[0-9*]+\\]/.test(e.textContent))",
                timeout=20_000)
            return
        except PlaywrightTimeout:
            continue
    pytest.fail("Run All Cells started no cell")


def _wait_idle(page, timeout_ms: int) -> None:
    page.wait_for_timeout(500)
    page.wait_for_selector(IDLE, timeout=timeout_ms)


def _errors_in_outputs(page) -> list[str]:
    return page.locator(f"{PANEL} .jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']").all_inner_texts()


def test_explorer_and_sensitivity_in_jupyterlab(project, lab):
    from playwright.sync_api import sync_playwright

    base, token = lab
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = launch(p)
        page = browser.new_page(viewport={"width": 1400, "height": 1300})
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        try:
            _explore_then_sensitivity(page, base, token, project)
        except Exception:
            page.screenshot(path=str(ARTIFACTS / "jupyterlab-failure.png"))  # what the user would have seen
            raise
        finally:
            browser.close()
    assert errors == []


def _explore_then_sensitivity(page, base: str, token: str, project: Path) -> None:
    from workbench.tracking import Tracker

    # --- the explorer, opened fresh: not modified; Run All with the shipped parameters ---------------
    _open(page, base, token, "explore.ipynb")
    assert not _dirty(page, "explore.ipynb"), "explore.ipynb opens modified: its kernelspec/language_info differ from the kernel's"
    _run_all(page)
    page.wait_for_selector(".widget-button:has-text('run')", timeout=120_000)
    _wait_idle(page, 120_000)
    page.wait_for_selector(POINTS, timeout=30_000)
    before = page.locator(POINTS).count()
    assert before == 2, "the explorer should show the sweep's two variants (the same store, from notebooks/)"
    assert _errors_in_outputs(page) == []

    # --- change the technique and a slider: only the technique's knobs show -------------------------
    technique = page.locator(".widget-dropdown", has_text="technique").locator("select")
    technique.select_option(label="prune (magnitude)")
    sparsity = page.locator(".widget-slider", has_text="sparsity")
    clusters = page.locator(".widget-slider", has_text="clusters")
    sparsity.wait_for(state="visible")
    clusters.wait_for(state="hidden", timeout=10_000)  # the kernel hides what prune does not use
    assert page.locator(".widget-slider", has_text="rank").is_hidden()
    assert page.locator(".widget-slider", has_text="student width").is_hidden()
    sparsity.locator(".noUi-handle").focus()
    for _ in range(3):
        page.keyboard.press("ArrowRight")  # 0.5 -> 0.65 in steps of 0.05
    readout = sparsity.locator(".widget-readout").inner_text().strip()
    assert readout != "0.50"
    page.locator(".widget-button", has_text="run").click()
    page.wait_for_function(f"document.querySelectorAll({json.dumps(POINTS)}).length > {before}",
                           timeout=300_000)
    assert page.locator(NEW).count() == 1
    assert page.locator(POINTS).count() - page.locator(NEW).count() == before + 1
    page.locator(".widget-html", has_text="accuracy").first.wait_for(timeout=10_000)  # the status line
    link = page.locator(f"{PANEL} .widget-html a", has_text="its MLflow run")
    assert "#/experiments/" in (link.get_attribute("href") or "")  # the run just logged, in the MLflow UI
    page.locator(f"{PANEL} .js-plotly-plot").evaluate("e => e.scrollIntoView({block: 'end'})")
    page.screenshot(path=str(ARTIFACTS / "jupyterlab-explorer.png"))
    _size_axis_on_log_and_linear(page)

    # what the browser asked for is what was built and logged, under the session's parent run
    tr = Tracker(root=project)
    exp = tr.experiment("digits_quick")
    runs = tr.runs(exp.experiment_id)
    [parent] = [r for r in runs if r.tags.get("workbench.kind") == "explorer"]
    [child] = [r for r in runs if r.tags.get("mlflow.parentRunId") == parent.run_id]
    assert child.status == "FINISHED" and child.tags["workbench.origin"] == "adhoc"
    assert child.tags["workbench.technique"].startswith("prune>")
    assert float(child.params["variant.steps.0.sparsity"]) == pytest.approx(float(readout))

    # --- saved from the lab, the shipped notebook keeps no outputs (make lab's pre-save hook) ----------
    page.keyboard.press("Control+s")
    for _ in range(60):  # saved: the tab's modified mark goes
        if not _dirty(page, "explore.ipynb"):
            break
        page.wait_for_timeout(500)
    assert not _dirty(page, "explore.ipynb"), "Ctrl+S did not save explore.ipynb"
    saved = json.loads((project / "notebooks" / "explore.ipynb").read_text())
    assert all(c.get("outputs", []) == [] for c in saved["cells"] if c["cell_type"] == "code")

    # --- sensitivity: opens unmodified, tables render, no TensorFlow log lines ----------------------
    page.keyboard.press("Escape")
    _open(page, base, token, "sensitivity.ipynb")
    assert not _dirty(page, "sensitivity.ipynb")
    _run_all(page)
    page.wait_for_selector(f"{TABLES} >> nth=1", timeout=300_000)
    _wait_idle(page, 120_000)
    tables = page.locator(TABLES).all_inner_texts()
    assert len(tables) == 2
    for layer in ("conv1", "conv2", "fc1", "logits"):  # one name per layer, the same in both tables
        assert all(re.search(rf"\b{layer}\b", t) for t in tables), layer
    assert "rmse_over_scale" in tables[0] and "sparsity" in tables[1]
    page.locator(f"{PANEL} .js-plotly-plot").nth(1).wait_for(timeout=30_000)
    assert _errors_in_outputs(page) == []  # no TensorFlow/absl lines burying the tables
    page.locator(TABLES).first.scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS / "jupyterlab-sensitivity.png"))


def _size_axis_on_log_and_linear(page) -> None:
    """The x axis switched to size: on the log axis and on the linear one, every point and the 100 KB budget's
    label lie inside the plot area, read from what plotly drew (its full layout and the SVG's boxes)."""
    plot = page.locator(f"{PANEL} .js-plotly-plot")
    axis = page.locator(".widget-dropdown", has_text="x axis").locator("select")
    axis.select_option(label="size (KB)")
    for log in (True, False):
        if not log:
            page.locator(f"{PANEL} .widget-checkbox", has_text="log scale").locator("input").uncheck()
        page.wait_for_function(f"document.querySelector({json.dumps(PANEL + ' .js-plotly-plot')})._fullLayout"
                               f".xaxis.type === '{'log' if log else 'linear'}'", timeout=30_000)
        page.wait_for_timeout(500)
        layout = plot.evaluate("e => ({type: e._fullLayout.xaxis.type, range: e._fullLayout.xaxis.range,"
                               " title: e._fullLayout.xaxis.title.text})")
        assert layout["title"].startswith("size (KB)")
        lo, hi = layout["range"]
        assert hi - lo < (4 if log else 2000), layout  # not 10^100
        area = plot.locator(".nsewdrag").first.bounding_box()
        note = plot.locator(".annotation", has_text="budget: 100 KB").bounding_box()
        assert area and note and area["x"] <= note["x"] <= area["x"] + area["width"], (layout, area, note)
        for box in (p.bounding_box() for p in page.locator(POINTS).all()):
            assert box and area["x"] <= box["x"] + box["width"] / 2 <= area["x"] + area["width"]
        page.screenshot(path=str(ARTIFACTS / f"jupyterlab-explorer-size-{'log' if log else 'linear'}.png"))
