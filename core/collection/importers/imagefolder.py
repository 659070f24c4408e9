"""A torchvision ImageFolder: one folder per class (``0``-``9``, ``not_a_digit``) of PNG files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from core.collection import png
from core.collection.export import PREDICTIONS_FILE
from core.collection.importers.common import ImportOptions, csv_int, no_link, read_csv_records
from core.collection.schema import LABEL_FIELDS, is_item_id
from core.errors import CollectionError
from core.labels import NOT_A_DIGIT


def imagefolder_rows(folder: Path, options: ImportOptions) -> list[dict[str, Any]]:
    """Rows of a torchvision ImageFolder whose classes are the labels ``options.label`` names."""
    kind = options.label
    rows = []
    seen: set[str] = set()
    for entry in folder.iterdir():
        no_link(entry)
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
            no_link(file)
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
    table = no_link(folder / PREDICTIONS_FILE)
    if not table.exists():
        return {}
    found: dict[str, dict[str, int]] = {}
    for number, record in read_csv_records(table):
        where = f"{table} line {number}"
        item_id = record.get("id", "")
        found[item_id] = {
            key[len("pred_") :]: csv_int(value, f"{where} '{key}'")
            for key, value in record.items()
            if key.startswith("pred_") and value != ""
        }
    return found
