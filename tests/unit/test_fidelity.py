"""Fidelity to the float model (pure): SNR, cosine similarity and max absolute error per output."""

from __future__ import annotations

import math

import numpy as np
import pytest

from workbench.analysis.fidelity import (
    SNR_CAP_DB,
    cosine_similarity,
    fidelity,
    max_abs_error,
    pair_outputs,
    snr_db,
)
from workbench.catalog.metrics import AXIS_METRICS, METRICS


def test_snr_of_known_noise():
    ref = np.ones((4, 25))  # signal power 100
    out = ref + 0.1  # noise power 100 * 0.01 = 1
    assert snr_db(ref, out) == pytest.approx(20.0)


def test_identical_outputs_are_capped_and_zero_reference_is_undefined():
    ref = np.arange(6.0).reshape(2, 3)
    assert snr_db(ref, ref.copy()) == SNR_CAP_DB
    assert math.isnan(snr_db(np.zeros(3), np.ones(3)))


def test_cosine_and_max_abs_error():
    ref = np.array([[1.0, 0.0], [0.0, 1.0]])
    assert cosine_similarity(ref, ref * 3) == pytest.approx(1.0)
    assert cosine_similarity(ref, -ref) == pytest.approx(-1.0)
    assert cosine_similarity(np.zeros(2), np.zeros(2)) == 1.0
    assert cosine_similarity(np.zeros(2), np.ones(2)) == 0.0
    assert max_abs_error(ref, ref + np.array([[0.0, -0.5], [0.25, 0.0]])) == 0.5


def test_single_outputs_pair_whatever_their_names_several_by_name():
    a = np.ones((2, 3))
    assert list(pair_outputs({"dense_1": a}, {"output_0": a})) == ["dense_1"]
    with pytest.raises(ValueError, match="do not match"):
        pair_outputs({"age": a, "kind": a}, {"age": a, "other": a})
    with pytest.raises(ValueError, match="values"):
        snr_db(np.ones(3), np.ones(4))


def test_several_outputs_worst_under_plain_names_and_each_by_output():
    ref = {"age": np.ones((10, 1)), "kind": np.ones((10, 3))}
    out = {"age": ref["age"] + 0.1, "kind": ref["kind"] + 0.01}
    m = fidelity(ref, out)
    assert m["snr_db"] == pytest.approx(20.0) == m["snr_db/age"]
    assert m["snr_db/kind"] == pytest.approx(40.0)
    assert m["max_abs_error"] == pytest.approx(0.1)
    assert set(fidelity({"y": ref["age"]}, {"y": out["age"]})) == {"snr_db", "cosine_similarity", "max_abs_error"}


def test_fidelity_is_declared_once_and_logged_per_runtime():
    for name, better in (("snr_db", "max"), ("cosine_similarity", "max"), ("max_abs_error", "min")):
        assert METRICS[name].better == better
        assert name in AXIS_METRICS
