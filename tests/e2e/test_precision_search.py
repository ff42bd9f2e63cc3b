"""``workbench search --precision`` end to end on a tiny digits CNN: the float baseline runs first through the
sweep, every candidate is measured on LiteRT, the search is logged, and a front variant run from the written
experiment file (``front.yaml``) makes the same file (SHA-256) with the same accuracy and size."""

from __future__ import annotations

import json
import textwrap

import pytest

from tests.conftest import write_experiment

pytestmark = pytest.mark.slow


def test_the_front_is_measured_logged_and_reproduced_by_a_sweep(project):
    from workbench.run.precision import run_precision_search
    from workbench.tracking import TAG_PRECISION_FRONT, Tracker

    write_experiment(project, name="prec", epochs=1, extra="budgets: {max_accuracy_drop: 3.0}\nrounds: 1\n",
                     variants=textwrap.dedent("""\
                         variants:
                           - {name: float32, quantization: float32}
                         """))
    # trials 8: the seven uniform references, then "int4 except the most sensitive layer", whose front member
    # is logged through the sweep below
    r = run_precision_search("experiments/prec.yaml", trials=8, individual=1, progress=False)
    assert r.trials == 8 and len(r.rows) == 8  # eight distinct recipes
    origins = [row["origin"] for row in r.rows]
    assert origins[:5] == ["uniform int4_weights", "uniform int8_weights", "uniform int8_dynamic", "uniform float16",
                           "uniform int8"]
    by = {row["origin"]: row for row in r.rows}
    assert by["uniform int4_weights"]["size_bytes"] < by["uniform int8_weights"]["size_bytes"] < \
        by["uniform float16"]["size_bytes"] < by["uniform float16"]["float_size_bytes"]
    assert all(row["latency_ms_p50"] > 0 and row["float_latency_ms_p50"] > 0 for row in r.rows)
    assert r.front and all(r.row(n)["within_budgets"] for n in r.front_within)
    logged = Tracker(root=project).get_run(r.parent_run_id)
    assert logged.status == "FINISHED" and logged.tags[TAG_PRECISION_FRONT] == ",".join(r.front)
    report = json.loads((r.out_dir / "precision_search.json").read_text())
    assert [row["variant"] for row in report["rows"]] == [row["variant"] for row in r.rows]

    # the front's mixed members, as the written experiment file has them, ran as variants through the sweep:
    # same file, same numbers, weighed by the recommendation like any other variant
    mixed = [n for n in r.front_within if r.row(n)["rules"] and not r.row(n)["origin"].startswith("uniform")]
    assert mixed and sorted(r.reproduced) == sorted(mixed) and all(r.reproduced.values())
    for row in r.front_rows:
        name = row["variant"]
        assert row["status"] == "FINISHED", row["reason"]
        assert row["model_sha256"] == r.row(name)["model_sha256"]
        assert row["size_bytes"] == r.row(name)["size_bytes"]
        assert row["accuracy"] == pytest.approx(r.row(name)["accuracy"])
        assert row["technique"] == f"ptq:mixed-{r.row(name)['recipe_hash']}"
    assert r.dashboard is not None and r.dashboard.is_file()
    # a sweep of the front alone (--only its mixed members): its recommendation says it weighed those only
    assert r.recommendation.startswith(f"Partial sweep (--only {','.join(mixed)}): among the variants it ran only.")
    assert "**Ship `mixed-" in r.recommendation or "**No variant" in r.recommendation
