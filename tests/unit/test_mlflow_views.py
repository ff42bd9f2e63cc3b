"""What the manager's MLflow opens on, without a server: the saved runs view (MLflow 3.15-3.17's experiment-tag
format), the landing page ``mlflow server --app-name workbench`` serves at ``/``, and a sweep with regressions
that holds the recommendation. tests/e2e/test_mlflow_ui.py checks the same in Chromium against a real server."""

from __future__ import annotations

import asyncio
import json

from workbench.catalog.metrics import MLFLOW_RUNS_AXES, MLFLOW_RUNS_TABLE
from workbench.tracking import (
    RUNS_VIEW_ID,
    TAG_HELD,
    TAG_NOTE,
    TAG_RECOMMENDED,
    TAG_RECOMMENDED_VARIANT,
    ui_path,
)
from workbench.tracking.ui_app import Landing, landing_page, newest_view
from workbench.tracking.views import read_saved_view, runs_view_state, saved_view_tag, supported


def test_the_saved_view_shows_the_metric_columns_and_the_recommended_run_first():
    state = runs_view_state(["r1", "r2", "r1", ""], MLFLOW_RUNS_TABLE, "accuracy", MLFLOW_RUNS_AXES)
    key, value = saved_view_tag(RUNS_VIEW_ID, "What ships — sweep s1", state, now_ms=5)
    assert key == f"mlflow.sharedViewState.{RUNS_VIEW_ID}"
    envelope = json.loads(value)
    assert envelope["name"] == "What ships — sweep s1" and envelope["createdAt"] == envelope["updatedAt"] == 5
    assert envelope["state"].startswith("deflate;")  # as MLflow's own "Save view" and demo generator write it
    name, updated, back = read_saved_view(value)
    assert (name, updated, back) == ("What ships — sweep s1", 5, state)
    assert back["selectedColumns"] == back["columnOrder"] == [
        f"tags.`{TAG_RECOMMENDED}`", "metrics.`accuracy`", "metrics.`accuracy_delta`", "metrics.`size_bytes`",
        "metrics.`compression_ratio`", "metrics.`latency_ms_p50`", "metrics.`speedup_vs_float`"]
    assert back["columnWidths"][f"tags.`{TAG_RECOMMENDED}`"] > back["columnWidths"]["metrics.`accuracy`"]
    assert back["searchFilter"] == "attributes.run_id IN ('r1', 'r2')"  # the sweep's runs, each once
    assert (back["orderByKey"], back["orderByAsc"]) == (f"tags.`{TAG_RECOMMENDED}`", False)
    scatter = [c for c in back["compareRunCharts"] if c["type"] == "SCATTER"]
    assert [(c["xaxis"]["key"], c["yaxis"]["key"]) for c in scatter] == [("latency_ms_p50", "accuracy"),
                                                                         ("size_bytes", "accuracy")]
    assert supported("3.17.2") and supported("3.15.0") and not supported("3.18.0") and not supported("2.22.1")


def _tags(updated: int) -> dict[str, str]:
    return {f"mlflow.sharedViewState.{RUNS_VIEW_ID}": saved_view_tag(RUNS_VIEW_ID, "v", {}, now_ms=updated)[1]}


def test_the_plain_address_lands_on_the_view_the_newest_sweep_wrote():
    exps = [("1", _tags(100)), ("2", _tags(300)), ("3", {}), ("4", {f"mlflow.sharedViewState.{RUNS_VIEW_ID}": "{"})]
    assert newest_view(exps) == ui_path("2", view=True)
    assert newest_view(exps).endswith(f"?workflowType=machine_learning&viewStateShareKey={RUNS_VIEW_ID}")
    assert newest_view([("3", {})]) == ""
    page = landing_page("<!doctype html><html><head><meta charset='utf-8'></head></html>", newest_view(exps))
    script = page[page.index("<head>") + 6:page.index("<meta")]  # first in the head: before MLflow's script
    assert script.startswith("<script>") and script.endswith("</script>")
    assert '"mlflow.workflowType_v1": "\\"machine_learning\\""' in script  # MLflow's useLocalStorage JSON
    assert "localStorage.getItem(k)===null" in script  # a browser that chose GenAI keeps its choice
    assert ui_path("2", view=True) in script and "!location.hash" in script  # only the bare address moves
    assert "history.replaceState" not in landing_page("<head></head>", "")  # no sweep yet: MLflow's home page


def test_the_landing_app_answers_only_the_root_and_passes_everything_else_to_mlflow():
    calls: list[str] = []

    async def mlflow_app(scope, receive, send):
        calls.append(scope["path"])

    app = Landing(mlflow_app, "<html><head></head></html>", lambda: "#/experiments/7/runs")
    sent: list[dict] = []

    async def send(message):
        sent.append(message)

    async def receive():
        return {"type": "http.request"}

    asyncio.run(app({"type": "http", "path": "/", "method": "GET"}, receive, send))
    asyncio.run(app({"type": "http", "path": "/ajax-api/2.0/mlflow/runs/search", "method": "POST"}, receive, send))
    asyncio.run(app({"type": "http", "path": "/", "method": "POST"}, receive, send))
    assert calls == ["/ajax-api/2.0/mlflow/runs/search", "/"]
    assert sent[0]["status"] == 200 and b"#/experiments/7/runs" in sent[1]["body"]
    broken = Landing(mlflow_app, "<head></head>", lambda: 1 / 0)  # a store that does not answer: MLflow's page
    asyncio.run(broken({"type": "http", "path": "/", "method": "GET"}, receive, send))
    assert sent[-1]["body"] == landing_page("<head></head>", "").encode()


class _Tracker:
    def __init__(self) -> None:
        self.tags: dict[str, str] = {}
        self.name = ""

    def set_tags(self, run_id: str, tags: dict[str, str]) -> None:
        self.tags.update(tags)

    def rename_run(self, run_id: str, name: str) -> None:
        self.name = name


def test_a_sweep_with_regressions_holds_the_recommendation_and_says_so():
    from workbench.analysis.recommend import Recommendation
    from workbench.run.settle import hold_recommendation
    from workbench.views.summary import regression_words

    regs = [{"variant": "int8", "what": "accuracy down 4.44 points (1.0000 -> 0.9556)"},
            {"variant": "dyn", "what": "size changed +12.00% (100 -> 112 bytes)"}]
    held = regression_words(regs, "prev", "float32", "int8")
    assert held.startswith("**2 regressions against sweep prev: recommendation held.** int8: accuracy down 4.44")
    assert "stay on `float32`" in held and "this sweep alone would pick `int8`" in held
    rec = Recommendation({"variant": "int8", "run_id": "r"}, (), (), (), (), (), (), ())
    tr = _Tracker()
    text = hold_recommendation(tr, "parent", "s2", rec, held + " **Ship `int8`** …", 2, "float32")  # type: ignore[arg-type]
    assert tr.name == "2 regressions · holding float32 · sweep s2"  # the name says it before anything else
    assert tr.tags[TAG_NOTE] == text and text.startswith("**2 regressions")
    assert tr.tags[TAG_HELD] == "2 regressions: recommendation held on float32"
    assert tr.tags[TAG_RECOMMENDED_VARIANT] == "int8" and TAG_RECOMMENDED not in tr.tags  # nothing moved
    first = _Tracker()
    hold_recommendation(first, "parent", "s3", rec, "x", 1, None)  # type: ignore[arg-type]
    assert first.name == "1 regression · nothing recommended · sweep s3"
    assert regression_words(regs[:1], "", None, None).count("nothing is recommended") == 1
