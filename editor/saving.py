"""Saving edits (no Qt): into a ``core.collection`` labeled set, or, without it, as ``.npz`` files in a folder.

The edit is rounded to uint8 with :func:`core.budget.quantize` (never leaving the budget) before it is saved,
and the model predictions recorded with it are those on the rounded image.
"""

from __future__ import annotations

import logging
import os
import tempfile
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import platformdirs

from core import budget
from core.errors import CollectionError
from core.labels import is_valid_label

log = logging.getLogger(__name__)

NPZ_FORMAT_VERSION = 1


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


class Saver(Protocol):
    """Somewhere edits go."""

    description: str

    def save(self, record: EditRecord) -> str:
        """Store ``record`` durably; returns its id. Raises :class:`CollectionError` on failure."""
        ...

    def close(self) -> None: ...


def default_collection_path() -> Path:
    """``<user data dir>/InvarianceLab/collections/my-edits``."""
    return platformdirs.user_data_path("InvarianceLab", appauthor=False) / "collections" / "my-edits"


def rounded_edit(original: np.ndarray, edited: np.ndarray, norm: str, eps: float) -> np.ndarray:
    """The edit as uint8 (28, 28) within the budget (see :func:`core.budget.quantize`)."""
    image = budget.quantize(original, edited, norm, eps)
    if not budget.within_budget(original, image.astype(np.float32) / 255.0, norm, eps):
        raise CollectionError(f"the rounded edit leaves the {norm} budget {eps:g}")
    return image


def _check(record: EditRecord) -> None:
    if not is_valid_label(record.intended_label):
        raise CollectionError(f"invalid intended label {record.intended_label}")


class CollectionSaver:
    """Appends edits to a :class:`core.collection.Collection` (created when ``path`` does not exist)."""

    def __init__(self, path: Path, author: str = "") -> None:
        from core.collection import Collection

        self.path = Path(path)
        if self.path.exists() and any(self.path.iterdir()):
            self.collection = Collection.open(self.path)
        else:
            self.collection = Collection.create(self.path, self.path.name, author=author)
        self.description = f"collection {self.path} ({len(self.collection)} items)"

    def save(self, record: EditRecord) -> str:
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


class NpzSaver:
    """One ``edit-<id>.npz`` per edit in ``folder`` (written atomically), for when core.collection is absent."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self.description = f"npz files in {self.folder}"

    def save(self, record: EditRecord) -> str:
        _check(record)
        item_id = uuid.uuid4().hex
        arrays: dict[str, Any] = {
            "format_version": np.int64(NPZ_FORMAT_VERSION),
            "image": record.image.astype(np.uint8),
            "original": np.rint(record.original * 255.0).astype(np.uint8),
            "original_label": np.int64(record.original_label),
            "intended_label": np.int64(record.intended_label),
            "norm": np.str_(record.norm),
            "eps": np.float64(record.eps),
            "source_split": np.str_(record.source_split or ""),
            "source_index": np.int64(-1 if record.source_index is None else record.source_index),
            "method": np.str_(record.method),
            "model_names": np.array(sorted(record.predictions), dtype=np.str_),
            "model_predictions": np.array([record.predictions[k] for k in sorted(record.predictions)], dtype=np.int64),
        }
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=self.folder, suffix=".tmp", delete=False) as handle:
                np.savez(handle, **arrays)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(handle.name, self.folder / f"edit-{item_id}.npz")
        except OSError as error:
            raise CollectionError(f"{self.folder}: cannot save the edit ({error})") from None
        return item_id

    def close(self) -> None:
        return None


def open_saver(path: Path, author: str = "") -> Saver:
    """A :class:`CollectionSaver` for ``path``, or an :class:`NpzSaver` when core.collection is unavailable."""
    try:
        import core.collection  # noqa: F401
    except ImportError as error:
        log.warning("core.collection unavailable (%s); saving edits as .npz files in %s", error, path)
        return NpzSaver(path)
    return CollectionSaver(path, author)
