"""`workbench sweeps` lists an experiment's sweeps from the store's records, and a wrong sweep id (``--compare-to``,
``report --sweep``) is refused in one line naming the ids there are, exit 2, before anything runs. A store with
hand-made sweep runs: no variant is measured here."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.conftest import write_experiment
from workbench.cli import main
from workbench.tracking import (
    KIND_SWEEP,
    TAG_COMPARED_TO,
    TAG_KIND,
    TAG_RECOMMENDED_VARIANT,
    TAG_REGRESSIONS,
    TAG_SWEEP,
    TAG_VARIANT_COUNT,
    RunStatus,
    Tracker,
)

SWEEPS = ("20261126T020000Z-aaaaaa", "20261127T020000Z-bbbbbb", "20261128T020000Z-cccccc",
          "20261129T020000Z-dddddd")


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project whose store holds experiment 'tiny' with four sweeps (the last compared, with 2 regressions)."""
    root = tmp_path_factory.mktemp("sweeps")  # one store for the module: creating one takes seconds
    write_experiment(root)
    tr = Tracker(root=root)
    exp = tr.experiment_id("tiny")
    for i, sweep in enumerate(SWEEPS):
        tags = {TAG_KIND: KIND_SWEEP, TAG_SWEEP: sweep, TAG_VARIANT_COUNT: "2", TAG_RECOMMENDED_VARIANT: "int8"}
        if i == len(SWEEPS) - 1:
            tags |= {TAG_REGRESSIONS: "2", TAG_COMPARED_TO: SWEEPS[i - 1]}
        run = tr.start_run(exp, f"sweep {sweep}", tags)
        tr.log(run, metrics={"variants_finished": 2 - (i == 0), "variants_failed": int(i == 0), "variants_skipped": 0})
        tr.end_run(run, RunStatus.FAILED if i == 0 else RunStatus.FINISHED)
    return root


def _cli(root: Path, monkeypatch: pytest.MonkeyPatch, *args: str) -> tuple[int, str, str]:
    monkeypatch.chdir(root)
    r = CliRunner().invoke(main, list(args))
    return r.exit_code, r.stdout, r.stderr


def test_sweeps_lists_every_sweep_newest_first(store: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    code, out, _ = _cli(store, monkeypatch, "sweeps", "tiny")
    assert code == 0, out
    lines = out.splitlines()
    assert lines[0].split()[:3] == ["sweep", "started", "(UTC)"] and "regressions" in lines[0]
    ids = [line.split()[0] for line in lines[1:]]
    assert ids == list(reversed(SWEEPS))  # the runs were started in order: newest first
    newest, oldest = lines[1].split(), lines[-1].split()
    assert newest[3:] == ["FINISHED", "2", "2", "0", "0", "2", "int8"]  # compared: 2 regressions
    assert oldest[3:] == ["FAILED", "2", "1", "1", "0", "-", "int8"]  # not compared: -


def test_sweeps_by_experiment_file_limit_and_json(store: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    code, out, _ = _cli(store, monkeypatch, "sweeps", "experiments/tiny.yaml", "--limit", "1")
    assert code == 0 and out.splitlines()[1].startswith(SWEEPS[-1])
    assert "3 older sweep(s) not shown" in out
    code, out, _ = _cli(store, monkeypatch, "sweeps", "tiny", "--json")
    rows = json.loads(out)
    assert [r["sweep_id"] for r in rows] == list(reversed(SWEEPS))
    assert rows[0]["regressions"] == 2 and rows[0]["compared_to"] == SWEEPS[-2] and rows[-1]["regressions"] is None


def test_an_unknown_experiment_names_the_known_ones(store: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    code, out, err = _cli(store, monkeypatch, "sweeps", "nope")
    assert code == 2 and out == ""
    assert err.strip().startswith("error: no MLflow experiment named 'nope'") and "it holds: tiny" in err
    assert len(err.strip().splitlines()) == 1


def _says_which_ids_exist(err: str, option: str) -> None:
    [line] = err.strip().splitlines()
    assert line.startswith(f"error: {option}: no sweep 'nope' in experiment 'tiny'; the newest: "), line
    assert all(s in line for s in SWEEPS[1:]) and SWEEPS[0] not in line  # the newest three
    assert "`workbench sweeps tiny` lists all 4" in line


def test_report_with_a_wrong_sweep_id_lists_the_newest(store: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    code, out, err = _cli(store, monkeypatch, "report", "tiny", "--sweep", "nope")
    assert code == 2 and out == ""
    _says_which_ids_exist(err, "--sweep")


def test_run_with_a_wrong_compare_to_id_runs_nothing(store: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    before = len(Tracker(root=store).runs(Tracker(root=store).experiment_id("tiny")))
    code, out, err = _cli(store, monkeypatch, "run", "--no-progress", "--compare-to", "nope",
                          "experiments/tiny.yaml")
    assert code == 2 and out == ""
    _says_which_ids_exist(err, "--compare-to")
    assert len(Tracker(root=store).runs(Tracker(root=store).experiment_id("tiny"))) == before
    assert not (store / ".workbench" / "sweeps").exists()


def test_an_experiment_without_sweeps(store: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_experiment(store, name="fresh")
    Tracker(root=store).experiment_id("fresh")
    code, out, _ = _cli(store, monkeypatch, "sweeps", "fresh")
    assert code == 0 and out.strip() == "experiment 'fresh' has no sweeps yet; run `workbench run` first"
    code, _, err = _cli(store, monkeypatch, "run", "--no-progress", "--compare-to", "nope", "experiments/fresh.yaml")
    assert code == 2 and "--compare-to: no sweep 'nope': experiment 'fresh' has no sweep yet" in err
