"""The MLflow UI as ``make ui`` serves it: MLflow's own server with one addition, a landing page.

MLflow 3.17's UI keeps its GenAI / model-training switch in the browser's local storage (``mlflow.workflowType``,
GenAI when unset) and ignores the experiment's kind; only a ``workflowType=machine_learning`` address overrides
it. So the plain address ``http://127.0.0.1:PORT/`` would open on GenAI pages with nothing in them. This app
(an MLflow app plugin: entry point group ``mlflow.app``, name ``workbench``, started with
``mlflow server --app-name workbench``) serves MLflow's own ``index.html`` at ``/`` with a few lines before
MLflow's script:

- a browser that never chose sets the switch to model training (a later choice of GenAI is kept);
- the bare address (no ``#/...``) goes to the runs of the experiment whose sweep settled last, opened on the
  view that sweep saved (``tracking.views``: the metric columns, the recommended run on top); with no such
  experiment it stays on MLflow's home page;
- MLflow's assistant panel does not open by itself over the runs table on the first visit.

Everything else (every API, every other page, MLflow's own ``/``-relative assets) is MLflow's app, untouched.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Awaitable, Callable, MutableMapping
from pathlib import Path
from typing import Any

from workbench.tracking.names import RUNS_VIEW_ID, TAG_SAVED_VIEW_PREFIX, ui_path

APP_NAME = "workbench"  # the entry point's name (pyproject.toml, group "mlflow.app")

Scope = MutableMapping[str, Any]
ASGI = Callable[[Scope, Callable[[], Awaitable[Any]], Callable[[Any], Awaitable[None]]], Awaitable[None]]

#: local-storage keys of MLflow 3.17's UI (its useLocalStorage hook stores JSON under ``<key>_v<version>``)
FIRST_VISIT = {"mlflow.workflowType_v1": "machine_learning",
               "mlflow.assistant.fab.autoOpenedOnFirstLoad_v1": True}


def landing_script(landing: str) -> str:
    """The script put before MLflow's: first-visit defaults, and the bare address sent to ``landing``
    (a ``#/...`` address; '' keeps MLflow's home page)."""
    defaults = json.dumps({k: json.dumps(v) for k, v in FIRST_VISIT.items()})
    go = (f"var t={json.dumps(landing)};if(!location.hash||location.hash==='#')"
          "history.replaceState(null,'',location.pathname+location.search+t);") if landing else ""
    script = ("(function(){try{var d=" + defaults + ";for(var k in d){if(localStorage.getItem(k)===null)"
              "localStorage.setItem(k,d[k]);}}catch(e){}" + go + "})();")
    return "<script>" + script.replace("</", "<\\/") + "</script>"


def landing_page(index_html: str, landing: str) -> str:
    """MLflow's ``index.html`` with ``landing_script`` first in its head."""
    return index_html.replace("<head>", "<head>" + landing_script(landing), 1)


def newest_view(experiments: list[tuple[str, dict[str, str]]]) -> str:
    """The landing address: the runs view of the experiment (id, tags) whose saved view was written last
    (every settled sweep rewrites it); '' when none has one."""
    from workbench.tracking.views import read_saved_view

    best: tuple[int, str] | None = None
    for exp_id, tags in experiments:
        value = tags.get(TAG_SAVED_VIEW_PREFIX + RUNS_VIEW_ID)
        if not value:
            continue
        try:
            updated = read_saved_view(value)[1]
        except (ValueError, KeyError, TypeError):
            continue
        if best is None or updated > best[0]:
            best = (updated, exp_id)
    return "" if best is None else ui_path(best[1], view=True)


class Landing:
    """ASGI app: ``GET /`` answered with the landing page, everything else passed to MLflow's app."""

    def __init__(self, app: ASGI, index_html: str, find_landing: Callable[[], str]) -> None:
        self.app, self.index_html, self.find_landing = app, index_html, find_landing

    async def __call__(self, scope: Scope, receive: Callable[[], Awaitable[Any]],
                       send: Callable[[Any], Awaitable[None]]) -> None:
        if scope["type"] != "http" or scope["path"] != "/" or scope["method"] not in ("GET", "HEAD"):
            await self.app(scope, receive, send)
            return
        try:
            landing = self.find_landing()
        except Exception:  # noqa: BLE001 - a store that does not answer: MLflow's own page, it will say so
            landing = ""
        body = landing_page(self.index_html, landing).encode()
        await send({"type": "http.response.start", "status": 200, "headers": [
            (b"content-type", b"text/html; charset=utf-8"), (b"content-length", str(len(body)).encode()),
            (b"cache-control", b"no-cache")]})
        await send({"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else body})


def create_app() -> Landing:
    """The app ``mlflow server --app-name workbench`` runs (a factory: called in each server worker, after
    ``mlflow server`` has put the store's address in the environment)."""
    import mlflow.server
    from mlflow.server import BACKEND_STORE_URI_ENV_VAR
    from mlflow.server.fastapi_app import app

    from workbench.tracking.store import Tracker

    index = (Path(mlflow.server.__file__).parent / "js" / "build" / "index.html").read_text()
    tracker = Tracker(os.environ.get(BACKEND_STORE_URI_ENV_VAR) or None, retry_s=0)

    def find() -> str:
        return newest_view([(e.experiment_id, dict(e.tags)) for e in tracker.all_experiments()])

    return Landing(app, index, find)


def installed() -> bool:
    """Whether this app is registered with MLflow (the package's entry point; ``make`` reinstalls it)."""
    from importlib.metadata import entry_points

    return any(e.name == APP_NAME for e in entry_points(group="mlflow.app"))


def ui_command(store_uri: str, host: str, port: int, workers: int | None = None) -> list[str]:
    """``mlflow server`` on ``store_uri`` with the landing page (when the entry point is installed)."""
    argv = [str(Path(sys.executable).parent / "mlflow"), "server", "--backend-store-uri", store_uri,
            "--host", host, "--port", str(port)]
    if workers:
        argv += ["--workers", str(workers)]
    return argv + (["--app-name", APP_NAME] if installed() else [])
