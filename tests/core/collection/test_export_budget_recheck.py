"""The export re-check measures every item's uint8 pixels in its own norm, with no slack beyond float rounding."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from core.budget import NORMS, distance
from core.collection import Collection, export_collection
from core.collection.export import EXPORT_FORMATS, check_budgets
from core.data import load_mnist
from core.errors import BudgetError, CollectionError
from core.images import to_float

STEP = 1 / 255


def digit() -> np.ndarray:
    return load_mnist("test")[0][0]


def changed(original: np.ndarray, pixels: int, levels: int) -> np.ndarray:
    """``original`` with ``pixels`` pixels moved by ``levels`` grey levels (towards the far end of the range)."""
    image = original.astype(np.int64).reshape(-1)
    where = np.argsort(image, kind="stable")[:pixels]  # dark pixels: room to go up
    image[where] += levels
    return np.clip(image, 0, 255).astype(np.uint8).reshape(28, 28)


def over_budget(norm: str) -> tuple[np.ndarray, float]:
    """An image and an ε it exceeds by a little (one grey level or one pixel, never more than 1/255 in ℓ∞)."""
    original = digit()
    if norm == "linf":
        return changed(original, 5, 77), 0.3  # 77/255 = 0.30196 > 0.3 by less than 1/255
    if norm == "l0":
        return changed(original, 4, 40), 3.0
    image = changed(original, 4, 51)  # each pixel moves by 0.2
    measured = float(distance(to_float(original), to_float(image), norm))
    return image, measured - STEP / 4  # just below what the pixels measure


def collection_with(tmp_path: Path, image: np.ndarray, norm: str, eps: float) -> Path:
    path = tmp_path / "c"
    with Collection.create(path, "recheck") as coll:
        coll.add(image, original=digit(), norm=norm, eps=eps, intended_label=3, allow_violation=True)
    return path


@pytest.mark.parametrize("norm", list(NORMS))
@pytest.mark.parametrize("fmt", EXPORT_FORMATS)
def test_each_norm_is_rechecked_without_slack(tmp_path: Path, norm: str, fmt: str) -> None:
    image, eps = over_budget(norm)
    path = collection_with(tmp_path, image, norm, eps)
    with Collection.open(path, read_only=True) as coll:
        assert len(check_budgets(coll.items)) == 1
        with pytest.raises(CollectionError, match="exceed their budget"):
            export_collection(coll, tmp_path / "out", fmt)
    assert not (tmp_path / "out").exists()


def rewrite_manifest(path: Path, **fields: object) -> None:
    """Set fields of the (only) item in the manifest, after folding the journal into it."""
    Collection.open(path).close()
    manifest = path / "manifest.json"
    document = json.loads(manifest.read_text())
    document["items"][0].update(fields)
    manifest.write_text(json.dumps(document))


@pytest.mark.parametrize("norm", list(NORMS))
def test_recheck_measures_pixels_not_the_stored_distances(tmp_path: Path, norm: str) -> None:
    image, eps = over_budget(norm)
    path = collection_with(tmp_path, image, norm, eps)
    rewrite_manifest(path, distances={name: 0.0 for name in NORMS}, budget_violation=None)
    with Collection.open(path, read_only=True) as coll, pytest.raises(CollectionError, match="exceed their budget"):
        export_collection(coll, tmp_path / "out", "npz")


@pytest.mark.parametrize("norm", list(NORMS))
def test_stored_distances_over_eps_do_not_fail_a_clean_item(tmp_path: Path, norm: str) -> None:
    original = digit()
    image = changed(original, 2, 25)
    eps = float(distance(to_float(original), to_float(image), norm))
    path = collection_with(tmp_path, image, norm, eps)
    rewrite_manifest(path, distances={name: 1000.0 for name in NORMS})
    with Collection.open(path, read_only=True) as coll:
        assert export_collection(coll, tmp_path / "out.npz", "npz").count == 1


def test_l0_budget_is_rounded_down(tmp_path: Path) -> None:
    original = digit()
    with Collection.create(tmp_path / "c", "l0") as coll:
        coll.add(changed(original, 2, 40), original=original, norm="l0", eps=2.5)  # 2 <= 2.5: fine
        with pytest.raises(BudgetError):
            coll.add(changed(original, 3, 40), original=original, norm="l0", eps=2.5)  # 3 > 2.5
        coll.add(changed(original, 3, 40), original=original, norm="l0", eps=2.5, allow_violation=True)
        assert [item.budget_violation for item in coll.items] == [None, 3.0]
        assert len(check_budgets(coll.items)) == 1


def test_l0_at_the_boundary(tmp_path: Path) -> None:
    original = digit()
    with Collection.create(tmp_path / "c", "l0") as coll:
        coll.add(changed(original, 3, 40), original=original, norm="l0", eps=3)
        assert not check_budgets(coll.items)
        with pytest.raises(BudgetError):
            coll.add(changed(original, 4, 40), original=original, norm="l0", eps=3)
