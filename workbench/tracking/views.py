"""The runs view a manager opens first: a saved view of MLflow's runs table, written as an experiment tag.

MLflow 3.15+ keeps named, shareable runs-table views (visible columns, their order, the sort, the filter, the
chart cards) as experiment tags ``mlflow.sharedViewState.<id>`` whose value is an envelope
``{"name", "createdAt", "updatedAt", "state"}``, ``state`` being the page's JSON deflated and base64-encoded
after ``deflate;`` (MLflow's own demo generator, ``mlflow/demo/generators/saved_views.py``, writes its trace
views the same way; the runs page reads them in ``useSharedExperimentViewState`` when the address carries
``viewStateShareKey=<id>``, and lists them in its view menu). The format is not a public API, so it is written
only for the MLflow versions it was checked on (``CHECKED_MLFLOW``; ``tests/e2e/test_mlflow_ui.py`` checks it in
Chromium); on any other version nothing is written and the runs open on MLflow's default columns.
"""

from __future__ import annotations

import base64
import json
import time
import zlib
from collections.abc import Sequence
from typing import Any

from workbench.tracking.names import TAG_RECOMMENDED, TAG_SAVED_VIEW_PREFIX

#: MLflow major.minor versions whose saved-view format this module writes (checked in the browser on 3.17.2)
CHECKED_MLFLOW = ("3.15", "3.16", "3.17")
#: MLflow refuses larger views in its own "Save view" action
MAX_VIEW_CHARS = 20_000


def supported(mlflow_version: str) -> bool:
    """Whether ``mlflow_version`` (e.g. ``3.17.2``) stores saved runs views in the format written here."""
    return ".".join(mlflow_version.split(".")[:2]) in CHECKED_MLFLOW


def column(kind: str, key: str) -> str:
    """A runs-table column id as MLflow names it: ``metrics.`accuracy```, ``tags.`workbench.recommended```."""
    return f"{kind}.`{key}`"


def _card(uuid: str, section: str, **fields: Any) -> dict[str, Any]:
    return {"uuid": uuid, "metricSectionId": section, "deleted": False, "isGenerated": False,
            "runsCountToCompare": 100, **fields}


def runs_view_state(run_ids: Sequence[str], metrics: Sequence[str], primary: str, x_axes: Sequence[str]) -> dict:
    """The runs page's state: only the runs ``run_ids`` (a sweep's variants, and the run the recommendation
    stands on), the recommended tag first and then ``metrics`` as visible columns, the recommended run on top;
    the chart view (the runs page's comparison) opens on ``primary`` against each of ``x_axes`` and a bar per
    metric."""
    keys = [("tags", TAG_RECOMMENDED), *(("metrics", m) for m in metrics)]
    cols = [column(kind, key) for kind, key in keys]
    # the whole name readable (a tag's dotted name sets wider than a metric's)
    widths = {column(kind, key): max(90, (8 if kind == "tags" else 7) * len(key) + 30) for kind, key in keys}
    ids = ", ".join(f"'{r}'" for r in dict.fromkeys(run_ids) if r)
    section = "workbench-tradeoff"
    charts = [_card(f"workbench-{primary}-vs-{x}", section, type="SCATTER", displayName=f"{primary} vs {x}",
                    xaxis={"key": x, "type": "METRIC"}, yaxis={"key": primary, "type": "METRIC"})
              for x in x_axes]
    charts += [_card(f"workbench-bar-{m}", section, type="BAR", metricKey=m, displayName=m) for m in metrics]
    return {
        "selectedColumns": cols, "columnOrder": cols, "columnWidths": widths,
        "runsHiddenMode": "SHOW_ALL", "viewMaximized": False, "runListHidden": False,
        "compareRunCharts": charts,
        "compareRunSections": [{"uuid": section, "name": "Trade-off", "display": True, "isReordered": False}],
        "isAccordionReordered": True, "hideEmptyCharts": True, "groupBy": None, "groupsExpanded": {},
        "useGroupedValuesInCharts": True, "chartsSearchFilter": "",
        "searchFilter": f"attributes.run_id IN ({ids})" if ids else "",
        "orderByKey": column("tags", TAG_RECOMMENDED), "orderByAsc": False,
        "startTime": "ALL", "lifecycleFilter": "Active", "modelVersionFilter": "All Runs", "datasetsFilter": [],
    }


def saved_view_tag(view_id: str, name: str, state: dict[str, Any], now_ms: int | None = None) -> tuple[str, str]:
    """(tag key, tag value) of a saved runs view: the envelope MLflow's runs page reads, state deflated."""
    now = int(time.time() * 1000) if now_ms is None else now_ms
    packed = "deflate;" + base64.b64encode(zlib.compress(json.dumps(state, separators=(",", ":")).encode())).decode()
    value = json.dumps({"name": name, "createdAt": now, "updatedAt": now, "state": packed}, separators=(",", ":"))
    if len(value) > MAX_VIEW_CHARS:
        raise ValueError(f"saved view '{view_id}' is {len(value)} characters; MLflow takes at most {MAX_VIEW_CHARS}")
    return TAG_SAVED_VIEW_PREFIX + view_id, value


def read_saved_view(value: str) -> tuple[str, int, dict[str, Any]]:
    """(name, updatedAt in epoch ms, state) of a saved view tag's value (the inverse of ``saved_view_tag``)."""
    envelope = json.loads(value)
    state = envelope["state"]
    if state.startswith("deflate;"):
        state = zlib.decompress(base64.b64decode(state[len("deflate;"):])).decode()
    return envelope["name"], int(envelope.get("updatedAt", envelope["createdAt"])), json.loads(state)
