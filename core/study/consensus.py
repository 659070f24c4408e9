"""Human consensus on one image and the clean-digit attention check of each rater.

Pure functions over plain data (labels are ints ``0..9`` or :data:`core.labels.NOT_A_DIGIT`), so they are
usable without collections, models or files.

An item is *successful* (the paper's Section 4.1) when at least ``threshold`` of its (kept) raters give one
label, that label differs from the original test label, and it is a digit: Definition 2 requires
``O(x*) != ⊥``, so a "not a digit" consensus counts as a change but not as a success unless
``not_a_digit_succeeds=True``. Items with no per-rater answers but a single imported human label (the
paper's published sets) use that label as the consensus with agreement 1.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Final, Literal

from core.errors import StudyError
from core.labels import NOT_A_DIGIT, is_valid_label

DEFAULT_THRESHOLD: Final = 0.7
"""Fraction of raters that must give one label for a consensus (the paper uses 70%)."""

DEFAULT_MIN_RATER_ACCURACY: Final = 0.8
"""Raters who get fewer of the control (clean) digits right are left out of consensus and rates by default."""

_EPS: Final = 1e-9

ConsensusSource = Literal["raters", "imported", "none"]


@dataclass(frozen=True)
class Consensus:
    """The human verdict on one image.

    ``counts`` maps label -> number of kept raters giving it; ``plurality`` is the most frequent label, or
    ``None`` when there are no labels or the top count is tied; ``agreement`` is the plurality's share of
    the kept raters (0.0 when there are none); ``consensus`` says whether that share reaches the threshold.
    """

    counts: dict[int, int]
    n_raters: int
    plurality: int | None
    agreement: float
    consensus: bool
    changed: bool
    """A consensus on a label other than the original (``not a digit`` included)."""
    successful: bool
    """``changed`` and, unless allowed, not ``not a digit``: an invariance example humans relabeled."""
    source: ConsensusSource

    @property
    def human_label(self) -> int | None:
        """The consensus label, or ``None`` when the raters did not reach the threshold."""
        return self.plurality if self.consensus else None


def check_threshold(threshold: float) -> float:
    """Return ``threshold`` if it is in (0, 1], else raise :class:`StudyError`."""
    if not 0.0 < threshold <= 1.0:
        raise StudyError(f"consensus threshold {threshold} must be in (0, 1]")
    return float(threshold)


def item_consensus(
    human_labels: Mapping[str, int],
    original_label: int | None,
    *,
    threshold: float = DEFAULT_THRESHOLD,
    imported_label: int | None = None,
    excluded_raters: Iterable[str] = (),
    not_a_digit_succeeds: bool = False,
) -> Consensus:
    """Consensus of the raters in ``human_labels`` (rater -> label) on one image whose test label is ``original_label``.

    Raters in ``excluded_raters`` are ignored. When no rater is left and ``imported_label`` is given, that label
    is the consensus (agreement 1.0, source ``"imported"``). With ``original_label`` ``None`` (not known) nothing
    counts as changed or successful, but the consensus label is still found. Raises :class:`StudyError` for a
    label outside 0..9 / NOT_A_DIGIT or a threshold outside (0, 1].
    """
    check_threshold(threshold)
    excluded = set(excluded_raters)
    kept = [label for rater, label in human_labels.items() if rater not in excluded]
    for label in [*kept, *([] if imported_label is None else [imported_label])]:
        if not is_valid_label(int(label)):
            raise StudyError(f"human label {label} is not 0-9 or {NOT_A_DIGIT} (not a digit)")
    if kept:
        counts = Counter(int(label) for label in kept)
        n = len(kept)
        source: ConsensusSource = "raters"
    elif imported_label is not None:
        counts = Counter({int(imported_label): 1})
        n = 1
        source = "imported"
    else:
        return Consensus({}, 0, None, 0.0, False, False, False, "none")
    ranked = counts.most_common()
    top_label, top_count = ranked[0]
    tied = len(ranked) > 1 and ranked[1][1] == top_count
    plurality = None if tied else top_label
    agreement = top_count / n
    reached = plurality is not None and top_count >= threshold * n - _EPS
    changed = reached and original_label is not None and plurality != original_label
    successful = changed and (not_a_digit_succeeds or plurality != NOT_A_DIGIT)
    return Consensus(dict(sorted(counts.items())), n, plurality, agreement, reached, changed, successful, source)


@dataclass(frozen=True)
class RaterCheck:
    """One rater's accuracy on the unmodified test digits (controls) mixed into their sessions."""

    rater: str
    n_clean: int
    n_correct: int
    excluded: bool = False
    min_accuracy: float | None = None

    @property
    def accuracy(self) -> float | None:
        """``n_correct / n_clean``, or ``None`` when the rater saw no clean digit."""
        return self.n_correct / self.n_clean if self.n_clean else None

    @property
    def reason(self) -> str:
        """Why the rater is left out ("" when kept)."""
        if not self.excluded:
            return ""
        if not self.n_clean:
            return "answered no control digit, so their attention cannot be checked"
        return (
            f"{self.n_correct} of {self.n_clean} control digits right ({100 * (self.accuracy or 0.0):.1f}%), "
            f"below the minimum {100 * (self.min_accuracy or 0.0):.0f}%"
        )


def check_min_accuracy(min_accuracy: float | None) -> float | None:
    """Return ``min_accuracy`` if it is ``None`` or in [0, 1], else raise :class:`StudyError`."""
    if min_accuracy is not None and not 0.0 <= min_accuracy <= 1.0:
        raise StudyError(f"minimum rater accuracy {min_accuracy} must be in [0, 1]")
    return min_accuracy


def check_consensus_options(threshold: float | None, min_rater_accuracy: float | None) -> None:
    """Raise :class:`StudyError` unless ``threshold`` (when given) is in (0, 1] and ``min_rater_accuracy`` (when
    given) in [0, 1]: the options every consensus is made with, checked before any work."""
    if threshold is not None:
        check_threshold(threshold)
    check_min_accuracy(min_rater_accuracy)


def rater_checks(
    clean_answers: Mapping[str, tuple[int, int]], *, min_accuracy: float | None = None
) -> dict[str, RaterCheck]:
    """Attention check per rater from ``rater -> (n_clean, n_correct)``.

    A rater is ``excluded`` when ``min_accuracy`` is given and positive and their clean accuracy is below it; a
    rater with no clean answers is then excluded too (there is nothing to vouch for them).
    """
    check_min_accuracy(min_accuracy)
    checks = {}
    for rater, (n_clean, n_correct) in sorted(clean_answers.items()):
        if n_correct < 0 or n_correct > n_clean:
            raise StudyError(f"rater {rater!r}: {n_correct} correct of {n_clean} clean answers is impossible")
        excluded = bool(min_accuracy and (not n_clean or n_correct / n_clean < min_accuracy - _EPS))
        checks[rater] = RaterCheck(rater, n_clean, n_correct, excluded, min_accuracy)
    return checks
