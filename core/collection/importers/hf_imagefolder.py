"""A Hugging Face imagefolder (``metadata.jsonl`` beside the PNG files), as our export writes it or any other."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from core.collection import png
from core.collection.fsutil import read_limited
from core.collection.importers.common import ImportOptions, inside, json_label, json_loads, no_link
from core.collection.schema import LABEL_FIELDS, METHODS, SPLITS, is_finite_number, is_item_id
from core.errors import CollectionError


def hf_rows(folder: Path, options: ImportOptions) -> list[dict[str, Any]]:
    """Rows of a Hugging Face imagefolder; a bare ``label`` means what ``options.label`` says."""
    kind = options.label
    metadata = no_link(folder / "metadata.jsonl")
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
        entry = json_loads(line, where)
        if not isinstance(entry, dict):
            raise CollectionError(f"{where}: not a JSON object")
        file_name = entry.get("file_name")
        if not isinstance(file_name, str):
            raise CollectionError(f"{where}: missing 'file_name'")
        image = png.read_digit_png(inside(folder, file_name, where))
        row: dict[str, Any] = {"image": image, "method": "imported", "set_name": folder.name}
        item_id = entry.get("id")
        if is_item_id(item_id) and item_id not in seen:
            row["item_id"] = item_id
            seen.add(item_id)
        for key in ("intended_label", "human_label"):
            if key in entry:
                row[key] = json_label(entry[key], f"{where} '{key}'")
        if "intended_label" not in entry and "human_label" not in entry:
            row[LABEL_FIELDS[kind]] = json_label(entry.get("label"), f"{where} 'label'")
        if "original_label" in entry:
            row["original_label"] = json_label(entry["original_label"], f"{where} 'original_label'", digits=True)
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
                value = json_loads(value, f"{where} '{key}'")
            if value is not None:
                if not isinstance(value, dict):
                    raise CollectionError(f"{where}: '{key}' must map names to labels")
                row[key] = value
        rows.append(row)
    return rows
