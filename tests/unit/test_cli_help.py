"""The command line explains itself: every command and option has help text, `run --help` lists every exit
status `workbench run` can end with, and the top-level help names every runtime of the catalogue."""

from __future__ import annotations

import re

import click
import pytest
from click.testing import CliRunner

from workbench.catalog import RUNTIMES
from workbench.cli import RUN_EXIT_CODES, main

COMMANDS = sorted(main.commands.items())


def _help(*args: str) -> str:
    r = CliRunner().invoke(main, [*args, "--help"], terminal_width=200)
    assert r.exit_code == 0, r.output
    return r.output


@pytest.mark.parametrize(("name", "command"), COMMANDS, ids=[n for n, _ in COMMANDS])
def test_every_option_and_argument_is_explained(name: str, command: click.Command) -> None:
    assert (command.help or "").strip(), f"`workbench {name}` has no help text"
    for param in command.params:
        if isinstance(param, click.Option):
            assert (param.help or "").strip(), f"`workbench {name} {param.opts[0]}` has no help text"
        else:  # click arguments take no help: the command's text names them
            assert param.human_readable_name in (command.help or ""), f"`workbench {name}` does not explain {param.human_readable_name}"


def test_run_help_lists_every_exit_status_a_sweep_returns() -> None:
    from workbench.run.sweep import (
        EXIT_FAILURES,
        EXIT_NOTHING_COMPARED,
        EXIT_OK,
        EXIT_REGRESSIONS,
        EXIT_USAGE,
        SweepResult,
    )

    text = _help("run")
    listed = {int(code) for code in re.findall(r"^\s+(\d+)\s", text.split("Exit status:")[1], re.M)}
    assert {EXIT_OK, EXIT_FAILURES, EXIT_USAGE, EXIT_REGRESSIONS, EXIT_NOTHING_COMPARED} <= listed
    assert "128+N" in text
    ended = []  # what SweepResult.exit_code gives for each way a sweep ends
    for rows, regressions, nothing in (([], [], False), ([{"status": "FAILED"}], [], False),
                                       ([], [{"variant": "a", "what": "slower"}], False), ([], [], True)):
        result = SweepResult("e", "1", "s", "r", "sqlite://", rows=rows, regressions=regressions,
                             compared_nothing=nothing)
        ended.append(result.exit_code)
    assert set(ended) <= listed and len(set(ended)) == 4
    assert [code for code, _ in RUN_EXIT_CODES if isinstance(code, int)] == sorted(listed)


def test_top_level_help_names_every_runtime() -> None:
    text = " ".join(_help().split())
    for runtime in RUNTIMES.values():
        assert runtime.display in text, runtime.name


def test_search_help_lists_its_exit_status() -> None:
    assert "Exit status:" in _help("search") and re.search(r"^\s+1\s+no trial", _help("search"), re.M)


@pytest.mark.parametrize("args", [["zoo"], ["zoo", "--json"], ["--help"], ["run", "--help"], ["profile", "--help"],
                                  ["sweeps", "--help"]], ids=" ".join)
def test_commands_that_need_no_tensorflow_do_not_import_it(args: list[str]) -> None:
    """The command as a person runs it, in a fresh interpreter; ``-X importtime`` names every module imported."""
    import subprocess
    import sys

    from tests.conftest import REPO

    proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "workbench.cli", *args], capture_output=True,
                          text=True, cwd=REPO, env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"}, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    imported = {line.rpartition("|")[2].strip() for line in proc.stderr.splitlines() if line.startswith("import time:")}
    assert "workbench.catalog" in imported and "click" in imported  # the importtime lines were read
    heavy = sorted(m for m in imported if m.split(".")[0] in ("tensorflow", "tf_keras", "keras", "mlflow", "torch"))
    assert heavy == [], f"`workbench {' '.join(args)}` imported {heavy[:5]}"
    if args[0] == "zoo":
        assert "digits_cnn" in proc.stdout and "digits" in proc.stdout


def test_the_sweep_table_reads_latency_in_microseconds_below_1_ms(capsys: pytest.CaptureFixture[str]) -> None:
    """One unit rule (``catalog.metrics.fmt_ms``) for the CLI, the dashboard, the summary and the explorer."""
    from workbench.catalog.metrics import ms_axis_unit
    from workbench.cli import _print_table

    _print_table([{"variant": "int8", "status": "FINISHED", "accuracy": 0.98, "size_bytes": 80_691.2,
                   "latency_ms_p50": 0.0023, "latency_ms_p95": 1.5}])
    head, row = capsys.readouterr().out.splitlines()
    assert "p50" in head.split() and "p95" in head.split()  # each cell carries its unit
    assert "p50 ms" not in head and "2.30 µs" in row and "1.50 ms" in row and "78.8 KB" in row
    assert ms_axis_unit([0.002, 0.9]) == (1000.0, "µs") and ms_axis_unit([0.5, 1.2]) == (1.0, "ms")
