"""Inter-rater agreement of a set: Krippendorff's α (``krippendorff`` package) and Fleiss' κ (``statsmodels``).

Labels are nominal categories: the digits 0-9 and "not a digit". Only the kept raters' labels count (raters left
out by the attention check are not passed in). Both libraries are imported when first needed, so reading
collections does not pay for them.
"""

from __future__ import annotations

import math
import warnings
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

import numpy as np

from core.labels import NOT_A_DIGIT

CATEGORIES: Final = (NOT_A_DIGIT, *range(10))
"""Every label a rater can give, in the column order of Fleiss' table."""


@dataclass(frozen=True)
class AgreementStats:
    """Agreement of the raters of one set.

    ``krippendorff_alpha``: nominal α over every item with at least two labels (items may have different raters);
    ``fleiss_kappa``: κ over the ``fleiss_items`` items rated by the most common number (``fleiss_raters`` >= 2)
    of raters, as Fleiss' κ needs the same count per item; either is ``None`` when undefined (fewer than two
    labels per item, or a single category used throughout). ``raters_per_item``: number of kept raters ->
    number of items of the set with that many.
    """

    krippendorff_alpha: float | None
    fleiss_kappa: float | None
    fleiss_items: int
    fleiss_raters: int
    raters_per_item: dict[int, int]

    @property
    def n_items_rated(self) -> int:
        return sum(count for n, count in self.raters_per_item.items() if n > 0)

    @property
    def mean_raters(self) -> float | None:
        rated = {n: c for n, c in self.raters_per_item.items() if n > 0}
        return sum(n * c for n, c in rated.items()) / sum(rated.values()) if rated else None

    def to_json(self) -> dict[str, Any]:
        return {
            "krippendorff_alpha": self.krippendorff_alpha,
            "fleiss_kappa": self.fleiss_kappa,
            "fleiss_items": self.fleiss_items,
            "fleiss_raters": self.fleiss_raters,
            "raters_per_item": {str(n): c for n, c in sorted(self.raters_per_item.items())},
            "mean_raters_per_item": self.mean_raters,
            "n_items_rated": self.n_items_rated,
        }


def agreement_stats(labels: Sequence[Mapping[str, int]]) -> AgreementStats:
    """Agreement over items given as ``rater -> label`` maps (the kept raters only; empty maps are unrated)."""
    per_item = Counter(len(item) for item in labels)
    alpha = _krippendorff([item for item in labels if len(item) >= 2])
    counts = Counter(len(item) for item in labels if len(item) >= 2)
    kappa: float | None = None
    fleiss_items = fleiss_raters = 0
    if counts:
        fleiss_raters, fleiss_items = max(counts.items(), key=lambda pair: (pair[1], pair[0]))
        kappa = _fleiss([item for item in labels if len(item) == fleiss_raters])
    return AgreementStats(alpha, kappa, fleiss_items, fleiss_raters, dict(sorted(per_item.items())))


def _krippendorff(labels: Sequence[Mapping[str, int]]) -> float | None:
    if not labels:
        return None
    import krippendorff

    raters = sorted({rater for item in labels for rater in item})
    data = np.full((len(raters), len(labels)), np.nan)
    row = {rater: k for k, rater in enumerate(raters)}
    for column, item in enumerate(labels):
        for rater, label in item.items():
            data[row[rater], column] = CATEGORIES.index(label)
    if len(np.unique(data[~np.isnan(data)])) < 2:
        return None  # one category throughout: α is undefined (the library refuses it)
    return _finite(krippendorff.alpha(reliability_data=data, level_of_measurement="nominal"))


def _fleiss(labels: Sequence[Mapping[str, int]]) -> float | None:
    from statsmodels.stats.inter_rater import fleiss_kappa

    table = np.zeros((len(labels), len(CATEGORIES)), dtype=np.int64)
    for k, item in enumerate(labels):
        for label in item.values():
            table[k, CATEGORIES.index(label)] += 1
    if np.count_nonzero(table.sum(axis=0)) < 2:
        return None  # chance agreement is 1: κ is 0/0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return _finite(fleiss_kappa(table, method="fleiss"))


def _finite(value: object) -> float | None:
    number = float(value)  # type: ignore[arg-type]
    return number if math.isfinite(number) else None
