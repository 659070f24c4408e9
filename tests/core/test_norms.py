"""Each Norm's attack steps (direction, random start, step sizes, fast projection) and its ε validation, as tables."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
import torch

from core.attacks import ATTACK_NORMS, pgd
from core.budget import NORMS, distance, get_norm, project
from core.errors import BudgetError

SHAPE = (6, 1, 28, 28)
EPS = {"l0": 12.0, "l1": 8.0, "l2": 1.5, "linf": 0.2}
TOLERANCE = 1e-5


def _images(seed: int) -> torch.Tensor:
    """Digit-like images: mostly black, some white, some grey (saturated pixels exercise the box)."""
    generator = torch.Generator().manual_seed(seed)
    images = torch.rand(SHAPE, generator=generator)
    images[images < 0.5] = 0.0
    images[images > 0.9] = 1.0
    return images


def _gradient(seed: int) -> torch.Tensor:
    return torch.randn(SHAPE, generator=torch.Generator().manual_seed(seed))


def _dual(gradient: torch.Tensor, norm: str) -> torch.Tensor:
    """max <d, g> over ||d|| <= 1: the dual norm of each gradient (ℓ∞ <-> ℓ1, ℓ2 <-> ℓ2)."""
    flat = gradient.flatten(1)
    return {"linf": flat.abs().sum(1), "l2": flat.norm(dim=1), "l1": flat.abs().amax(1)}[norm]


def test_attack_norms_are_every_norm_but_l0() -> None:
    assert sorted(ATTACK_NORMS) == ["l1", "l2", "linf"]
    assert all(NORMS[name].attack_label for name in ATTACK_NORMS) and NORMS["l0"].attack_label is None


@pytest.mark.parametrize("norm", ["linf", "l2"])
@pytest.mark.parametrize("seed", range(3))
def test_direction_has_unit_size_and_steepest_ascent(norm: str, seed: int) -> None:
    chosen = get_norm(norm)
    gradient = _gradient(seed)
    direction = chosen.steepest_ascent(gradient, _images(seed))
    assert direction.shape == gradient.shape
    size = chosen.distance(direction.flatten(1).double())
    torch.testing.assert_close(size, torch.ones_like(size), atol=TOLERANCE, rtol=0)
    ascent = (direction * gradient).flatten(1).sum(1)
    torch.testing.assert_close(ascent, _dual(gradient, norm), rtol=TOLERANCE, atol=0)


@pytest.mark.parametrize("seed", range(3))
def test_l1_direction_is_sparse_unit_and_respects_the_box(seed: int) -> None:
    l1 = get_norm("l1")
    gradient, point = _gradient(seed), _images(seed)
    direction = l1.steepest_ascent(gradient, point, sparsity=99.0)
    flat = direction.flatten(1)
    torch.testing.assert_close(flat.abs().sum(1), torch.ones(SHAPE[0]), atol=TOLERANCE, rtol=0)
    assert int((flat != 0).sum(1).max()) <= math.ceil(flat.shape[1] * 0.01)  # the top 1% (no ties in randn)
    assert bool(((direction * gradient) >= 0).all())  # every moved coordinate ascends
    pushing_out = ((point <= 0) & (gradient < 0)) | ((point >= 1) & (gradient > 0))
    assert not bool(direction[pushing_out].any())
    # with one coordinate left, SLIDE is the exact steepest ℓ1 ascent inside the box: the largest free |g|
    single = l1.steepest_ascent(gradient, torch.full(SHAPE, 0.5), sparsity=100.0)
    torch.testing.assert_close((single * gradient).flatten(1).sum(1), _dual(gradient, "l1"), rtol=TOLERANCE, atol=0)


@pytest.mark.parametrize("norm", ATTACK_NORMS)
@pytest.mark.parametrize("seed", range(3))
def test_random_start_is_in_the_ball_and_the_box_and_seeded(norm: str, seed: int) -> None:
    chosen, images = get_norm(norm), _images(seed)
    start = chosen.random_start(images, EPS[norm], torch.Generator().manual_seed(seed))
    assert start.shape == images.shape and start.dtype == images.dtype
    assert float(start.min()) >= 0.0 and float(start.max()) <= 1.0
    assert bool((distance(images, start, norm) <= EPS[norm] + TOLERANCE).all())
    assert bool((distance(images, start, norm) > 0).all())  # it does move
    again = chosen.random_start(images, EPS[norm], torch.Generator().manual_seed(seed))
    assert torch.equal(start, again)


def test_only_l1_attacks_start_their_first_restart_at_the_image() -> None:
    assert {name: NORMS[name].random_first_start for name in ATTACK_NORMS} == {"l1": False, "l2": True, "linf": True}


@pytest.mark.parametrize("norm", sorted(NORMS))
@pytest.mark.parametrize("seed", range(4))
def test_fast_projection_equals_the_exact_projection(norm: str, seed: int) -> None:
    chosen, images = get_norm(norm), _images(seed)
    scale = {"l0": 0.5, "l1": 0.2, "l2": 0.2, "linf": 0.4}[norm]
    edited = images + scale * _gradient(seed + 100)  # far outside the ball and the box in places
    fast = chosen.project_fast(images, edited, EPS[norm])
    exact = project(images, edited, norm, EPS[norm])
    assert fast.shape == exact.shape and fast.dtype == exact.dtype
    torch.testing.assert_close(fast, exact, atol=1e-6, rtol=0)
    assert float(fast.min()) >= 0.0 and float(fast.max()) <= 1.0
    assert bool((distance(images, fast, norm) <= EPS[norm] + 1e-6).all())


def test_step_sizes_and_their_description() -> None:
    for norm in ("l1", "linf"):
        assert get_norm(norm).step_sizes(0.4, 10) == pytest.approx([0.1] * 10)
        assert get_norm(norm).describe_steps(10) == "2.5·ε/10"
    assert get_norm("l2").step_sizes(2.0, 8) == pytest.approx([1.0] * 4 + [0.5] * 2 + [0.25] * 2)
    assert get_norm("l2").describe_steps(8) == "ε/2 halved at 50% and 75%"


def test_l0_has_no_gradient_attack() -> None:
    l0, images = get_norm("l0"), _images(0)
    with pytest.raises(BudgetError, match="no gradient attack"):
        l0.steepest_ascent(_gradient(0), images)
    with pytest.raises(BudgetError, match="no gradient attack"):
        l0.random_start(images, 5.0)
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(784, 10))
    with pytest.raises(BudgetError, match="PGD supports"):
        pgd(model, images, torch.zeros(SHAPE[0], dtype=torch.long), norm="l0", eps=5.0, steps=2)


VALIDATION = [
    # value, positive, norms that accept it
    (0, False, {"l0", "l1", "l2", "linf"}),
    (0.0, True, set()),
    (3, True, {"l0", "l1", "l2", "linf"}),
    (np.int64(25), True, {"l0", "l1", "l2", "linf"}),
    (np.float32(0.25), True, {"l1", "l2", "linf"}),
    (2.5, False, {"l1", "l2", "linf"}),
    (1e-9, True, {"l1", "l2", "linf"}),
    (-1.0, False, set()),
    (-1, True, set()),
    (math.nan, False, set()),
    (math.inf, False, set()),
    (-math.inf, True, set()),
    (True, False, set()),
    ("3", False, set()),
    (None, False, set()),
]


@pytest.mark.parametrize("norm", sorted(NORMS))
@pytest.mark.parametrize(("value", "positive", "accepting"), VALIDATION)
def test_validate_eps_table(norm: str, value: Any, positive: bool, accepting: set[str]) -> None:
    chosen = get_norm(norm)
    if norm in accepting:
        result = chosen.validate_eps(value, positive=positive, where="the test's ε")
        assert isinstance(result, float) and result == float(value)
        return
    with pytest.raises(BudgetError) as refused:
        chosen.validate_eps(value, positive=positive, where="the test's ε")
    message = str(refused.value)
    assert message.startswith("the test's ε ") and "\n" not in message
    if chosen.whole_pixels and isinstance(value, (int, float)) and not isinstance(value, bool):
        assert "whole number of pixels" in message
