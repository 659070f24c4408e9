"""Our CSV export (``items.csv`` + ``images/`` + ``originals/``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from core.collection import png
from core.collection.importers.common import ImportOptions, csv_int, inside, json_loads, no_link, read_csv_records
from core.collection.schema import LABEL_FIELDS, is_finite_number, is_item_id
from core.errors import CollectionError


def csv_rows(folder: Path, options: ImportOptions) -> list[dict[str, Any]]:
    """Rows of a CSV export (``items.csv`` + ``images/`` + ``originals/``); every field but timestamps returns."""
    kind = options.label
    table = no_link(folder / "items.csv")
    rows = []
    seen: set[str] = set()
    for number, record in read_csv_records(table):
        where = f"{table} line {number}"
        text = {key: value for key, value in record.items() if value != ""}
        if "image_file" not in text:
            raise CollectionError(f"{where}: missing image_file")
        row: dict[str, Any] = {
            "image": png.read_digit_png(inside(folder, text["image_file"], where)),
            "method": text.get("method", "imported"),
            "set_name": text.get("set_name", folder.name),
            "notes": text.get("notes", ""),
        }
        if "original_file" in text:
            row["original"] = png.read_digit_png(inside(folder, text["original_file"], where))
        item_id = text.get("id", "")
        if is_item_id(item_id) and item_id not in seen:
            row["item_id"] = item_id
            seen.add(item_id)
        for key in ("intended_label", "human_label", "original_label", "source_index"):
            if key in text:
                row[key] = csv_int(text[key], f"{where} '{key}'")
        if "intended_label" not in text and "human_label" not in text and "label" in text:
            row[LABEL_FIELDS[kind]] = csv_int(text["label"], f"{where} 'label'")
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
                value = json_loads(text[key], f"{where} '{key}'")
                if not isinstance(value, dict):
                    raise CollectionError(f"{where}: '{key}' must map names to labels")
                row[key] = value
        rows.append(row)
    return rows
