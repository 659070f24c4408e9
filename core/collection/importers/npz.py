"""Plain ``.npz`` files (``images`` + ``labels``) and the one npz layout of :func:`core.collection.export.write_npz`."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from core.collection.export import UNKNOWN_LABEL
from core.collection.importers.common import (
    ImportOptions,
    as_integers,
    check_images,
    check_indices,
    check_labels,
    json_loads,
)
from core.collection.npyio import load_npz
from core.collection.schema import ID_PATTERN, LABEL_FIELDS, METHODS, SPLITS
from core.errors import CollectionError
from core.images import to_uint8


def npz_rows(path: Path, options: ImportOptions) -> list[dict[str, Any]]:
    """Rows of a plain npz or of the export's npz layout (see :func:`core.collection.importers.import_npz`)."""
    arrays = load_npz(path)
    if "images" not in arrays:
        raise CollectionError(f"{path}: no 'images' array (found: {', '.join(sorted(arrays)) or 'nothing'})")
    images = check_images(arrays["images"], f"{path}[images]", pixel_max=1)
    count = len(images)
    ours = "intended_labels" in arrays
    if "labels" not in arrays and not ours:
        raise CollectionError(f"{path}: no 'labels' array")
    get = _Getter(arrays, path, count)
    original_labels: list[int | None]
    intended: list[int | None]
    human: list[int | None]
    raters: list[dict[str, int]] = [{} for _ in range(count)]
    predictions: list[dict[str, int]] = [{} for _ in range(count)]
    extras: list[dict[str, Any]] = [{} for _ in range(count)]
    if ours and "label_kind" in arrays:
        original_labels = get.labels("original_labels", allow_unknown=True, digits_only=True)
        intended = get.labels("intended_labels", allow_unknown=True)
        human = get.labels("consensus_labels", allow_unknown=True)
        raters = get.label_maps("rater_labels")
        predictions = _prediction_table(arrays, path, count)
        extras = get.json_objects("extras")
    elif ours:  # the layout before label_kind: 'labels' held the original labels, 'human_labels' the consensus
        original_labels = get.labels("labels", allow_unknown=True, digits_only=True)
        intended = get.labels("intended_labels", allow_unknown=True)
        human = get.labels("human_labels", allow_unknown=True, optional=True)
    else:
        given = get.labels("labels", allow_unknown=True, digits_only=options.label == "original")
        by_field: dict[str, list[int | None]] = {name: [None] * count for name in set(LABEL_FIELDS.values())}
        by_field[LABEL_FIELDS[options.label]] = given
        original_labels, intended, human = (
            by_field["original_label"],
            by_field["intended_label"],
            by_field["human_label"],
        )
    indices = get.indices("source_indices")
    splits = get.strings("source_splits", allowed=("", *SPLITS))
    ids = get.strings("ids", pattern=ID_PATTERN)
    if ids is not None and len(set(ids)) != len(ids):
        raise CollectionError(f"{path}[ids]: duplicate item ids")
    set_names = get.strings("set_names")
    methods = get.strings("methods", allowed=METHODS)
    norms = get.strings("norms", allowed=("", "l0", "l1", "l2", "linf"))
    eps_values = get.floats("eps")
    originals = None
    if "originals" in arrays:
        originals = check_images(arrays["originals"], f"{path}[originals]", pixel_max=1, count=count)
    has_original = get.flags("has_original")
    rows = []
    for i in range(count):
        split = (splits[i] or None) if splits is not None else ("test" if indices is not None else None)
        index = None if indices is None or indices[i] < 0 else int(indices[i])
        if (split is None) != (index is None):
            split, index = (None, None) if index is None else ("test", index)
        row: dict[str, Any] = {
            "image": images[i],
            "source_split": split,
            "source_index": index,
            "original_label": original_labels[i],
            "intended_label": intended[i],
            "human_label": human[i],
            "human_labels": raters[i],
            "predictions": predictions[i],
            "extra": extras[i],
            "method": methods[i] if methods is not None else "imported",
            "set_name": set_names[i] if set_names is not None else path.stem,
        }
        if originals is not None and (has_original is None or has_original[i]):
            row["original"] = to_uint8(originals[i])
        item_norm = norms[i] if norms is not None else ""
        item_eps = float(eps_values[i]) if eps_values is not None else float("nan")
        if options.norm is not None and options.eps is not None:
            item_norm, item_eps = options.norm, float(options.eps)
        if item_norm and np.isfinite(item_eps):
            row["norm"], row["eps"] = item_norm, item_eps
        if ids is not None:
            row["item_id"] = ids[i]
        rows.append(row)
    return rows


class _Getter:
    """Optional per-item arrays of an npz, validated against the item count."""

    def __init__(self, arrays: dict[str, np.ndarray], path: Path, count: int) -> None:
        self.arrays, self.path, self.count = arrays, path, count

    def _get(self, key: str) -> np.ndarray | None:
        array = self.arrays.get(key)
        if array is None:
            return None
        if array.ndim != 1 or len(array) != self.count:
            raise CollectionError(
                f"{self.path}[{key}]: expected shape ({self.count},) like 'images', got {tuple(array.shape)}"
            )
        return array

    def labels(
        self, key: str, *, allow_unknown: bool, digits_only: bool = False, optional: bool = False
    ) -> list[int | None]:
        array = self._get(key)
        if array is None:
            if optional:
                return [None] * self.count
            raise CollectionError(f"{self.path}: no '{key}' array")
        values = check_labels(array, f"{self.path}[{key}]", self.count, allow_unknown=allow_unknown)
        out: list[int | None] = [None if v == UNKNOWN_LABEL else int(v) for v in values]
        if digits_only and any(v is not None and v < 0 for v in out):
            raise CollectionError(
                f"{self.path}[{key}]: original labels must be digits 0-9 or -2 (unknown); "
                "if they are not the digits' own labels, say which they are with --label"
            )
        return out

    def label_maps(self, key: str) -> list[dict[str, int]]:
        """Per-item JSON objects (rater or model -> label) stored as text; empty maps when the array is absent."""
        return self.json_objects(key, what="JSON objects mapping names to labels")

    def json_objects(self, key: str, *, what: str = "JSON objects") -> list[dict[str, Any]]:
        """Per-item JSON objects stored as text; empty objects when the array is absent."""
        values = self.strings(key)
        if values is None:
            return [{} for _ in range(self.count)]
        objects = []
        for value in values:
            mapping = json_loads(value, f"{self.path}[{key}]")
            if not isinstance(mapping, dict):
                raise CollectionError(f"{self.path}[{key}]: expected {what}")
            objects.append(mapping)
        return objects

    def indices(self, key: str) -> np.ndarray | None:
        array = self._get(key)
        if array is None:
            return None
        return check_indices(array, f"{self.path}[{key}]", self.count, allow_unknown=True)

    def strings(
        self, key: str, *, allowed: Sequence[str] | None = None, pattern: re.Pattern[str] | None = None
    ) -> list[str] | None:
        array = self._get(key)
        if array is None:
            return None
        if array.dtype.kind != "U":
            raise CollectionError(f"{self.path}[{key}]: expected text, got {array.dtype}")
        values = [str(value) for value in array]
        for value in values:
            if (allowed is not None and value not in allowed) or (pattern is not None and not pattern.fullmatch(value)):
                raise CollectionError(f"{self.path}[{key}]: invalid value {value[:40]!r}")
        return values

    def floats(self, key: str) -> np.ndarray | None:
        array = self._get(key)
        if array is None:
            return None
        if array.dtype.kind not in "fiu":
            raise CollectionError(f"{self.path}[{key}]: expected numbers, got {array.dtype}")
        values = array.astype(np.float64)
        if np.isinf(values).any() or (values < 0).any():
            raise CollectionError(f"{self.path}[{key}]: values must be >= 0 and finite (NaN = none)")
        return values

    def flags(self, key: str) -> np.ndarray | None:
        array = self._get(key)
        if array is not None and array.dtype != np.bool_:
            raise CollectionError(f"{self.path}[{key}]: expected booleans, got {array.dtype}")
        return array


def _prediction_table(arrays: dict[str, np.ndarray], path: Path, count: int) -> list[dict[str, int]]:
    """Per-item model -> label maps from ``prediction_models`` (M,) and ``predictions`` (N, M) (-2 = none)."""
    models, table = arrays.get("prediction_models"), arrays.get("predictions")
    if models is None and table is None:
        return [{} for _ in range(count)]
    if models is None or table is None or models.ndim != 1 or models.dtype.kind != "U":
        raise CollectionError(f"{path}: 'prediction_models' (text) and 'predictions' go together")
    if table.shape != (count, len(models)):
        raise CollectionError(f"{path}[predictions]: expected shape ({count}, {len(models)}), got {table.shape}")
    values = as_integers(table, f"{path}[predictions]")
    if values.size and (values.min() < UNKNOWN_LABEL or values.max() > 9):
        raise CollectionError(f"{path}[predictions]: predictions must be 0-9 or -2 (none)")
    names = [str(model) for model in models]
    return [{name: int(v) for name, v in zip(names, row, strict=True) if v != UNKNOWN_LABEL} for row in values]
