"""The manager's view, in a real browser: the MLflow server as ``make ui`` starts it (``mlflow server --app-name
workbench``) on a store filled by a small sweep (plus an ad-hoc run made before it, a partial sweep and a nightly
sweep with a regression after it), opened the way ``workbench run`` and ``make ui`` say, with no click on
"Columns": the plain address lands on the runs with the metric columns and the recommended run on top; the
experiment opens on the model-training view with its description, the parent run's description names the
recommended variant, the Models page shows the registered model with its ``recommended`` alias, the Pareto PNG
(and the dashboard) show among the artifacts; the sweep with a regression says so in its name, description and
dashboard and holds the alias. Screenshots are kept in test-artifacts/mlflow-*.png."""

from __future__ import annotations

import os
import re
import subprocess
import textwrap
import time
import urllib.request

import pytest

from tests.conftest import free_port, write_experiment
from tests.e2e.browser import ARTIFACTS, launch, needs_chromium

pytestmark = pytest.mark.slow
EXPERIMENT = "mgr"


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """A project whose store holds: an ad-hoc int8 run (made first), one sweep, a re-run that skipped everything
    (with the number of sweep runs and dashboards just after it), a partial sweep (--only int8 --force), and a
    nightly sweep (--compare-to previous) that finds int8 worse than the night before."""
    from workbench.pipeline import run_variant
    from workbench.run.sweep import run_sweep
    from workbench.tracking import Tracker

    root = tmp_path_factory.mktemp("mgr")
    write_experiment(root, name=EXPERIMENT, extra="budgets: {max_accuracy_drop: 2.0, max_size_kb: 100}\n",
                     variants=textwrap.dedent("""\
        variants:
          - {name: float32, quantization: float32}
          - {name: int8, quantization: int8}
        """))
    cwd = os.getcwd()
    os.chdir(root)
    try:
        run_variant("experiments/mgr.yaml", "int8")  # a hand run: must never count as the sweep's result
        first = run_sweep("experiments/mgr.yaml", workers=2, progress=False)
        again = run_sweep("experiments/mgr.yaml", progress=False)
        sweeps = len([r for r in Tracker(root=root).runs(first.experiment_id) if r.tags.get("workbench.kind")
                      == "sweep"])
        dashboards = len(list((root / ".workbench" / "reports").glob("*.html")))
        partial = run_sweep("experiments/mgr.yaml", progress=False, only=("int8",), force=True)
        # last night (the partial sweep) int8 looked perfect; tonight measures afresh (--since 1s): a regression
        Tracker(root=root).log(next(r["run_id"] for r in partial.rows if r["variant"] == "int8"),
                               metrics={"accuracy": 1.0})
        time.sleep(1.5)
        nightly = run_sweep("experiments/mgr.yaml", workers=2, progress=False, compare_to="previous", since_s=1)
    finally:
        os.chdir(cwd)
    return root, first, (again, sweeps, dashboards), partial, nightly


def test_sweep_publishes_its_answer_and_ignores_the_adhoc_run(store):
    from workbench.tracking import Tracker

    root, first, (again, sweeps, dashboards), partial, _ = store
    tr = Tracker(root=root)
    runs = tr.runs(first.experiment_id)
    adhoc = [r for r in runs if r.tags.get("workbench.origin") == "adhoc"]
    assert [r.name for r in adhoc] == ["int8 (ad-hoc)"]
    sweep_int8 = next(r for r in first.rows if r["variant"] == "int8")
    assert sweep_int8["status"] == "FINISHED" and sweep_int8["run_id"] != adhoc[0].run_id  # not reused
    parent = tr.get_run(first.parent_run_id)
    rec = parent.tags["workbench.recommended_variant"]
    assert rec in {"float32", "int8"}
    assert f"Ship `{rec}`" in parent.tags["mlflow.note.content"]
    assert f"ship {rec}" in parent.name
    version = tr.recommended_version(EXPERIMENT)
    rec_run = next(r for r in first.rows if r["variant"] == rec)["run_id"]
    assert version.run_id == rec_run  # the sweep's own run, never the ad-hoc one
    assert set(parent.datasets) == {"digits"}
    assert {"pareto.png", "dashboard.html"} <= {a.path for a in tr.list_artifacts(first.parent_run_id)}
    # the re-run skipped everything: no second sweep run, no second dashboard, the same answer
    assert again.parent_run_id == "" and {r["status"] for r in again.rows} == {"SKIPPED"}
    assert (sweeps, dashboards) == (1, 1)
    assert again.recommendation == first.recommendation != ""
    # a partial sweep (--only) describes itself and moves neither the alias nor the tag
    assert partial.recommendation.startswith("Partial sweep (--only int8)")
    assert tr.recommended_version(EXPERIMENT).version == version.version
    assert [r.run_id for r in tr.runs(first.experiment_id) if r.tags.get("workbench.recommended") == "true"
            ] == [rec_run]


@pytest.fixture(scope="module")
def server(store):
    from workbench.run.task import kill_tree
    from workbench.tracking.ui_app import installed, ui_command

    assert installed(), "the mlflow.app entry point 'workbench' is not installed: run make (pip install -e .)"
    root = store[0]
    port = free_port()
    proc = subprocess.Popen(ui_command(f"sqlite:///{root / 'mlflow.db'}", "127.0.0.1", port, workers=1), cwd=root,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    base = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + 240  # 70-90 s to start at load 13 on 2 cores
        while True:
            try:
                urllib.request.urlopen(base + "health", timeout=2)
                break
            except OSError:
                assert proc.poll() is None and time.monotonic() < deadline, "mlflow server did not start"
                time.sleep(0.5)
        yield base
    finally:
        kill_tree(proc.pid)
        proc.wait()


@needs_chromium
def test_manager_finds_the_answer_in_the_mlflow_ui(store, server):
    from playwright.sync_api import expect, sync_playwright

    from workbench.tracking import ui_path

    first = store[1]
    rec = next(r["variant"] for r in first.rows if r["run_id"] and
               first.recommendation.startswith(f"**Ship `{r['variant']}`"))
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = launch(p)
        page = browser.new_page(viewport={"width": 1500, "height": 1000})
        # 1. the experiment, as `workbench run` prints it: model-training view, description, runs, dataset
        page.goto(server + ui_path(first.experiment_id))
        expect(page.get_by_text("How to read it", exact=False).first).to_be_visible(timeout=60_000)
        expect(page.get_by_role("link", name="Model registry")).to_be_visible()  # a training-view-only entry
        expect(page.get_by_text("Judges", exact=True)).to_have_count(0)  # GenAI's pages are not shown
        expect(page.get_by_text(f"ship {rec}", exact=False).first).to_be_visible(timeout=30_000)
        expect(page.get_by_text("digits", exact=False).first).to_be_visible()  # the Dataset column
        page.screenshot(path=str(ARTIFACTS / "mlflow-experiment.png"))
        # 2. the sweep's parent run: its description names the variant to ship
        page.goto(server + ui_path(first.experiment_id, first.parent_run_id))
        description = page.locator("p", has_text=re.compile(rf"Ship {rec}\b")).first
        expect(description).to_be_visible(timeout=60_000)
        assert "float32" in description.inner_text() and "Budgets" in description.inner_text()  # its cost
        page.screenshot(path=str(ARTIFACTS / "mlflow-sweep-run.png"))
        with page.context.expect_page() as opened:  # its dashboard link opens the dashboard, rendered
            description.get_by_role("link", name="dashboard").click()
        tab = opened.value
        expect(tab.frame_locator("iframe").first.locator(".js-plotly-plot").first).to_be_visible(timeout=60_000)
        tab.close()
        # 3. the Models page: the registered model and its alias
        page.goto(server + "#/models?workflowType=machine_learning")
        row = page.get_by_role("row").filter(has_text=EXPERIMENT)
        expect(row).to_contain_text("recommended", timeout=60_000)
        page.screenshot(path=str(ARTIFACTS / "mlflow-models.png"))
        # 4. the artifacts: the Pareto PNG is an image MLflow shows, and the dashboard renders inside MLflow too
        page.goto(server + ui_path(first.experiment_id, first.parent_run_id, "pareto.png"))
        expect(page.locator("img[alt='pareto.png']").first).to_be_visible(timeout=60_000)
        page.wait_for_function("() => [...document.images].some(i => i.alt === 'pareto.png' && i.complete"
                               " && i.naturalWidth >= 1000)")  # the 1200-pixel chart itself, decoded
        page.screenshot(path=str(ARTIFACTS / "mlflow-pareto.png"))
        page.get_by_text("dashboard.html", exact=True).first.click()  # the artifact tree, as a person would
        frame = page.frame_locator("iframe").first
        expect(frame.locator(".js-plotly-plot").first).to_be_visible(timeout=60_000)
        assert frame.locator(".js-plotly-plot").count() >= 4
        page.screenshot(path=str(ARTIFACTS / "mlflow-dashboard.png"))
        browser.close()


def test_a_sweep_with_regressions_holds_the_recommendation(store):
    from workbench.run.sweep import EXIT_REGRESSIONS
    from workbench.tracking import Tracker

    root, first, _, _, nightly = store
    tr = Tracker(root=root)
    rec_run = next(r.run_id for r in tr.runs(first.experiment_id) if r.tags.get("workbench.recommended") == "true")
    rec = tr.get_run(rec_run).tags["workbench.variant"]
    assert [(r["variant"], r["status"]) for r in nightly.rows] == [("float32", "FINISHED"), ("int8", "FINISHED")]
    assert [r["variant"] for r in nightly.regressions] == ["int8"] and nightly.exit_code == EXIT_REGRESSIONS
    parent = tr.get_run(nightly.parent_run_id)
    assert parent.name == f"1 regression · holding {rec} · sweep {nightly.sweep_id}"
    assert parent.note.startswith(f"**1 regression against sweep {parent.tags['workbench.compared_to']}: "
                                  "recommendation held.** int8: accuracy down")
    assert parent.tags["workbench.recommendation_held"] == f"1 regression: recommendation held on {rec}"
    # nothing moved: the alias is the first sweep's version, the tag on the first sweep's run
    assert tr.recommended_version(EXPERIMENT).run_id == rec_run
    assert [r.run_id for r in tr.runs(first.experiment_id) if r.tags.get("workbench.recommended") == "true"
            ] == [rec_run]
    page = nightly.dashboard.read_text()
    assert "id='regressions'" in page and "accuracy down" in page and "recommendation held" in page


@needs_chromium
def test_the_plain_address_shows_what_ships_and_the_regression(store, server):
    """A first visit (a fresh browser) to http://127.0.0.1:PORT/, no deep link, no click on "Columns"."""
    from playwright.sync_api import expect, sync_playwright

    from workbench.tracking import Tracker, ui_path

    root, first, _, _, nightly = store
    tr = Tracker(root=root)
    rec_run = next(r for r in tr.runs(first.experiment_id) if r.tags.get("workbench.recommended") == "true")
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = launch(p)
        page = browser.new_page(viewport={"width": 1500, "height": 1000})
        page.goto(server)
        expect(page).to_have_url(re.compile(r"#/experiments/\d+/runs\?workflowType=machine_learning&"
                                            r"viewStateShareKey=workbench-ships"), timeout=60_000)
        expect(page.locator(".ag-row").first).to_be_visible(timeout=60_000)
        for name in ("accuracy", "size_bytes", "latency_ms_p50", "compression_ratio", "speedup_vs_float",
                     "workbench.recommended"):  # visible columns, none behind the Columns menu
            expect(page.get_by_role("columnheader", name=name, exact=True).first).to_be_visible()
        # the run that ships is on top, marked, beside tonight's variants (the nightly sweep held it)
        expect(page.locator(".ag-pinned-left-cols-container .ag-row[row-index='0']")).to_contain_text(
            rec_run.tags["workbench.variant"])
        expect(page.locator(".ag-center-cols-container .ag-row[row-index='0']")).to_contain_text("true")
        shown = {r["run_id"] for r in nightly.rows} | {rec_run.run_id}  # tonight's variants and the held one
        expect(page.locator(".ag-center-cols-container .ag-row")).to_have_count(len(shown))
        expect(page.get_by_role("button", name="Model training")).to_be_visible()
        expect(page.get_by_text("Judges", exact=True)).to_have_count(0)  # not on GenAI's pages
        page.screenshot(path=str(ARTIFACTS / "mlflow-landing.png"))
        page.goto(page.url + "&compareRunsMode=CHART")  # the runs compared: accuracy against latency and size
        expect(page.get_by_text("latency_ms_p50 vs. accuracy", exact=False).first).to_be_visible(timeout=60_000)
        page.screenshot(path=str(ARTIFACTS / "mlflow-compare.png"))
        # the nightly sweep with a regression, as the manager opens it from the runs of the experiment
        page.goto(server + ui_path(first.experiment_id, nightly.parent_run_id))
        expect(page.get_by_text(f"1 regression · holding {rec_run.tags['workbench.variant']}", exact=False).first
               ).to_be_visible(timeout=60_000)
        expect(page.get_by_text("recommendation held", exact=False).first).to_be_visible()
        page.screenshot(path=str(ARTIFACTS / "mlflow-regression-run.png"))
        page.goto(server + ui_path(first.experiment_id, nightly.parent_run_id, "dashboard.html"))
        frame = page.frame_locator("iframe").first
        expect(frame.locator("#regressions")).to_contain_text("accuracy down", timeout=60_000)
        expect(frame.locator("#recommended-row")).to_be_visible()
        page.screenshot(path=str(ARTIFACTS / "mlflow-regression-dashboard.png"))
        browser.close()
