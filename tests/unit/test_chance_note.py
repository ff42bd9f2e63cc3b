"""A float baseline at chance level says so on every variant (its accuracy deltas say nothing)."""

from __future__ import annotations

import numpy as np

from workbench.analysis.significance import chance_note


def test_a_baseline_at_chance_is_named():
    labels = np.repeat(np.arange(10), 10)  # 100 samples, 10 balanced classes: the most frequent is 10%
    note = chance_note(0.08, labels)
    assert "8.0% on 100 test samples" in note and "(10.0%)" in note and "learned nothing" in note
    assert chance_note(0.15, labels)  # 15/100: its 95% Wilson interval (9.3-23.3%) still holds 10%
    assert chance_note(0.16, labels) == ""  # 16/100: 10.1-24.4%, above always answering one class


def test_a_baseline_that_learned_is_not_named():
    labels = np.repeat(np.arange(10), 10)
    assert chance_note(0.25, labels) == ""
    assert chance_note(0.97, labels) == ""


def test_the_most_frequent_class_is_the_bar_not_one_over_classes():
    labels = np.array([0] * 90 + [1] * 10)  # always answering 0 scores 90%
    assert chance_note(0.88, labels)
    assert chance_note(0.99, labels) == ""


def test_no_note_without_class_labels_or_accuracy():
    assert chance_note(float("nan"), np.arange(10)) == ""
    assert chance_note(0.1, np.zeros((10, 2), np.float32)) == ""
    assert chance_note(0.1, np.array([], np.int64)) == ""
