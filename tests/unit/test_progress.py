"""Progress a person can follow: the sweep's bar names the variants running now, and ``make venv`` says what it
installs before each step instead of staying silent for minutes."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from types import SimpleNamespace
from typing import Any

import pytest

from tests.conftest import REPO
from workbench.run.status import Outcome, VariantStatus
from workbench.run.sweep import _execute


class _TwoAtOnce:
    """An executor that starts two tasks, then ends them one by one (what a pool of 2 does)."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    def run(self, tasks: Sequence[Any], on_start: Callable[[Any], None],
            on_end: Callable[[Any], None]) -> Iterator[Outcome]:
        for t in tasks:
            on_start(t)
        for t in tasks:
            on_end(t)
            status = VariantStatus.FAILED if t.variant_id == "b" else VariantStatus.FINISHED
            yield Outcome(t.variant_id.upper(), t.variant_id, status, "boom" if status == "FAILED" else "", "", 1.0)


def test_the_progress_bar_names_the_variants_running_now(capsys: pytest.CaptureFixture[str]) -> None:
    tasks = [SimpleNamespace(variant_id=v) for v in ("a", "b")]
    outcomes = list(_execute(_TwoAtOnce(), tasks, skipped=1, progress=True,  # type: ignore[arg-type]
                             names={"a": "int8", "b": "prune0.5"}))
    assert [o.status for o in outcomes] == ["FINISHED", "FAILED"]
    frames = re.split(r"[\r\n]", capsys.readouterr().err)
    assert any("running: int8, prune0.5" in f for f in frames)  # both at once, by name, in start order
    assert any("done 1 failed 0 skipped 1 | running: prune0.5" in f for f in frames)  # int8 ended
    last = [f for f in frames if "variants" in f][-1]
    assert "3/3" in last and "done 1 failed 1 skipped 1" in last and "running" not in last


def test_make_venv_says_what_it_installs_before_each_step() -> None:
    text = (REPO / "Makefile").read_text()
    recipe = text.split("$(STAMP):", 1)[1].split("\n\n", 1)[0].splitlines()
    pip_lines = [i for i, line in enumerate(recipe) if "pip install" in line]
    assert len(pip_lines) >= 3
    for i in pip_lines:  # an announcement right before each pip step
        assert recipe[i - 1].lstrip().startswith("@echo"), recipe[i]
    requirements = next(recipe[i] for i in pip_lines if "-r requirements.txt" in recipe[i])
    assert " -q " not in requirements  # the long step shows which package it is fetching
