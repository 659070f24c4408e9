"""GenInv at the paper's budgets: whole visible pixels within ε (counted on 8-bit images), and coverage.

The coverage floors come from measured figures (docs/_incoming/h27.md): on 60 tuning digits (test indices
2500-4999 minus earlier figures' digits, seed 7) every digit got a suggestion at ℓ0 25 and ℓ∞ 0.3, the judge saw
the target for 55-58 of 60 at ℓ0 25 and 52-53 of 60 at ℓ∞ 0.3. The fixed set below is 12 of those digits: all
12 got a suggestion in every setting, and the judge saw the target for 12 (ℓ0 25), 10 (ℓ∞ 0.3) and 12 (ℓ∞ 0.4);
the floors are one below that.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from core.data import load_mnist
from core.geninv import SearchSettings, suggest_batch
from core.geninv.greedy import BudgetedEdit, budget_stages, compact_groups, keep_value, refine_l0_budget
from core.geninv.refine import fragment_pixels
from core.images import to_float

FAST = SearchSettings(pool=16, steps=10, refine=6)
COVERAGE_DIGITS = (2536, 2562, 2634, 2940, 2962, 3052, 3117, 3139, 3174, 3193, 3331, 3367)
"""Tuning digits (never in a blind pack or an earlier figure)."""


def _changed_u8(image: np.ndarray, original: np.ndarray) -> int:
    """Pixels whose 8-bit value differs (the ℓ0 of the DESIGN: change > 1/510)."""
    return int((np.rint(image * 255).astype(int) != np.rint(original * 255).astype(int)).sum())


def test_compact_groups_partition_the_pixels() -> None:
    coords = np.argwhere(np.random.default_rng(0).random((28, 28)) > 0.9)
    groups = compact_groups(coords, 7)
    assert 1 <= len(groups) <= 7 and all(len(g) for g in groups)
    joined = np.concatenate(groups)
    assert sorted(map(tuple, joined.tolist())) == sorted(map(tuple, coords.tolist()))
    assert [g.tolist() for g in compact_groups(coords, 7)] == [g.tolist() for g in groups]  # deterministic
    assert compact_groups(np.zeros((0, 2), np.int64), 3) == []


@pytest.mark.parametrize("eps", [1.0, 7.0, 25.0])
def test_budgeted_edits_change_whole_visible_pixels_within_eps(eps: float, tiny_judge) -> None:  # type: ignore[no-untyped-def]
    images, _ = load_mnist("test")
    query = torch.from_numpy(to_float(images[3]))
    aligned = torch.from_numpy(to_float(images[[0, 1, 2, 4]]))
    edits = refine_l0_budget(query, aligned, torch.tensor([7, 2, 1, 4]), tiny_judge, eps)
    assert any(edit is not None for edit in edits)
    for row, edit in enumerate(edits):
        if edit is None:
            continue
        image = edit.image.numpy()
        changed = image != query.numpy()
        assert 1 <= changed.sum() == edit.pixels <= eps
        assert _changed_u8(image, query.numpy()) == edit.pixels  # every chosen pixel counts, nothing else changes
        visible = np.abs(aligned[row].numpy() - query.numpy()) > 0.5
        assert np.all(visible[changed])  # only pixels of the visible change, applied fully (0 or 1)
        assert set(np.unique(image[changed]).tolist()) <= {0.0, 1.0}


def test_budgets_above_the_papers_are_searched_in_stages() -> None:
    assert budget_stages(30.0) == [25, 30] and budget_stages(25.0) == [25] and budget_stages(7.5) == [7]


def test_more_budget_never_keeps_a_worse_edit(tiny_judge) -> None:  # type: ignore[no-untyped-def]
    """The 30-pixel search visits every state of the 25-pixel one, so per neighbour it keeps one worth as much."""
    images, labels = load_mnist("test")
    query = torch.from_numpy(to_float(images[3]))
    others = [i for i in range(60) if labels[i] != labels[3]][:12]
    aligned = torch.from_numpy(to_float(images[others]))
    targets = torch.from_numpy(labels[others]).long()
    small = refine_l0_budget(query, aligned, targets, tiny_judge, 25.0)
    large = refine_l0_budget(query, aligned, targets, tiny_judge, 30.0)

    def value(edit: BudgetedEdit) -> tuple[bool, float]:
        debris = float(fragment_pixels(edit.image[None])[0])
        return edit.margin > 0, keep_value(edit.margin, edit.pixels, debris)

    for at_25, at_30 in zip(small, large, strict=True):
        assert (at_25 is None) == (at_30 is None)
        if at_25 is not None and at_30 is not None:
            assert at_30.pixels <= 30
            assert value(at_30) >= value(at_25)


@pytest.mark.parametrize(("norm", "eps"), [("l0", 25.0), ("l0", 30.0), ("linf", 0.3), ("linf", 0.4)])
def test_suggestions_stay_within_the_budget_on_8_bit_images(norm, eps, pool_bank, tiny_judge, queries) -> None:  # type: ignore[no-untyped-def]
    images, labels = queries
    results = suggest_batch(images, labels, norm, eps, k=3, bank=pool_bank, judge=tiny_judge, settings=FAST)
    assert all(results), "every digit gets a suggestion (weak ones too)"
    for image, suggestions in zip(images, results, strict=True):
        original = np.rint(image * 255) / 255
        for s in suggestions:
            if norm == "l0":
                assert _changed_u8(s.image, original) <= eps
            else:
                assert np.abs(s.image_u8().astype(int) - np.rint(image * 255).astype(int)).max() <= eps * 255 + 0.5


@pytest.mark.slow
def test_coverage_on_fixed_tuning_digits_does_not_fall() -> None:
    """Full candidate bank and trained judge (loads MNIST train, ~10-30 s)."""
    images, labels = load_mnist("test")
    indices = np.array(COVERAGE_DIGITS)
    # floors: the judge's reached targets measured with its blurred view (stricter than the plain one, which had
    # reached 9 of 12 at ℓ∞ 0.3): 11, 11, 8 and 12 of 12 (python -m pytest -m slow, 2026-12-05)
    floors = (("l0", 25.0, 11), ("l0", 30.0, 11), ("linf", 0.3, 8), ("linf", 0.4, 11))
    for norm, eps, reached_floor in floors:
        results = suggest_batch(to_float(images[indices]), labels[indices], norm, eps, k=1, device="cpu")
        assert all(results), f"{norm} {eps}: a digit got no suggestion"
        reached = sum(found[0].extras["target_reached"] > 0 for found in results)
        assert reached >= reached_floor, f"{norm} {eps}: the judge sees the target for {reached} of 12"


def test_debris_is_counted_per_image_when_images_are_labelled_together() -> None:
    from scipy import ndimage

    rng = np.random.default_rng(3)
    images = torch.from_numpy((rng.random((40, 28, 28)) < 0.12).astype(np.float32))
    images[0] = 0.0  # blank
    images[1, :, 27] = 1.0  # ink on the right edge, beside the next image's left edge
    images[2, :, 0] = 1.0
    expected = []
    for mask in (images > 0.5).numpy():  # one image at a time
        labels, count = ndimage.label(mask, structure=np.ones((3, 3), dtype=bool))
        sizes = np.bincount(labels.ravel())[1:]
        expected.append(float(sizes.sum() - sizes.max()) if count > 1 else 0.0)
    assert fragment_pixels(images).tolist() == expected
    assert fragment_pixels(images[:0]).shape == (0,)
