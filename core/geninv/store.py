"""Writing GenInv suggestions into a collection (shared by ``invariance geninv`` and the human packs)."""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from core.collection import Collection
from core.geninv.api import Suggestion


def open_output_collection(path: Path) -> tuple[Collection, bool]:
    """Open (write-locked) the collection at ``path``, or create it when missing; -> (collection, created)."""
    if (path / "manifest.json").exists():
        return Collection.open(path), False
    return Collection.create(path, path.name), True


def remove_created_collection(path: Path) -> None:
    """Remove a collection this process created and left empty (nothing else lives in that folder)."""
    shutil.rmtree(path, ignore_errors=True)


def set_name(norm: str, eps: float | None) -> str:
    return f"geninv/{norm}" + (f"/eps{eps:g}" if eps is not None else "")


def add_suggestions(
    collection: Collection,
    suggestions: Sequence[Suggestion | None],
    test_indices: np.ndarray | Sequence[int],
    norm: str,
    eps: float | None,
) -> list[Any]:
    """Add each digit's best suggestion (None = no suggestion within budget, skipped) to an open collection.

    Each item: the test digit as original, the suggestion's target as intended label, method ``geninv-<norm>``,
    set ``geninv/<norm>[/eps]``; ℓ0 suggestions without a budget record their own ℓ0 distance as ε. The
    training image, transform, p_human, raw judge score and "convincing" flag go into the item's extra fields.
    Returns the items added.
    """
    added = []
    with collection.batch():
        for index, suggestion in zip(test_indices, suggestions, strict=True):
            if suggestion is None:
                continue
            added.append(
                collection.add(
                    suggestion.image_u8(),
                    source_split="test",
                    source_index=int(index),
                    intended_label=suggestion.target_label,
                    norm=norm,
                    eps=float(eps) if eps is not None else float(suggestion.distortion["l0"]),
                    method=f"geninv-{norm}",
                    set_name=set_name(norm, eps),
                    extra={
                        "train_index": suggestion.train_index,
                        "p_human": round(float(suggestion.p_human), 6),
                        "raw_score": round(float(suggestion.raw_score), 6),
                        "convincing": bool(suggestion.convincing),
                        "transform": suggestion.transform.as_dict(),
                    },
                )
            )
    return added


__all__ = ["add_suggestions", "open_output_collection", "remove_created_collection", "set_name"]
