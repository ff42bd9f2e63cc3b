"""The unit tier imports no TensorFlow: a unit test that pulls it in (directly or through the package) fails
here, naming itself, instead of quietly adding TensorFlow's start-up to every `make test-unit`. Tests that
need TensorFlow live in tests/integration (marked ``tf``)."""

from __future__ import annotations

import sys
from collections.abc import Iterator

import pytest

HEAVY = ("tensorflow", "tf_keras", "tensorflow_model_optimization")


@pytest.fixture(autouse=True)
def _imports_no_tensorflow() -> Iterator[None]:
    before = {m for m in HEAVY if m in sys.modules}  # already loaded by an integration test in the same session
    yield
    new = sorted(m for m in HEAVY if m in sys.modules and m not in before)
    if new:
        pytest.fail(f"a unit test imported {', '.join(new)}: move it to tests/integration (mark it tf)")


_LOADED_BEFORE_UNIT_MODULES = {m for m in HEAVY if m in sys.modules}


def pytest_collection_finish(session: pytest.Session) -> None:
    """A unit test module importing TensorFlow at its top (collected after this conftest) is refused too."""
    new = sorted(m for m in HEAVY if m in sys.modules and m not in _LOADED_BEFORE_UNIT_MODULES)
    if new:
        raise pytest.UsageError(f"a module under tests/unit imported {', '.join(new)} when collected: "
                                "move the test to tests/integration (mark it tf)")
