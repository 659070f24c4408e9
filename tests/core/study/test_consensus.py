"""Consensus, threshold and attention check on synthetic raters with known answers."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.errors import StudyError
from core.labels import NOT_A_DIGIT
from core.study.consensus import item_consensus, rater_checks


def raters(*labels: int) -> dict[str, int]:
    return {f"r{i}": label for i, label in enumerate(labels)}


def test_seven_of_ten_reach_the_default_threshold_exactly() -> None:
    c = item_consensus(raters(5, 5, 5, 5, 5, 5, 5, 3, 3, 8), original_label=3)
    assert c.counts == {3: 2, 5: 7, 8: 1}
    assert c.n_raters == 10
    assert c.plurality == 5
    assert c.agreement == pytest.approx(0.7)
    assert c.consensus and c.changed and c.successful
    assert c.human_label == 5
    assert c.source == "raters"


def test_threshold_is_configurable() -> None:
    labels = raters(5, 5, 5, 5, 3, 3)  # 4/6 = 0.667
    assert not item_consensus(labels, 3).successful
    assert item_consensus(labels, 3).human_label is None
    assert item_consensus(labels, 3, threshold=0.6).successful
    assert not item_consensus(raters(5, 5, 5, 5, 5, 5, 5, 3, 3, 8), 3, threshold=0.71).successful


def test_consensus_on_the_original_label_is_not_a_success() -> None:
    c = item_consensus(raters(3, 3, 3, 3), original_label=3)
    assert c.consensus and not c.changed and not c.successful
    assert c.agreement == 1.0


def test_tie_has_no_plurality() -> None:
    c = item_consensus(raters(1, 1, 2, 2), original_label=7, threshold=0.5)
    assert c.plurality is None and not c.consensus and not c.successful
    assert c.agreement == 0.5


def test_not_a_digit_consensus_changes_the_label_but_is_not_a_success_by_default() -> None:
    labels = raters(NOT_A_DIGIT, NOT_A_DIGIT, NOT_A_DIGIT, 4)
    c = item_consensus(labels, original_label=4)
    assert c.changed and not c.successful and c.human_label == NOT_A_DIGIT
    assert item_consensus(labels, original_label=4, not_a_digit_succeeds=True).successful


def test_imported_single_label_is_the_consensus() -> None:
    changed = item_consensus({}, original_label=2, imported_label=7)
    assert changed.successful and changed.source == "imported" and changed.agreement == 1.0
    same = item_consensus({}, original_label=2, imported_label=2)
    assert same.consensus and not same.successful
    # per-rater answers take precedence over the imported label
    rated = item_consensus(raters(2, 2, 2), original_label=2, imported_label=7)
    assert rated.source == "raters" and not rated.successful


def test_no_labels_at_all() -> None:
    c = item_consensus({}, original_label=2)
    assert c.source == "none" and c.n_raters == 0 and not c.successful and c.plurality is None


def test_excluded_raters_are_ignored() -> None:
    labels = {"good1": 6, "good2": 6, "bad1": 1, "bad2": 1}
    assert not item_consensus(labels, 1).consensus
    c = item_consensus(labels, 1, excluded_raters={"bad1", "bad2"})
    assert c.n_raters == 2 and c.successful and c.plurality == 6


def test_invalid_inputs_raise_study_errors() -> None:
    with pytest.raises(StudyError, match="threshold"):
        item_consensus(raters(1), 2, threshold=0.0)
    with pytest.raises(StudyError, match="label 11"):
        item_consensus(raters(11), 2)
    with pytest.raises(StudyError, match="minimum rater accuracy"):
        rater_checks({}, min_accuracy=1.5)
    with pytest.raises(StudyError, match="impossible"):
        rater_checks({"a": (3, 4)})


def test_attention_check_excludes_raters_below_the_minimum() -> None:
    checks = rater_checks({"ada": (20, 19), "bob": (20, 14), "cy": (0, 0)}, min_accuracy=0.9)
    assert checks["ada"].accuracy == pytest.approx(0.95) and not checks["ada"].excluded
    assert checks["bob"].accuracy == pytest.approx(0.7) and checks["bob"].excluded
    assert checks["cy"].accuracy is None and checks["cy"].excluded  # no control answered: cannot escape
    assert "no control digit" in checks["cy"].reason and "70.0%" in checks["bob"].reason
    assert not any(c.excluded for c in rater_checks({"bob": (20, 14)}).values())
    # exactly at the minimum is kept
    assert not rater_checks({"dee": (10, 9)}, min_accuracy=0.9)["dee"].excluded


labels_strategy = st.lists(st.integers(min_value=-1, max_value=9), min_size=1, max_size=25)


@settings(max_examples=150, deadline=None)
@given(labels=labels_strategy, original=st.integers(0, 9), threshold=st.floats(0.05, 1.0), seed=st.randoms())
def test_consensus_properties(labels: list[int], original: int, threshold: float, seed: object) -> None:
    c = item_consensus(raters(*labels), original, threshold=threshold)
    top = max(labels.count(label) for label in set(labels))
    assert c.n_raters == len(labels)
    assert sum(c.counts.values()) == len(labels)
    assert c.agreement == pytest.approx(top / len(labels))
    if c.successful:
        assert c.plurality is not None and c.plurality != original and c.plurality != NOT_A_DIGIT
        assert labels.count(c.plurality) >= threshold * len(labels) - 1e-9
    if c.plurality is not None:
        assert labels.count(c.plurality) == top and [labels.count(x) for x in set(labels)].count(top) == 1
    # the order in which raters answered does not matter
    shuffled = list(labels)
    seed.shuffle(shuffled)  # type: ignore[attr-defined]
    assert item_consensus(raters(*shuffled), original, threshold=threshold) == c
