"""Rows just outside the ball still get the exact projection; a fractional ℓ0 budget keeps floor(ε) changes."""

from __future__ import annotations

import numpy as np
import pytest

from core.budget import distance, project


@pytest.mark.parametrize("excess", [1e-9, 1e-7, 5e-7, 2e-6])
def test_linf_rows_slightly_outside_are_projected_exactly(excess: float) -> None:
    rng = np.random.default_rng(0)
    original = rng.uniform(0.35, 0.6, (3, 28, 28))
    edited = original.copy()
    edited[:, 5, 5] += 0.3 + excess
    edited[:, 6, 6] -= 0.3 + excess
    edited[0] = original[0] + 0.1  # a row well inside stays as it is
    result = project(original, edited, "linf", 0.3)
    assert np.array_equal(result[0], edited[0])
    np.testing.assert_allclose(result[1:, 5, 5], original[1:, 5, 5] + 0.3, rtol=0, atol=1e-12)
    np.testing.assert_allclose(result[1:, 6, 6], original[1:, 6, 6] - 0.3, rtol=0, atol=1e-12)
    assert (distance(original, result, "linf") <= 0.3).all()


def test_fractional_l0_budget_is_rounded_down() -> None:
    original = np.zeros((28, 28))
    edited = original.copy()
    edited[0, :5] = [0.9, 0.8, 0.7, 0.6, 0.5]
    result = project(original, edited, "l0", 2.5)
    assert float(distance(original, result, "l0")) == 2.0
    assert np.array_equal(result[0, :2], edited[0, :2]) and not result[0, 2:].any()
    result = project(original, edited, "l0", 2.9999)
    assert float(distance(original, result, "l0")) == 2.0
