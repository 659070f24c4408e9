"""Import labeled sets: the paper's public release, plain ``.npz`` files and our own exports.

- :func:`import_paper` reads the layout of ftramer/Excessive-Invariance (``invariance_examples/``): 100 MNIST test
  indices (``indexs.npy``), the ℓ0 set ``l0/automated.npy`` (uint8 0-255) and the ℓ∞ sets under ``linf/``
  (``automated_eps03.npy`` float32 0-255, ``automated_eps04.npy`` uint8, ``manual_eps04.npy`` with its own
  ``manual_indexs.npy``), each with ``*_labels.npy`` holding the human consensus label.
- :func:`import_npz` reads ``images`` (N, 28, 28) uint8 or float in [0, 1], ``labels`` (the original labels
  unless ``label`` says otherwise), optional ``originals`` (uint8 or float in [0, 1], like ``images``) and
  ``source_indices`` (MNIST test); files written by ``invariance export --format npz`` or ``invariance geninv
  --out x.npz`` (the one npz layout, :func:`core.collection.export.write_npz`) round-trip every field.
- :func:`import_folder` reads a Hugging Face imagefolder (``metadata.jsonl``), a CSV export (``items.csv``) or a
  torchvision ImageFolder (class folders).

Every importer validates all inputs before writing, builds the new collection in a hidden folder beside ``out``
and renames it into place, so a failure leaves nothing behind. Bad input raises CollectionError naming the file.
Items outside their budget are kept with ``budget_violation`` set to the measured distance and are counted.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import numpy as np

from core.budget import distance
from core.collection import png
from core.collection.export import PREDICTIONS_FILE, UNKNOWN_LABEL
from core.collection.fsutil import publish, read_limited, remove_tree, staging_dir
from core.collection.mnist_lookup import mnist_source
from core.collection.npyio import load_npy, load_npz
from core.collection.schema import (
    ID_PATTERN,
    LABEL_FIELDS,
    LABEL_KINDS,
    METHODS,
    SPLITS,
    is_finite_number,
    is_item_id,
)
from core.collection.store import Collection
from core.data import to_float
from core.errors import CollectionError, InvarianceError
from core.images import to_uint8
from core.labels import NOT_A_DIGIT, is_valid_label

MNIST_TEST_SIZE: Final = 10_000


@dataclass(frozen=True)
class PaperSet:
    """One set of the paper's release: file names relative to ``invariance_examples/``."""

    set_name: str
    images: str
    labels: str
    indices: str
    norm: str
    eps: float | None  # None: the budget is the item's own measured distance (ℓ0)


PAPER_SETS: Final = (
    PaperSet("l0/automated", "l0/automated.npy", "l0/automated_labels.npy", "indexs.npy", "l0", None),
    PaperSet(
        "linf/automated_eps03", "linf/automated_eps03.npy", "linf/automated_eps03_labels.npy", "indexs.npy", "linf", 0.3
    ),
    PaperSet(
        "linf/automated_eps04", "linf/automated_eps04.npy", "linf/automated_eps04_labels.npy", "indexs.npy", "linf", 0.4
    ),
    PaperSet(
        "linf/manual_eps04",
        "linf/manual_eps04.npy",
        "linf/manual_eps04_labels.npy",
        "linf/manual_indexs.npy",
        "linf",
        0.4,
    ),
)


@dataclass(frozen=True)
class SetCount:
    """Per-set outcome of an import: items, how many exceed their budget and the largest such distance."""

    set_name: str
    count: int
    norm: str | None
    eps: float | None
    violations: int
    max_violation: float | None


@dataclass(frozen=True)
class ImportReport:
    """Where the new collection is and what went into it."""

    path: Path
    sets: tuple[SetCount, ...]

    @property
    def total(self) -> int:
        return sum(entry.count for entry in self.sets)

    @property
    def violations(self) -> int:
        return sum(entry.violations for entry in self.sets)


# ---------------------------------------------------------------------------------------------------- paper


def paper_root(folder: str | Path) -> Path:
    """The ``invariance_examples`` folder inside ``folder`` (or ``folder`` itself when it is that folder)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise CollectionError(f"{folder}: no such directory")
    nested = folder / "invariance_examples"
    return nested if nested.is_dir() else folder


def import_paper(folder: str | Path, out: str | Path, *, name: str = "", author: str = "") -> ImportReport:
    """Import the paper's four sets from ``folder`` (repository root or its ``invariance_examples``) into ``out``."""
    root = paper_root(folder)
    out = _check_out(out)
    rows: list[dict[str, Any]] = []
    for spec in PAPER_SETS:
        images_path, labels_path, indices_path = root / spec.images, root / spec.labels, root / spec.indices
        images = _images(load_npy(images_path), images_path, pixel_max=255)
        count = len(images)
        labels = _labels(load_npy(labels_path), labels_path, count, like=images_path.name)
        indices = _indices(load_npy(indices_path), indices_path, count, like=images_path.name)
        for position in range(count):
            original, original_label = mnist_source("test", int(indices[position]))
            image = images[position]
            eps = spec.eps
            if eps is None:
                rounded = to_uint8(image)
                image = rounded
                eps = float(distance(to_float(original), to_float(rounded), spec.norm))
            rows.append(
                {
                    "image": image,
                    "original": original,
                    "source_split": "test",
                    "source_index": int(indices[position]),
                    "original_label": original_label,
                    "human_label": int(labels[position]),
                    "norm": spec.norm,
                    "eps": eps,
                    "method": "imported",
                    "set_name": spec.set_name,
                    "notes": f"{images_path.name}[{position}]",
                }
            )
    return _build(out, name or "Tramèr et al. 2020 invariance examples", author, rows, source=root)


# ---------------------------------------------------------------------------------------------------- npz


def import_npz(
    path: str | Path,
    out: str | Path,
    *,
    norm: str | None = None,
    eps: float | None = None,
    label: str = "original",
    name: str = "",
    author: str = "",
) -> ImportReport:
    """Import a plain ``.npz`` (``images``, ``labels``, optional ``source_indices``) or one of our npz exports.

    Plain files: ``labels`` are the original labels (the digits' true labels; ``label`` may say they are the
    ``intended`` or the ``human``/``consensus`` labels instead); ``source_indices`` refer to the MNIST test split;
    ``norm``/``eps`` give every item's budget. Our exports (recognised by ``intended_labels``) restore ids, all
    labels, rater labels, predictions, sources, originals, set names, methods and budgets.
    """
    path = Path(path)
    out = _check_out(out)
    _check_kind(label)
    if (norm is None) != (eps is None):
        raise CollectionError("--norm and --eps go together")
    arrays = load_npz(path)
    if "images" not in arrays:
        raise CollectionError(f"{path}: no 'images' array (found: {', '.join(sorted(arrays)) or 'nothing'})")
    images = _images(arrays["images"], f"{path}[images]", pixel_max=1)
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
        given = get.labels("labels", allow_unknown=True, digits_only=label == "original")
        by_field: dict[str, list[int | None]] = {name: [None] * count for name in set(LABEL_FIELDS.values())}
        by_field[LABEL_FIELDS[label]] = given
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
        originals = _images(arrays["originals"], f"{path}[originals]", pixel_max=1, count=count)
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
        if norm is not None:
            item_norm, item_eps = norm, float(eps)  # type: ignore[arg-type]
        if item_norm and np.isfinite(item_eps):
            row["norm"], row["eps"] = item_norm, item_eps
        if ids is not None:
            row["item_id"] = ids[i]
        rows.append(row)
    return _build(out, name or path.stem, author, rows, source=path)


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
        values = _labels(array, f"{self.path}[{key}]", self.count, allow_unknown=allow_unknown)
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
            mapping = _json_loads(value, f"{self.path}[{key}]")
            if not isinstance(mapping, dict):
                raise CollectionError(f"{self.path}[{key}]: expected {what}")
            objects.append(mapping)
        return objects

    def indices(self, key: str) -> np.ndarray | None:
        array = self._get(key)
        if array is None:
            return None
        return _indices(array, f"{self.path}[{key}]", self.count, allow_unknown=True)

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
    values = _integers(table, f"{path}[predictions]")
    if values.size and (values.min() < UNKNOWN_LABEL or values.max() > 9):
        raise CollectionError(f"{path}[predictions]: predictions must be 0-9 or -2 (none)")
    names = [str(model) for model in models]
    return [{name: int(v) for name, v in zip(names, row, strict=True) if v != UNKNOWN_LABEL} for row in values]


# ---------------------------------------------------------------------------------------------------- folders


def import_folder(
    folder: str | Path, out: str | Path, *, label: str = "intended", name: str = "", author: str = ""
) -> ImportReport:
    """Import a Hugging Face imagefolder (``metadata.jsonl``), a CSV export or a torchvision ImageFolder.

    ``label`` (one of :data:`LABEL_KINDS`) says what the ImageFolder classes / the HF and CSV ``label`` field
    mean; rows written by our export carry every field and restore them.
    """
    folder = Path(folder)
    out = _check_out(out)
    _check_kind(label)
    if not folder.is_dir():
        raise CollectionError(f"{folder}: no such directory")
    if (folder / "metadata.jsonl").is_file():
        rows = _hf_rows(folder, label)
    elif (folder / "items.csv").is_file():
        rows = _csv_rows(folder, label)
    else:
        rows = _imagefolder_rows(folder, label)
    return _build(out, name or folder.name, author, rows, source=folder)


def _hf_rows(folder: Path, kind: str) -> list[dict[str, Any]]:
    metadata = _no_link(folder / "metadata.jsonl")
    try:
        lines = read_limited(metadata).decode("utf-8").split("\n")  # JSON Lines: "\n" only, never U+2028 or \f
    except (OSError, UnicodeDecodeError) as error:
        raise CollectionError(f"{metadata}: cannot read ({error})") from None
    rows = []
    seen: set[str] = set()
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"{metadata} line {number}"
        entry = _json_loads(line, where)
        if not isinstance(entry, dict):
            raise CollectionError(f"{where}: not a JSON object")
        file_name = entry.get("file_name")
        if not isinstance(file_name, str):
            raise CollectionError(f"{where}: missing 'file_name'")
        image = png.read_digit_png(_inside(folder, file_name, where))
        row: dict[str, Any] = {"image": image, "method": "imported", "set_name": folder.name}
        item_id = entry.get("id")
        if is_item_id(item_id) and item_id not in seen:
            row["item_id"] = item_id
            seen.add(item_id)
        for key in ("intended_label", "human_label"):
            if key in entry:
                row[key] = _json_label(entry[key], f"{where} '{key}'")
        if "intended_label" not in entry and "human_label" not in entry:
            row[LABEL_FIELDS[kind]] = _json_label(entry.get("label"), f"{where} 'label'")
        if "original_label" in entry:
            row["original_label"] = _json_label(entry["original_label"], f"{where} 'original_label'", digits=True)
        split, index = entry.get("source_split"), entry.get("source_index")
        if split is not None or index is not None:
            if split not in SPLITS or isinstance(index, bool) or not isinstance(index, int):
                raise CollectionError(f"{where}: invalid source_split/source_index {split!r}/{index!r}")
            row["source_split"], row["source_index"] = split, index
        for key in ("set_name", "notes", "author"):
            if isinstance(entry.get(key), str):
                row[key] = entry[key]
        if entry.get("method") in METHODS:
            row["method"] = entry["method"]
        norm, eps = entry.get("norm"), entry.get("eps")
        if eps is not None and not is_finite_number(eps):
            raise CollectionError(f"{where}: 'eps' must be a finite number, got {str(eps)[:20]}")
        if norm is not None and eps is not None and "source_index" in row:
            row["norm"], row["eps"] = norm, eps
        for key in ("human_labels", "predictions"):
            value = entry.get(key)
            if isinstance(value, str):
                value = _json_loads(value, f"{where} '{key}'")
            if value is not None:
                if not isinstance(value, dict):
                    raise CollectionError(f"{where}: '{key}' must map names to labels")
                row[key] = value
        rows.append(row)
    return rows


def _csv_rows(folder: Path, kind: str) -> list[dict[str, Any]]:
    """Rows of a CSV export (``items.csv`` + ``images/`` + ``originals/``); every field but timestamps returns."""
    table = _no_link(folder / "items.csv")
    try:
        records = list(csv.DictReader(io.StringIO(read_limited(table).decode("utf-8"), newline="")))
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise CollectionError(f"{table}: cannot read ({error})") from None
    rows = []
    seen: set[str] = set()
    for number, record in enumerate(records, start=2):
        where = f"{table} line {number}"
        if None in record or any(value is None for value in record.values()):
            raise CollectionError(f"{where}: wrong number of columns")
        text = {key: value for key, value in record.items() if value != ""}
        if "image_file" not in text:
            raise CollectionError(f"{where}: missing image_file")
        row: dict[str, Any] = {
            "image": png.read_digit_png(_inside(folder, text["image_file"], where)),
            "method": text.get("method", "imported"),
            "set_name": text.get("set_name", folder.name),
            "notes": text.get("notes", ""),
        }
        if "original_file" in text:
            row["original"] = png.read_digit_png(_inside(folder, text["original_file"], where))
        item_id = text.get("id", "")
        if is_item_id(item_id) and item_id not in seen:
            row["item_id"] = item_id
            seen.add(item_id)
        for key in ("intended_label", "human_label", "original_label", "source_index"):
            if key in text:
                row[key] = _csv_int(text[key], f"{where} '{key}'")
        if "intended_label" not in text and "human_label" not in text and "label" in text:
            row[LABEL_FIELDS[kind]] = _csv_int(text["label"], f"{where} 'label'")
        if "source_split" in text:
            row["source_split"] = text["source_split"]
        if "author" in text:
            row["author"] = text["author"]
        if "norm" in text and "eps" in text:
            row["norm"] = text["norm"]
            try:
                row["eps"] = float(text["eps"])
            except ValueError:
                raise CollectionError(f"{where}: 'eps' is not a number") from None
            if not is_finite_number(row["eps"]):
                raise CollectionError(f"{where}: 'eps' must be a finite number")
        for key in ("human_labels", "predictions"):
            if key in text:
                value = _json_loads(text[key], f"{where} '{key}'")
                if not isinstance(value, dict):
                    raise CollectionError(f"{where}: '{key}' must map names to labels")
                row[key] = value
        rows.append(row)
    return rows


def _csv_int(value: str, where: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise CollectionError(f"{where}: {value[:20]!r} is not an integer") from None
    if abs(number) >= 2**31:
        raise CollectionError(f"{where}: {value[:20]!r} is out of range")
    return number


def _imagefolder_rows(folder: Path, kind: str) -> list[dict[str, Any]]:
    rows = []
    seen: set[str] = set()
    for entry in folder.iterdir():
        _no_link(entry)
    predictions = _imagefolder_predictions(folder)
    classes = sorted(entry for entry in folder.iterdir() if entry.is_dir() and not entry.name.startswith("."))
    if not classes:
        raise CollectionError(f"{folder}: neither metadata.jsonl nor class folders (0-9, not_a_digit) found")
    for class_dir in classes:
        if class_dir.name == "not_a_digit":
            value = NOT_A_DIGIT
        elif class_dir.name.isdigit() and len(class_dir.name) == 1:
            value = int(class_dir.name)
        else:
            raise CollectionError(f"{class_dir}: unexpected class folder (expected 0-9 or not_a_digit)")
        for file in sorted(class_dir.iterdir()):
            _no_link(file)
            if file.name.startswith("."):
                continue
            if file.suffix.lower() != ".png" or not file.is_file():
                raise CollectionError(f"{file}: not a PNG image")
            row: dict[str, Any] = {
                "image": png.read_digit_png(file),
                LABEL_FIELDS[kind]: value,
                "method": "imported",
                "set_name": folder.name,
            }
            if is_item_id(file.stem) and file.stem not in seen:
                row["item_id"] = file.stem
                seen.add(file.stem)
                if file.stem in predictions:
                    row["predictions"] = predictions[file.stem]
            rows.append(row)
    return rows


def _imagefolder_predictions(folder: Path) -> dict[str, dict[str, int]]:
    """Item id -> model -> label from an ImageFolder export's :data:`PREDICTIONS_FILE` (empty when absent)."""
    table = _no_link(folder / PREDICTIONS_FILE)
    if not table.exists():
        return {}
    try:
        records = list(csv.DictReader(io.StringIO(read_limited(table).decode("utf-8"), newline="")))
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise CollectionError(f"{table}: cannot read ({error})") from None
    found: dict[str, dict[str, int]] = {}
    for number, record in enumerate(records, start=2):
        where = f"{table} line {number}"
        if None in record or any(value is None for value in record.values()):
            raise CollectionError(f"{where}: wrong number of columns")
        item_id = record.get("id", "")
        found[item_id] = {
            key[len("pred_") :]: _csv_int(value, f"{where} '{key}'")
            for key, value in record.items()
            if key.startswith("pred_") and value != ""
        }
    return found


def _inside(folder: Path, relative: str, where: str) -> Path:
    if not relative or any(ord(char) < 32 for char in relative):
        raise CollectionError(f"{where}: invalid file name {relative[:40]!r}")
    parts = Path(relative).parts
    if Path(relative).is_absolute() or ".." in parts:
        raise CollectionError(f"{where}: file_name {relative[:40]!r} points outside {folder}")
    candidate = folder
    for part in parts:
        candidate = _no_link(candidate / part, where)
    try:
        resolved = candidate.resolve()
    except (OSError, ValueError, RuntimeError) as error:
        raise CollectionError(f"{where}: invalid file name {relative[:40]!r} ({error})") from None
    if folder.resolve() not in resolved.parents:
        raise CollectionError(f"{where}: file_name {relative[:40]!r} points outside {folder}")
    return candidate


def _no_link(path: Path, where: str = "") -> Path:
    """``path``, unless it is a symbolic link: importers never follow links (out of the folder or anywhere)."""
    if path.is_symlink():
        context = f"{where}: " if where else ""
        raise CollectionError(f"{context}{path} is a symbolic link; links are not followed")
    return path


def _json_label(value: object, where: str, *, digits: bool = False) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not is_valid_label(value) or (digits and value < 0):
        raise CollectionError(f"{where}: invalid label {value!r}")
    return value


# ---------------------------------------------------------------------------------------------------- shared


def _check_kind(label: str) -> None:
    if label not in LABEL_KINDS:
        raise CollectionError(f"unknown label kind {label!r}; choose one of {', '.join(LABEL_KINDS)}")


def _json_loads(text: str, where: str) -> object:
    """Parse untrusted JSON text; CollectionError (one line) on bad syntax, deep nesting or huge numbers."""
    try:
        return json.loads(text)
    except (ValueError, RecursionError) as error:
        raise CollectionError(f"{where}: invalid JSON ({type(error).__name__})") from None


def _check_out(out: str | Path) -> Path:
    out = Path(out)
    if out.exists() or out.is_symlink():
        raise CollectionError(f"{out}: already exists; choose a new folder for the collection")
    return out


def _images(array: np.ndarray, where: object, *, pixel_max: int, count: int | None = None) -> np.ndarray:
    """Validate an image stack -> uint8 (N, 28, 28), or float64 (N, 28, 28) in [0, 1] for non-integral values.

    Accepts (N, 28, 28), (N, 28, 28, 1), (N, 1, 28, 28) and (N, 784). Integer arrays and integral floats must
    lie in [0, 255] (and are taken as uint8 pixels when ``pixel_max`` is 255 or the dtype is uint8); other floats
    must lie in [0, ``pixel_max``].
    """
    shape = tuple(array.shape)
    if (len(shape) == 4 and shape[1:] in ((28, 28, 1), (1, 28, 28))) or (len(shape) == 2 and shape[1] == 784):
        array = array.reshape(shape[0], 28, 28)
    elif len(shape) != 3 or shape[1:] != (28, 28):
        raise CollectionError(f"{where}: expected images of shape (N, 28, 28), got {shape}")
    if count is not None and len(array) != count:
        raise CollectionError(f"{where}: has {len(array)} images, expected {count}")
    if array.dtype == np.uint8:
        return np.ascontiguousarray(array)
    if array.dtype.kind in "iu":
        if array.size and (array.min() < 0 or array.max() > 255):
            raise CollectionError(f"{where}: pixel values outside 0-255")
        if pixel_max != 255:
            raise CollectionError(f"{where}: integer images must be uint8 (got {array.dtype})")
        return array.astype(np.uint8)
    if array.dtype.kind != "f":
        raise CollectionError(f"{where}: images must be numbers (uint8 or float), got {array.dtype}")
    values = array.astype(np.float64)
    if not np.isfinite(values).all():
        raise CollectionError(f"{where}: images contain NaN or infinite values")
    if values.size and (values.min() < 0 or values.max() > pixel_max):
        raise CollectionError(f"{where}: pixel values outside 0-{pixel_max}")
    if pixel_max == 255:
        if np.array_equal(values, np.rint(values)):
            return values.astype(np.uint8)
        return values / 255.0
    return values


def _labels(
    array: np.ndarray, where: object, count: int, *, allow_unknown: bool = False, like: str = "images"
) -> np.ndarray:
    """Validate labels: 1-D, ``count`` long, integers (or integral floats) in -1..9 (or -2 when allowed)."""
    if array.ndim != 1 or len(array) != count:
        raise CollectionError(
            f"{where}: expected {count} labels (one per image of {like}), got shape {tuple(array.shape)}"
        )
    values = _integers(array, where)
    low = UNKNOWN_LABEL if allow_unknown else NOT_A_DIGIT
    if values.size and (values.min() < low or values.max() > 9):
        raise CollectionError(f"{where}: labels must be 0-9 or -1 (not a digit)")
    return values


def _indices(
    array: np.ndarray, where: object, count: int, *, allow_unknown: bool = False, like: str = "images"
) -> np.ndarray:
    """Validate MNIST test indices: 1-D, ``count`` long, integers in [0, 10000) (or -1 when allowed)."""
    if array.ndim != 1 or len(array) != count:
        raise CollectionError(
            f"{where}: expected {count} indices (one per image of {like}), got shape {tuple(array.shape)}"
        )
    values = _integers(array, where)
    low = -1 if allow_unknown else 0
    if values.size and (values.min() < low or values.max() >= MNIST_TEST_SIZE):
        raise CollectionError(f"{where}: MNIST test indices must lie in 0..{MNIST_TEST_SIZE - 1}")
    return values


def _integers(array: np.ndarray, where: object) -> np.ndarray:
    if array.dtype.kind in "iu":
        return array.astype(np.int64)
    if array.dtype.kind == "f":
        values = array.astype(np.float64)
        if (
            np.isfinite(values).all()
            and np.array_equal(values, np.rint(values))
            and np.abs(values).max(initial=0) < 2**53
        ):
            return values.astype(np.int64)
    raise CollectionError(f"{where}: expected integers, got {array.dtype}")


def _build(out: Path, name: str, author: str, rows: Iterable[dict[str, Any]], *, source: Path) -> ImportReport:
    """Create the collection in a staging folder, add ``rows`` (keyword arguments of ``add``), publish it."""
    try:
        staged = staging_dir(out, "import")
    except OSError as error:
        raise CollectionError(f"{out}: cannot create the collection's folder ({error.strerror or error})") from None
    counts: dict[str, list[Any]] = {}
    try:
        collection = Collection.create(staged, name, author=author)
        try:
            with collection.batch():
                for row in rows:
                    try:
                        item = collection.add(**row, allow_violation=True)
                    except InvarianceError as error:
                        raise CollectionError(f"{source}: {error}") from None
                    entry = counts.setdefault(item.set_name, [0, item.norm, item.eps, 0, None])
                    entry[0] += 1
                    if entry[2] != item.eps:
                        entry[2] = None  # the ℓ0 set: each item has its own budget
                    if item.budget_violation is not None:
                        entry[3] += 1
                        entry[4] = max(entry[4] or 0.0, item.budget_violation)
        finally:
            collection.close()
        try:
            publish(staged, out, force=False)
        except FileExistsError:
            raise CollectionError(f"{out}: already exists; choose a new folder for the collection") from None
        except OSError as error:
            raise CollectionError(f"{out}: cannot create the collection ({error})") from None
    finally:
        remove_tree(staged)
    sets = tuple(SetCount(set_name, *values) for set_name, values in counts.items())
    return ImportReport(out, sets)
