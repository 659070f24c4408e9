"""Saving edits (no Qt) into a ``core.collection`` labelled set.

The edit is rounded to uint8 with :func:`core.budget.quantize` (never leaving the budget) before it is saved,
and the model predictions recorded with it are those on the rounded image.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from core import budget
from core.collection import Collection
from core.collection.manifest import BACKUP, MANIFEST
from core.errors import CollectionError
from core.images import to_float
from core.labels import is_valid_label
from core.paths import user_data_dir


@dataclass(frozen=True)
class EditRecord:
    """One edit to save. ``original`` float32 (28, 28) on the uint8 grid; ``image`` uint8 (28, 28)."""

    original: np.ndarray
    image: np.ndarray
    original_label: int
    intended_label: int
    norm: str
    eps: float
    source_split: str | None
    source_index: int | None
    method: str = "manual"
    predictions: dict[str, int] = field(default_factory=dict)
    author: str = ""


def default_collection_path() -> Path:
    """``<user data folder>/collections/my-edits`` (see :func:`core.paths.user_data_dir`)."""
    return user_data_dir() / "collections" / "my-edits"


def rounded_edit(original: np.ndarray, edited: np.ndarray, norm: str, eps: float) -> np.ndarray:
    """The edit as uint8 (28, 28) within the budget (see :func:`core.budget.quantize`)."""
    image = budget.quantize(original, edited, norm, eps)
    if not budget.within_budget(original, to_float(image), norm, eps):
        raise CollectionError(f"the rounded edit leaves the {norm} budget {eps:g}")
    return image


def _check(record: EditRecord) -> None:
    if not is_valid_label(record.intended_label):
        raise CollectionError(f"invalid intended label {record.intended_label}")


def is_collection(path: Path) -> bool:
    """True when ``path`` holds a collection (its manifest, or the manifest's backup)."""
    path = Path(path)
    return (path / MANIFEST).exists() or (path / BACKUP).exists()


class CollectionSaver:
    """Appends edits to a :class:`core.collection.Collection`; with ``create`` (the default) it is made when ``path``
    holds none, without it a :class:`CollectionError` says there is none."""

    def __init__(self, path: Path, author: str = "", *, create: bool = True) -> None:
        self.path = Path(path)
        if not create and not is_collection(self.path):
            raise CollectionError(f"{self.path}: no collection there")
        self.collection, _ = Collection.open_or_create(self.path, author=author)
        self.description = f"collection {self.path} ({len(self.collection)} items)"

    def save(self, record: EditRecord) -> str:
        """Store ``record`` durably; returns its id. Raises :class:`CollectionError` on failure."""
        _check(record)
        item = self.collection.add(
            record.image,
            original=record.original,
            source_split=record.source_split,
            source_index=record.source_index,
            original_label=record.original_label,
            intended_label=record.intended_label,
            norm=record.norm,
            eps=record.eps,
            method=record.method,
            set_name=f"{record.norm}/{'manual' if record.method == 'manual' else 'automated'}",
            predictions=record.predictions,
            author=record.author or None,
        )
        self.description = f"collection {self.path} ({len(self.collection)} items)"
        return item.id

    def close(self) -> None:
        self.collection.close()
