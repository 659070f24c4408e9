"""The sensitivity check: it refuses ℓ0 and bad budgets with one line, and its flips stay within the budget."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
import torch

from core.budget import distance
from core.errors import BudgetError
from core.sensitivity import ATTACK_NAMES, check


def _linear_model() -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(784, 10))


def _image() -> np.ndarray:
    return np.random.default_rng(0).random((28, 28)).astype(np.float32)


def test_attack_names_per_norm() -> None:
    assert ATTACK_NAMES == {"l1": "SLIDE ℓ1", "l2": "PGD ℓ2", "linf": "PGD ℓ∞"}


@pytest.mark.parametrize(("norm", "eps"), [("linf", 0.3), ("l2", 4.0), ("l1", 30.0), ("linf", 0.0)])
def test_flips_stay_within_the_budget(norm: str, eps: float) -> None:
    result = check({"tiny": _linear_model()}, _image(), norm, eps, steps=10, restarts=1)["tiny"]
    assert float(distance(_image(), result.adversarial, norm)) <= eps + 1e-5
    assert result.flipped == (result.to_label != result.label)
    if eps == 0:
        assert not result.flipped


@pytest.mark.parametrize(
    ("norm", "eps", "message"),
    [
        ("l0", 5.0, "attacks"),
        ("linf", math.nan, "ε must be a finite number"),
        ("l2", -1.0, "ε must be a finite number"),
        ("l1", math.inf, "ε must be a finite number"),
        ("linf", True, "ε must be a number"),
    ],
)
def test_bad_norms_and_budgets_are_refused(norm: str, eps: Any, message: str) -> None:
    with pytest.raises(BudgetError, match=message) as refused:
        check({"tiny": _linear_model()}, _image(), norm, eps)
    assert "\n" not in str(refused.value)
