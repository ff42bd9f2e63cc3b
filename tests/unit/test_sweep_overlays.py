"""A sweep's Model Explorer overlays (``run/overlays.py``): read from the store only, the float32 variant's
``.tflite`` as the graph and one SNR overlay per other variant, keyed by tensors of that graph. A hand-made store
(a sweep run, its summary, three variant runs with .tflite files made without TensorFlow): nothing is trained."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.conftest import write_experiment
from tests.unit.tiny_tflite import mlp_tflite
from workbench.cli import main
from workbench.errors import WorkbenchError
from workbench.tracking import KIND_SWEEP, TAG_KIND, TAG_SWEEP, RunStatus, Tracker

SWEEP = "20261201T020000Z-aaaaaa"


def _sweep(root: Path, tr: Tracker, name: str, variants: dict[str, tuple[str, bytes | None]]) -> str:
    """Experiment ``name`` with one sweep whose variants (name -> (technique, .tflite or None)) all FINISHED."""
    from workbench.spec import load_experiment

    write_experiment(root, name=name)
    exp = tr.experiment_id(name)
    parent = tr.start_run(exp, f"sweep {SWEEP}", {TAG_KIND: KIND_SWEEP, TAG_SWEEP: SWEEP})
    spec = load_experiment(root / "experiments" / f"{name}.yaml", machine=False)
    tr.log_text(parent, spec.model_dump_json(), "experiment.resolved.json")
    rows = []
    for i, (variant, (technique, tflite)) in enumerate(variants.items()):
        run = tr.start_run(exp, variant, {}, parent_run_id=parent)
        if tflite is not None:
            folder = root / "files" / name / variant
            folder.mkdir(parents=True)
            (folder / "model.tflite").write_bytes(tflite)
            tr.log_artifact(run, folder / "model.tflite", "model")
        tr.end_run(run, RunStatus.FINISHED)
        rows.append({"variant": variant, "variant_id": f"{i:064x}", "technique": technique, "status": "FINISHED",
                     "reason": "", "run_id": run})
    tr.log_text(parent, json.dumps(rows), "summary.json")
    tr.end_run(parent, RunStatus.FINISHED)
    return exp


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Tracker, dict[str, str]]:
    """One store (creating one takes seconds): 'tiny' swept float32, int4, int8w and a run without a file;
    'nofloat' swept int4 only."""
    from workbench.convert.quantizer import quantize_tflite

    root = tmp_path_factory.mktemp("overlays")
    tr = Tracker(root=root)
    f = mlp_tflite()
    int4 = quantize_tflite(f, "int4_weights")
    ids = {"tiny": _sweep(root, tr, "tiny", {"float32": ("ptq:float32", f), "int4": ("ptq:int4_weights", int4),
                                              "int8w": ("ptq:int8_weights", quantize_tflite(f, "int8_weights")),
                                              "nofile": ("ptq:int8", None)}),
           "nofloat": _sweep(root, tr, "nofloat", {"int4": ("ptq:int4_weights", int4)})}
    return root, tr, ids


def test_each_variant_colours_the_float_graph_by_its_snr(store, monkeypatch):
    from workbench.run.overlays import overlay_dir, sweep_overlays
    from workbench.views.overlay import read_overlay

    root, tr, ids = store
    got = sweep_overlays(tr, ids["tiny"], SWEEP, root / "reports")
    folder = overlay_dir(root / "reports", "tiny", SWEEP)
    assert got.model == folder / "float32.tflite" and got.model.read_bytes() == mlp_tflite()
    assert [p.name for p in got.overlays] == ["snr-db-int4.json", "snr-db-int8w.json"]
    snr = {p.stem: {k: v["value"] for k, v in read_overlay(p)["results"].items()} for p in got.overlays}
    # the float graph's own tensor names: each layer's output, and the weights the recipe rewrote
    assert set(snr["snr-db-int4"]) == {"h0", "h1", "y"} | {f"dense{i}/kernel" for i in range(3)}
    assert all(snr["snr-db-int8w"][k] > snr["snr-db-int4"][k] + 12 for k in ("h0", "h1", "y"))  # ~6 dB a bit
    assert list(got.skipped) == ["nofile"] and "model/model.tflite" in got.skipped["nofile"]
    # the command that opens them: without a server, the files it would serve
    monkeypatch.chdir(root)
    r = CliRunner().invoke(main, ["graph", "tiny", "--no-serve", "--out", "reports"])
    assert r.exit_code == 0, r.output
    assert "float32.tflite: 2 overlay(s)" in r.output and "no overlay for nofile" in r.output


def test_a_sweep_without_a_float32_variant_has_no_graph_to_colour(store, monkeypatch):
    from workbench.run.overlays import sweep_overlays

    root, tr, ids = store
    with pytest.raises(WorkbenchError, match="no finished float32 variant"):
        sweep_overlays(tr, ids["nofloat"], SWEEP, root / "reports")
    monkeypatch.chdir(root)
    r = CliRunner().invoke(main, ["graph", "nofloat", "--no-serve"])
    assert r.exit_code == 2 and "no finished float32 variant" in r.output and r.output.count("\n") == 1
