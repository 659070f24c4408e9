"""Export a collection to npz, torchvision ImageFolder, CSV or Hugging Face imagefolder layouts.

Every export re-measures each item's distance on its uint8 pixels and refuses (CollectionError, nothing written)
when one exceeds its budget, unless ``allow_violations`` is set; then the violations are flagged in the output.
The output is built in a hidden temporary folder beside ``out`` and renamed into place. ``out`` may never equal,
contain or lie inside the collection. An existing ``out`` is replaced only with ``force``, and only when it is an
earlier export: a folder holding :data:`EXPORT_MARKER` and nothing but the files that marker lists (so never a
collection, a ``.lock`` or a user's file), or an npz file carrying the :data:`NPZ_MARKER` array.

Labels: ``--label`` picks one of :data:`~core.collection.schema.LABEL_KINDS` (original, intended, human or
consensus; see there for their meanings). It fills the ImageFolder classes, the CSV/HF ``label`` column and the
npz ``labels`` array (named in ``label_kind``); every format also carries each kind under its own name (CSV/HF
``original_label``, ``intended_label``, ``human_label`` and the per-rater ``human_labels``; npz
``original_labels``, ``intended_labels``, ``consensus_labels``, ``rater_labels``) and every model's saved
prediction (CSV/HF ``pred_<model>``; npz ``prediction_models`` and ``predictions`` (N, models); ImageFolder
:data:`PREDICTIONS_FILE`). The npz also keeps each item's ``extra`` fields as JSON text (``extras``); it is the
one npz layout of the project (``invariance geninv --out x.npz`` writes it too, via :func:`write_npz`) and
:func:`core.collection.importers.import_npz` reads every field of it back.

Sentinels: in the npz, unknown labels are ``-2`` (:data:`UNKNOWN_LABEL`; ``-1`` is "not a digit"), unknown
source indices ``-1``, unknown eps ``NaN``, unknown norms ``""``; in CSV and JSON, unknown values are empty / null.
"""

from __future__ import annotations

import csv
import io
import json
import os
import zipfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import numpy as np

from core.budget import FEASIBILITY_TOLERANCE, NORMS, distance
from core.collection import png
from core.collection.fsutil import (
    StagedWords,
    StaleStaging,
    clear_stale_staging,
    fsync_dir,
    fsync_file,
    write_staged,
)
from core.collection.schema import FORMAT_VERSION, LABEL_FIELDS, LABEL_KINDS, SCALAR_FIELDS, Item
from core.collection.store import Collection
from core.errors import CollectionError
from core.images import to_float
from core.labels import NOT_A_DIGIT

UNKNOWN_LABEL: Final = -2
"""npz sentinel for a label that is not known (``-1`` already means "not a digit")."""
NOT_A_DIGIT_FOLDER: Final = "not_a_digit"
PREDICTIONS_FILE: Final = "predictions.csv"
"""Beside an ImageFolder export's class folders: each model's saved prediction per item (``id``, ``pred_<model>``)."""
NORM_ORDER: Final = tuple(NORMS)
EXPORT_MARKER: Final = ".invariance-export.json"
"""File written last into every folder export: it lists the export's files, so ``force`` can tell it apart."""
NPZ_MARKER: Final = "written_by"
"""Array in every npz export (``"invariance export"``), so ``force`` replaces only an earlier export."""
WRITTEN_BY: Final = "invariance export"
NPZ_FILE: Final = "export.npz"
_NEVER_REPLACED: Final = ("manifest.json", ".lock")


@dataclass(frozen=True)
class Violation:
    """An item whose uint8 pixels are farther than ``eps`` from its original in ``norm``."""

    item_id: str
    norm: str
    eps: float
    distance: float


@dataclass(frozen=True)
class ExportReport:
    """What an export wrote: the path, how many items, which were left out (no label) and the violations."""

    path: Path
    format: str
    count: int
    skipped: tuple[str, ...]
    violations: tuple[Violation, ...]
    stale: StaleStaging = field(default_factory=StaleStaging)
    """Staging folders of killed exports to ``path``: removed (owner gone) or left and named."""


def check_budgets(items: Sequence[Item]) -> list[Violation]:
    """Items whose stored uint8 image exceeds its norm/eps budget (items without original or budget pass)."""
    violations = []
    for item in items:
        if item.original is None or item.norm is None or item.eps is None:
            continue
        measured = float(distance(to_float(item.original), to_float(item.image), item.norm))
        if measured > item.eps + FEASIBILITY_TOLERANCE:
            violations.append(Violation(item.id, item.norm, item.eps, measured))
    return violations


def label_of(item: Item, kind: str) -> int | None:
    """The label of ``item`` that ``kind`` (one of :data:`LABEL_KINDS`) names."""
    value: int | None = getattr(item, LABEL_FIELDS[kind])
    return value


@dataclass(frozen=True)
class Exporter:
    """How one format is written: ``write(folder, items, flagged, label_kind)`` fills an empty staging folder and
    returns the ids of the items it left out; a single-file format names the one file it writes there."""

    write: Callable[[Path, Sequence[Item], Mapping[str, Violation], str], list[str]]
    file_name: str | None = None


_EXPORT_WORDS: Final = StagedWords("the output's folder", "write the export", "pass --force to replace it")


def export_collection(
    collection: Collection,
    out: str | Path,
    fmt: str,
    *,
    label: str = "intended",
    allow_violations: bool = False,
    force: bool = False,
) -> ExportReport:
    """Write ``collection`` to ``out`` in format ``fmt`` (one of :data:`EXPORT_FORMATS`).

    ``label`` (one of :data:`LABEL_KINDS`) picks the label of the ImageFolder classes, the ``label`` column and
    the npz ``labels`` array.
    Raises CollectionError (and writes nothing) on budget violations unless ``allow_violations``, and when
    ``out`` exists unless ``force``.
    """
    out = Path(out)
    if fmt not in EXPORT_FORMATS:
        raise CollectionError(f"unknown export format {fmt!r}; choose one of {', '.join(EXPORT_FORMATS)}")
    if label not in LABEL_KINDS:
        raise CollectionError(f"unknown label kind {label!r}; choose one of {', '.join(LABEL_KINDS)}")
    _check_destination(out, collection.path, fmt, force=force)
    items = collection.items
    violations = check_budgets(items)
    if violations and not allow_violations:
        first = violations[0]
        raise CollectionError(
            f"{collection.path}: {len(violations)} item(s) exceed their budget after rounding to uint8 "
            f"(first: {first.item_id} {first.norm} {first.distance:.6g} > {first.eps:g}); nothing written; "
            "pass --allow-violations to export them flagged"
        )
    flagged = {violation.item_id: violation for violation in violations}
    stale = clear_stale_staging(out, "export")
    exporter = EXPORTERS[fmt]
    skipped: list[str] = []

    def write(staged: Path) -> Path:
        skipped.extend(exporter.write(staged, items, flagged, label))
        if exporter.file_name is None:
            _write_marker(staged, fmt)
        _fsync_tree(staged)
        return staged if exporter.file_name is None else staged / exporter.file_name

    write_staged(out, "export", write, _EXPORT_WORDS, force=force)
    return ExportReport(out, fmt, len(items) - len(skipped), tuple(skipped), tuple(violations), stale)


def _check_destination(out: Path, collection: Path, fmt: str, *, force: bool) -> None:
    """Refuse an ``out`` that overlaps ``collection``, or that exists and is not an earlier export to replace."""
    home = collection.resolve()
    target = out.parent.resolve() / out.name if out.is_symlink() else out.resolve()
    if target == home or home in target.parents or target in home.parents:
        raise CollectionError(f"{out}: overlaps the collection {collection}; choose an output outside it")
    if not (out.exists() or out.is_symlink()):
        return
    if not force:
        raise CollectionError(f"{out}: already exists; pass --force to replace it")
    problem = _not_an_export(out, fmt)
    if problem:
        raise CollectionError(f"{out}: not replacing it: {problem}")


def _not_an_export(out: Path, fmt: str) -> str:
    """Why ``out`` is not an earlier ``fmt`` export that ``force`` may replace ("" when it is one)."""
    if out.is_symlink():
        return "it is a symbolic link"
    if EXPORTERS[fmt].file_name is not None:
        if not out.is_file():
            return "it is not a file"
        try:
            with zipfile.ZipFile(out) as archive:
                ours = f"{NPZ_MARKER}.npy" in archive.namelist()
        except (OSError, zipfile.BadZipFile, zipfile.LargeZipFile):
            ours = False
        return "" if ours else f"not written by {WRITTEN_BY}"
    if not out.is_dir():
        return "it is not a folder"
    try:
        listed = json.loads((out / EXPORT_MARKER).read_text(encoding="utf-8"))["files"]
        expected = {str(name) for name in listed} | {EXPORT_MARKER}
    except (OSError, ValueError, KeyError, TypeError, RecursionError):
        return f"not written by {WRITTEN_BY} (no valid {EXPORT_MARKER})"
    for folder, dirs, files in os.walk(out):
        for name in dirs + files:
            path = Path(folder) / name
            if name in _NEVER_REPLACED:
                return f"it holds {path.relative_to(out)}"
            if path.is_symlink():
                return f"it holds a symbolic link {path.relative_to(out)}"
            if path.is_file() and path.relative_to(out).as_posix() not in expected:
                return f"{path.relative_to(out)} was not written by {WRITTEN_BY}"
    return ""


def _write_marker(root: Path, fmt: str) -> None:
    files = sorted(
        (Path(folder) / name).relative_to(root).as_posix() for folder, _, names in os.walk(root) for name in names
    )
    marker = {"format_version": FORMAT_VERSION, "written_by": WRITTEN_BY, "format": fmt, "files": files}
    (root / EXPORT_MARKER).write_text(json.dumps(marker, indent=1) + "\n", encoding="utf-8")


def _models(items: Sequence[Item]) -> list[str]:
    """Every model with a saved prediction on at least one item, sorted."""
    return sorted({model for item in items for model in item.predictions})


def write_npz(
    target: Path,
    items: Sequence[Item],
    *,
    label: str,
    flagged: Mapping[str, Violation] | None = None,
    written_by: str = WRITTEN_BY,
) -> None:
    """Write ``items`` to the file ``target`` in the one npz layout (see the module docstring), which
    :func:`core.collection.importers.import_npz` reads back.

    ``label`` (one of :data:`LABEL_KINDS`) fills ``labels``; ``flagged`` items are marked in ``exceeds_budget``;
    ``written_by`` names the writing command in the :data:`NPZ_MARKER` array.
    """
    flagged = flagged or {}
    count = len(items)
    models = _models(items)

    def labels(values: list[int | None]) -> np.ndarray:
        return np.array([UNKNOWN_LABEL if v is None else v for v in values], dtype=np.int64).reshape(count)

    def strings(values: list[str]) -> np.ndarray:
        return np.array(values, dtype=str).reshape(count) if count else np.zeros(0, dtype="<U1")

    arrays: dict[str, Any] = {
        "format_version": np.array(FORMAT_VERSION, dtype=np.int64),
        NPZ_MARKER: np.array(written_by),
        "images": np.stack([item.image for item in items]) if count else np.zeros((0, 28, 28), np.uint8),
        "originals": np.stack([_original_or_zeros(item) for item in items])
        if count
        else np.zeros((0, 28, 28), np.uint8),
        "has_original": np.array([item.original is not None for item in items], dtype=bool).reshape(count),
        "labels": labels([label_of(item, label) for item in items]),
        "label_kind": np.array(label),
        "original_labels": labels([item.original_label for item in items]),
        "intended_labels": labels([item.intended_label for item in items]),
        "consensus_labels": labels([item.human_label for item in items]),
        "rater_labels": strings([json.dumps(dict(item.human_labels), sort_keys=True) for item in items]),
        "extras": strings([json.dumps(dict(item.extra), sort_keys=True, allow_nan=False) for item in items]),
        "prediction_models": np.array(models, dtype=str) if models else np.zeros(0, dtype="<U1"),
        "predictions": np.array(
            [[item.predictions.get(model, UNKNOWN_LABEL) for model in models] for item in items], dtype=np.int64
        ).reshape(count, len(models)),
        "source_indices": np.array(
            [-1 if item.source_index is None else item.source_index for item in items], dtype=np.int64
        ).reshape(count),
        "source_splits": strings([item.source_split or "" for item in items]),
        "ids": strings([item.id for item in items]),
        "set_names": strings([item.set_name for item in items]),
        "methods": strings([item.method for item in items]),
        "norms": strings([item.norm or "" for item in items]),
        "eps": np.array([np.nan if item.eps is None else item.eps for item in items], dtype=np.float64).reshape(count),
        "distance_norms": np.array(NORM_ORDER, dtype=str),
        "distances": np.array(
            [[item.distances.get(name, np.nan) for name in NORM_ORDER] for item in items], dtype=np.float64
        ).reshape(count, len(NORM_ORDER)),
        "exceeds_budget": np.array([item.id in flagged for item in items], dtype=bool).reshape(count),
    }
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    target.write_bytes(buffer.getvalue())


def _export_npz(root: Path, items: Sequence[Item], flagged: Mapping[str, Violation], kind: str) -> list[str]:
    write_npz(root / NPZ_FILE, items, label=kind, flagged=flagged)
    return []


def _original_or_zeros(item: Item) -> np.ndarray:
    return item.original if item.original is not None else np.zeros((28, 28), dtype=np.uint8)


def _class_folder(label: int) -> str:
    return NOT_A_DIGIT_FOLDER if label == NOT_A_DIGIT else str(label)


def _write_imagefolder(root: Path, items: Sequence[Item], flagged: Mapping[str, Violation], kind: str) -> list[str]:
    skipped = []
    for item in items:
        value = label_of(item, kind)
        if value is None:
            skipped.append(item.id)
            continue
        folder = root / _class_folder(value)
        folder.mkdir(exist_ok=True)
        (folder / f"{item.id}.png").write_bytes(png.encode_png(item.image))
    models = _models(items)
    if models:
        written = [item for item in items if item.id not in skipped]
        with (root / PREDICTIONS_FILE).open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(["id", *(f"pred_{model}" for model in models)])
            for item in written:
                writer.writerow([item.id, *("" if (p := item.predictions.get(m)) is None else p for m in models)])
    if flagged:
        _write_violations(root / "budget_violations.csv", flagged)
    return skipped


def _write_violations(path: Path, flagged: Mapping[str, Violation]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "norm", "eps", "distance"])
        for violation in flagged.values():
            writer.writerow([violation.item_id, violation.norm, violation.eps, repr(violation.distance)])


def _row(item: Item, flagged: Mapping[str, Violation], kind: str, models: Sequence[str]) -> dict[str, Any]:
    row: dict[str, Any] = {name: getattr(item, name) for name in SCALAR_FIELDS}
    row["label"] = label_of(item, kind)
    for name in NORM_ORDER:
        row[f"dist_{name}"] = item.distances.get(name)
    row["exceeds_budget"] = int(item.id in flagged)
    row["human_labels"] = json.dumps(dict(item.human_labels), sort_keys=True)
    row["predictions"] = json.dumps(dict(item.predictions), sort_keys=True)
    for model in models:
        row[f"pred_{model}"] = item.predictions.get(model)
    return row


def _write_csv(root: Path, items: Sequence[Item], flagged: Mapping[str, Violation], kind: str) -> list[str]:
    (root / "images").mkdir()
    (root / "originals").mkdir()
    models = _models(items)
    columns = ["image_file", "original_file", *SCALAR_FIELDS, "label"]
    columns += [f"dist_{name}" for name in NORM_ORDER] + ["exceeds_budget", "human_labels", "predictions"]
    columns += [f"pred_{model}" for model in models]
    with (root / "items.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        for item in items:
            row = _row(item, flagged, kind, models)
            row["image_file"] = f"images/{item.id}.png"
            (root / row["image_file"]).write_bytes(png.encode_png(item.image))
            row["original_file"] = ""
            if item.original is not None:
                row["original_file"] = f"originals/{item.id}.png"
                (root / row["original_file"]).write_bytes(png.encode_png(item.original))
            writer.writerow({key: "" if value is None else value for key, value in row.items()})
    return []


def _write_hf(root: Path, items: Sequence[Item], flagged: Mapping[str, Violation], kind: str) -> list[str]:
    models = _models(items)
    with (root / "metadata.jsonl").open("w", encoding="utf-8") as handle:
        for item in items:
            row = {"file_name": f"{item.id}.png", **_row(item, flagged, kind, models)}
            (root / row["file_name"]).write_bytes(png.encode_png(item.image))
            handle.write(json.dumps(row, allow_nan=False) + "\n")
    return []


EXPORTERS: Final[dict[str, Exporter]] = {
    "npz": Exporter(_export_npz, file_name=NPZ_FILE),
    "imagefolder": Exporter(_write_imagefolder),
    "csv": Exporter(_write_csv),
    "hf": Exporter(_write_hf),
}
"""Every export format by name; add a format here."""
EXPORT_FORMATS: Final = tuple(EXPORTERS)


def _fsync_tree(root: Path) -> None:
    for folder, _, files in os.walk(root):
        for name in files:
            fsync_file(Path(folder) / name)
        fsync_dir(Path(folder))
