"""The fault table's rows, wherever a case runs (issue 20). Most cases run inside
``tests/e2e/test_fault_table.py``; the few that need a set-up of their own run in their own files and record
their outcome here in the same columns instead of running twice:

- ``tests/e2e/test_orphans.py``: ``kill -9`` of the supervisor (its process tree, the run it leaves KILLED);
- ``tests/e2e/test_disk_full.py``: a real full tmpfs under the work dir, and under the project root and store;
- ``tests/e2e/test_shared_store.py``: two sweeps that split an experiment on a PostgreSQL-backed server.

Each test process writes its rows as JSON files under the session's base temporary directory (under xdist,
the controller's, the parent of every worker's); when the session ends, the controller (or the only process)
joins them into ``<basetemp>/fault-cases.md`` (``tests/conftest.py``'s ``pytest_sessionfinish``), written
only when the fault table itself ran. ``python -m tests.e2e.test_fault_table`` runs all of them and copies
that file to docs/fault-cases.md.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

ROWS = "fault-rows"
DOC_NAME = "fault-cases.md"
#: cases recorded by other files, with the test that records each (listed as not run when absent)
ELSEWHERE = {
    "signal-SIGKILL-tree-dies":
        "tests/e2e/test_orphans.py::test_kill_9_of_the_sweep_ends_its_tree_and_the_killed_run_gains_nothing",
    "os-work-dir-disk-full":
        "tests/e2e/test_disk_full.py::test_only_the_work_dir_full_one_line_exit_2_and_the_runs_settled",
    "os-store-disk-full": "tests/e2e/test_disk_full.py::test_project_root_and_store_on_a_full_disk_one_line_exit_2",
    "concurrent-split-sweeps-converge":
        "tests/e2e/test_shared_store.py::test_two_sweeps_that_split_an_experiment_recommend_what_one_sweep_would",
}
#: the order of the classes in the table (a class not listed comes last)
CLASSES = ("bad YAML / spec", "bad data", "bad model file", "data does not fit the model", "profile --inputs",
           "tracking store down", "disk / OS errors", "special files", "absurd values", "signals", "tampering",
           "concurrency")


@dataclass
class Row:
    """One case's outcome in the table's columns."""

    case: str
    cls: str
    what: str
    exit: int | None = None
    first_line: str = ""
    runs_created: int = 0
    traceback: bool = False
    handled: bool = False
    seconds: float = 0.0
    note: str = ""
    order: int = 10_000  # the fault table's own cases keep their order; rows recorded elsewhere come after
    source: str = "tests/e2e/test_fault_table.py"

    def output(self, stderr: str, stdout: str = "", tmp: Path | None = None) -> None:
        """Fill the first stderr line and the traceback column from a command's output; ``tmp`` (the case's
        temporary folder) is shown as ``$CASE`` so the table does not depend on where it ran."""
        lines = [ln for ln in stderr.splitlines() if ln.strip()]
        first = lines[0] if lines else ""
        self.first_line = first.replace(str(tmp), "$CASE") if tmp is not None else first
        self.traceback = "Traceback (most recent call last)" in stderr + stdout


def rows_dir(basetemp: Path) -> Path:
    """Where rows go: the base temporary directory of the session (a worker's is a child of it)."""
    root = basetemp.parent if os.environ.get("PYTEST_XDIST_WORKER") else basetemp
    return root / ROWS


def record(basetemp: Path, row: Row) -> None:
    folder = rows_dir(basetemp)
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f".{row.case}.{os.getpid()}.tmp"
    tmp.write_text(json.dumps(asdict(row)))
    os.replace(tmp, folder / f"{row.case}.json")


@contextmanager
def fault_row(basetemp: Path, case: str, cls: str, what: str) -> Iterator[Row]:
    """Record the test's outcome as the row ``case`` (one of ``ELSEWHERE``): handled when the body ends without
    an exception (the test's assertions are the case's contract), else not, with the first line of what failed
    as its note."""
    row = Row(case, cls, what, source=ELSEWHERE[case])
    start = time.monotonic()
    try:
        yield row
        row.handled = True
    except BaseException as exc:
        row.handled = False
        row.note = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
        raise
    finally:
        row.seconds = time.monotonic() - start
        record(basetemp, row)


def read_rows(root: Path) -> list[Row]:
    folder = root / ROWS
    return [Row(**json.loads(p.read_text())) for p in sorted(folder.glob("*.json"))] if folder.is_dir() else []


def _file(node: str) -> str:
    return node.split("::")[0]


def _cell(text: str, width: int) -> str:
    return text.replace("|", "\\|").replace("\n", " ")[:width]


def render(rows: list[Row]) -> str:
    """The fault table as Markdown: counts per class, then one line per case (recorded elsewhere and absent:
    listed as not run)."""
    have = {r.case for r in rows}
    rows = [*rows, *(Row(case, "", "", handled=False, note="not run in this session", source=src)
                     for case, src in ELSEWHERE.items() if case not in have)]
    rank = {c: i for i, c in enumerate(CLASSES)}
    rows.sort(key=lambda r: (rank.get(r.cls, len(rank)), r.order, r.case))
    ran = [r for r in rows if r.note != "not run in this session"]
    handled = sum(r.handled for r in ran)
    classes = list(dict.fromkeys(r.cls for r in ran))
    lines = ["# Fault cases", "",
             "Generated by `.venv/bin/python -m tests.e2e.test_fault_table`, which runs "
             "`tests/e2e/test_fault_table.py` and the cases that need a set-up of their own and record their row "
             f"from their own file ({', '.join(f'`{s}`' for s in dict.fromkeys(_file(v) for v in ELSEWHERE.values()))}; "
             "`tests/e2e/fault_rows.py`); `make test` writes the same file into its base temporary directory. "
             "Each case runs the real command line in a fresh directory (`$CASE` below). *Handled*: bad input "
             "refused with exit status 2, one `error:` line, no traceback, no run logged; signals: exit 128+N, every "
             "run KILLED with the signal named, no process left (after `kill -9`: the supervisor's tree gone within "
             "5 s, the KILLED run gains nothing); full disks: one line, exit 2, the store intact; concurrency: "
             "nothing run twice, no live run killed, concurrent sweeps recommend what one sweep would; tampering: "
             "`verify` exits non-zero naming the file.", "",
             f"**{handled} of {len(ran)} cases handled, {len(ran) - handled} not handled"
             + (f"; {len(rows) - len(ran)} not run" if len(rows) > len(ran) else "") + ".**", "",
             "| class | cases | handled | not handled |", "|---|---|---|---|"]
    for cls in classes:
        mine = [r for r in ran if r.cls == cls]
        ok = sum(r.handled for r in mine)
        lines.append(f"| {cls} | {len(mine)} | {ok} | {len(mine) - ok} |")
    lines += ["", "| case | class | what | exit | first stderr line | runs created | traceback | handled | seconds | "
              "note |", "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        if r.note == "not run in this session":
            lines.append(f"| `{r.case}` | | | | | | | not run | | recorded by `{_file(r.source)}` |")
            continue
        where = "" if r.source.endswith("test_fault_table.py") else f" (`{_file(r.source).rsplit('/', 1)[-1]}`)"
        lines.append(f"| `{r.case}` | {r.cls} | {_cell(r.what, 200)}{where} | {r.exit} | {_cell(r.first_line, 160)} | "
                     f"{r.runs_created} | {'yes' if r.traceback else 'no'} | {'yes' if r.handled else '**no**'} | "
                     f"{r.seconds:.1f} | {_cell(r.note, 160)} |")
    return "\n".join(lines) + "\n"


def write_table(basetemp: Path) -> Path | None:
    """Join every row recorded under ``basetemp`` into ``basetemp / fault-cases.md``; None (nothing written)
    unless the fault table itself ran."""
    rows = read_rows(basetemp)
    if not any(r.source.endswith("test_fault_table.py") for r in rows):
        return None
    out = basetemp / DOC_NAME
    out.write_text(render(rows))
    return out
