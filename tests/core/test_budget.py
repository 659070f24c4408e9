"""Exact projections: feasibility, idempotence, fixed points and optimality, for every norm (hypothesis)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from core.budget import L0_THRESHOLD, NORMS, distance, project, quantize, within_budget
from core.errors import BudgetError

TOLERANCE = 1e-6
EPS_RANGES = {"l0": (0.0, 60.0), "l1": (0.0, 40.0), "l2": (0.0, 6.0), "linf": (0.0, 1.0)}


@st.composite
def problems(draw: st.DrawFn, norm: str) -> tuple[np.ndarray, np.ndarray, float]:
    """An original image (with saturated pixels), an edit of varied sparsity and scale, and a budget."""
    seed = draw(st.integers(0, 2**32 - 1))
    size = draw(st.sampled_from([(28, 28), (5, 7), (1, 3)]))
    scale = draw(st.sampled_from([1e-3, 0.05, 0.3, 1.0, 3.0]))
    density = draw(st.floats(0.0, 1.0))
    low, high = EPS_RANGES[norm]
    eps = draw(st.floats(low, high))
    if norm == "l0":
        eps = float(int(eps))
    rng = np.random.default_rng(seed)
    original = rng.random(size)
    original[rng.random(size) < 0.3] = 0.0
    original[rng.random(size) < 0.1] = 1.0
    change = rng.normal(0.0, scale, size) * (rng.random(size) < density)
    return original.astype(np.float32), (original + change).astype(np.float32), eps


def _closer_or_equal(original: np.ndarray, edited: np.ndarray, projected: np.ndarray, other: np.ndarray) -> None:
    mine = np.linalg.norm((projected - edited).astype(np.float64))
    theirs = np.linalg.norm((other - edited).astype(np.float64))
    assert mine <= theirs + 1e-5


def _scale_then_clip(original: np.ndarray, edited: np.ndarray, norm: str, eps: float) -> np.ndarray:
    delta = edited.astype(np.float64) - original
    size = float(distance(original, edited, norm))
    if size > eps and norm != "l0":
        delta = delta * (eps / size)
    return np.clip(original + delta, 0.0, 1.0)


def _random_feasible(original: np.ndarray, edited: np.ndarray, norm: str, eps: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if norm == "l0":  # keep a random k of the counted changes, revert the others (the ℓ0 contract)
        boxed = np.clip(edited, 0, 1).astype(np.float32)
        counted = np.flatnonzero(np.abs(boxed - original) > L0_THRESHOLD)
        revert = rng.permutation(counted)[int(eps) :]
        other = boxed.copy().ravel()
        other[revert] = original.ravel()[revert]
        return other.reshape(original.shape)
    candidate = np.clip(original + rng.normal(0, 0.5, original.shape), 0, 1).astype(np.float32)
    return project(original, candidate, norm, eps)


@pytest.mark.parametrize("norm", sorted(NORMS))
def test_projection_properties(norm: str) -> None:
    @settings(max_examples=500, deadline=None, derandomize=True)
    @given(problems(norm), st.integers(0, 1000))
    def check(problem: tuple[np.ndarray, np.ndarray, float], seed: int) -> None:
        original, edited, eps = problem
        projected = project(original, edited, norm, eps)
        assert projected.shape == edited.shape and projected.dtype == np.float32
        # feasible
        assert projected.min() >= 0.0 and projected.max() <= 1.0
        assert float(distance(original, projected, norm)) <= eps  # exactly, after rounding to float32
        # idempotent, and feasible points are left where they are
        again = project(original, projected, norm, eps)
        np.testing.assert_allclose(again, projected, atol=TOLERANCE)
        # no farther from the edit than other feasible points
        if norm != "l0":
            _closer_or_equal(original, edited, projected, _scale_then_clip(original, edited, norm, eps))
        _closer_or_equal(original, edited, projected, _random_feasible(original, edited, norm, eps, seed))

    check()


@pytest.mark.parametrize("norm", ["l1", "l2"])
def test_matches_kkt_bisection_reference(norm: str) -> None:
    """The closed-form solution equals a slow, obviously-correct bisection on the KKT multiplier."""
    rng = np.random.default_rng(7)
    for _ in range(50):
        original = rng.random(30) * (rng.random(30) < 0.6)
        edited = original + rng.normal(0, 0.6, 30)
        eps = float(rng.uniform(0.05, 3.0))
        expected = _bisection_reference(original, edited, norm, eps)
        result = project(original[None], edited[None], norm, eps)[0]
        np.testing.assert_allclose(result, expected, atol=1e-9)


def _bisection_reference(original: np.ndarray, edited: np.ndarray, norm: str, eps: float) -> np.ndarray:
    delta, low_box, high_box = edited - original, -original, 1 - original

    def at(value: float) -> np.ndarray:
        if norm == "l2":
            return np.clip(value * delta, low_box, high_box)
        return np.clip(np.sign(delta) * np.maximum(np.abs(delta) - value, 0), low_box, high_box)

    size = (lambda d: np.linalg.norm(d)) if norm == "l2" else (lambda d: np.abs(d).sum())
    if size(at(1.0 if norm == "l2" else 0.0)) <= eps:
        return original + at(1.0 if norm == "l2" else 0.0)
    low, high = (0.0, 1.0) if norm == "l2" else (0.0, float(np.abs(delta).max()))
    for _ in range(200):
        middle = (low + high) / 2
        feasible = size(at(middle)) <= eps
        if norm == "l2":
            low, high = (middle, high) if feasible else (low, middle)
        else:
            low, high = (low, middle) if feasible else (middle, high)
    return original + at(low if norm == "l2" else high)


def test_l0_is_optimal_by_enumeration() -> None:
    """On 3x3 images, no subset of kept changes is closer than the projection."""
    rng = np.random.default_rng(3)
    for _ in range(100):
        original = rng.random((3, 3)).round(2)
        edited = original + rng.normal(0, 0.7, (3, 3))
        budget = int(rng.integers(0, 5))
        projected = project(original, edited, "l0", budget)
        best = np.inf
        boxed = np.clip(edited, 0, 1)
        for keep in itertools.combinations(range(9), budget):
            candidate = original.copy().ravel()
            candidate[list(keep)] = boxed.ravel()[list(keep)]
            best = min(best, float(np.linalg.norm(candidate - edited.ravel())))
        assert np.linalg.norm(projected - edited) <= best + 1e-9


def test_l0_counts_only_changes_above_half_a_uint8_step() -> None:
    original = np.zeros((28, 28), np.float32)
    edited = original.copy()
    edited[0, :5] = L0_THRESHOLD * 0.9
    edited[1, :3] = 0.5
    assert float(distance(original, edited, "l0")) == 3.0
    projected = project(original, edited, "l0", 2)
    np.testing.assert_array_equal(projected[0, :5], edited[0, :5])  # free tiny changes stay
    assert int((projected[1, :3] > 0).sum()) == 2


def test_torch_batches_keep_type_device_and_shape() -> None:
    original = torch.rand(4, 1, 28, 28)
    edited = original + 0.5 * torch.randn_like(original)
    projected = project(original, edited, "l2", 1.5)
    assert isinstance(projected, torch.Tensor) and projected.shape == original.shape
    assert projected.dtype == torch.float32
    sizes = distance(original, projected, "l2")
    assert sizes.shape == (4, 1) and bool((sizes <= 1.5 + TOLERANCE).all())


def test_per_image_budgets() -> None:
    original = np.zeros((3, 28, 28), np.float32)
    edited = np.ones_like(original)
    projected = project(original, edited, "linf", np.array([0.1, 0.2, 0.3]))
    np.testing.assert_allclose(projected.max(axis=(1, 2)), [0.1, 0.2, 0.3], atol=1e-6)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: project(np.zeros((28, 28)), np.zeros((28, 28)), "l3", 1.0), "unknown norm"),
        (lambda: project(np.zeros((28, 28)), np.full((28, 28), np.nan), "l2", 1.0), "NaN"),
        (lambda: project(np.zeros((28, 28)), np.zeros((27, 28)), "l2", 1.0), "does not match"),
        (lambda: project(np.zeros((28, 28)), np.zeros((28, 28)), "l2", -1.0), "eps"),
        (lambda: project(np.full((28, 28), 2.0), np.zeros((28, 28)), "l2", 1.0), "outside"),
    ],
)
def test_bad_input_raises_budget_error(call, message: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(BudgetError, match=message):
        call()


@pytest.mark.parametrize("norm", sorted(NORMS))
def test_quantize_stays_within_budget(norm: str) -> None:
    rng = np.random.default_rng(11)
    low, high = EPS_RANGES[norm]
    for _ in range(100):
        original = (rng.integers(0, 256, (28, 28)) * (rng.random((28, 28)) < 0.4)).astype(np.float32) / 255
        eps = float(int(rng.uniform(1, high))) if norm == "l0" else float(rng.uniform(low + 0.01, high))
        edited = project(original, original + rng.normal(0, 0.4, (28, 28)).astype(np.float32), norm, eps)
        as_uint8 = quantize(original, edited, norm, eps)
        assert as_uint8.dtype == np.uint8
        assert within_budget(original, as_uint8.astype(np.float32) / 255, norm, eps)
