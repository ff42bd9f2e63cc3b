"""Two sweeps that start together both set the experiment's description: MLflow's SQL store reads, then inserts,
so one of them can lose the insert race (a unique-key violation on PostgreSQL or SQLite). A ``set_*`` call is
idempotent: it is repeated, and the key, which exists by then, is updated. Anything else still fails at once."""

from __future__ import annotations

import pytest

from workbench.tracking.retry import with_retries

RACE = ('BAD_REQUEST: (psycopg.errors.UniqueViolation) duplicate key value violates unique constraint '
        '"experiment_tag_pk" DETAIL: Key (key, experiment_id)=(mlflow.note.content, 3) already exists.')


def _failing(times: int, message: str = RACE):
    calls = []

    def fn(*args):
        calls.append(args)
        if len(calls) <= times:
            raise RuntimeError(message)
        return "set"

    return fn, calls


def test_a_set_that_lost_an_insert_race_is_repeated() -> None:
    fn, calls = _failing(1)
    assert with_retries(fn, "set_experiment_tag", "http://127.0.0.1:1", 5.0, "3", "k", "v") == "set"
    assert len(calls) == 2 and calls[0] == calls[1] == ("3", "k", "v")
    fn, calls = _failing(1, "UNIQUE constraint failed: tags.key, tags.run_uuid")  # SQLite's words
    assert with_retries(fn, "set_tag", "sqlite:///x.db", 5.0) == "set" and len(calls) == 2
    fn, calls = _failing(1, 'UniqueViolation: duplicate key value violates unique constraint "dataset_pk"')
    assert with_retries(fn, "log_inputs", "http://127.0.0.1:1", 5.0) == "set" and len(calls) == 2


def test_only_sets_are_repeated_and_only_a_few_times() -> None:
    fn, calls = _failing(1)
    with pytest.raises(RuntimeError, match="UniqueViolation"):  # creating twice is not idempotent
        with_retries(fn, "create_run", "http://127.0.0.1:1", 5.0)
    assert len(calls) == 1
    fn, calls = _failing(10)
    with pytest.raises(RuntimeError, match="UniqueViolation"):
        with_retries(fn, "set_experiment_tag", "http://127.0.0.1:1", 5.0)
    assert len(calls) == 4  # the call and three repeats, then the error as it is
