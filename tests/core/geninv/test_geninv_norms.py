"""GenInv's per-norm searches: which norms it supports, how it aligns for the others, and its ε rules."""

from __future__ import annotations

import math
from typing import Any

import pytest

from core.errors import BudgetError
from core.geninv import SUPPORTED_NORMS
from core.geninv.norms import alignment_search, search_for


def test_supported_norms_and_their_searches() -> None:
    assert SUPPORTED_NORMS == ("l0", "linf")
    assert search_for("l0").shapes and not search_for("l0").eps_required and search_for("l0").bench_eps == 25.0
    assert search_for("l0").default_eps == 25.0 and search_for("linf").default_eps is None
    assert not search_for("linf").shapes and search_for("linf").eps_required and search_for("linf").bench_eps == 0.3
    with pytest.raises(BudgetError, match="GenInv supports the norms l0, linf, not 'l2'"):
        search_for("l2")
    with pytest.raises(BudgetError, match="unknown norm"):
        search_for("l3")


def test_any_norm_aligns_with_the_l0_or_the_linf_objective() -> None:
    assert {norm: alignment_search(norm).name for norm in ("l0", "l1", "l2", "linf")} == {
        "l0": "l0", "l1": "linf", "l2": "linf", "linf": "linf",
    }  # fmt: skip


@pytest.mark.parametrize(
    ("norm", "eps", "message"),
    [
        ("l0", 2.5, "whole number of pixels"),
        ("l0", 0.0, "whole number of pixels"),
        ("l0", math.nan, "whole number of pixels"),
        ("l0", 1000.0, None),
        ("l0", 1, None),
        ("linf", 0.0, "> 0"),
        ("linf", -0.1, "> 0"),
        ("linf", math.inf, "> 0"),
        ("linf", 1.5, r"\(0, 1\]"),
        ("linf", 1.0, None),
        ("linf", 0.3, None),
    ],
)
def test_check_eps(norm: str, eps: Any, message: str | None) -> None:
    if message is None:
        assert search_for(norm).check_eps(eps) == float(eps)
        return
    with pytest.raises(BudgetError, match=message) as refused:
        search_for(norm).check_eps(eps)
    assert str(refused.value).startswith(f"GenInv {norm} budget eps ")


def test_budget_after_snapping_to_the_uint8_grid() -> None:
    assert search_for("l0").budget_after_snapping(25.0, 1 / 510) == 25.0  # changes <= 1/510 are free in ℓ0
    assert search_for("linf").budget_after_snapping(0.3, 0.001) == pytest.approx(0.299)
    assert search_for("linf").budget_after_snapping(0.001, 0.002) == 0.0
