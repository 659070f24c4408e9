"""The item record of a labeled set: fields, JSON form and validation.

An :class:`Item` is immutable. Its pixels are uint8 (28, 28) arrays (``image`` = the edited digit, ``original``
= the unedited source digit or ``None`` when unknown); ``image_float()`` / ``original_float()`` give float32 in
[0, 1] (``k / 255``). Everything else is plain JSON-compatible data; :func:`item_to_record` /
:func:`record_to_fields` convert to and from the dictionaries stored in ``manifest.json`` and the journal.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from typing import Any, Final, TypeGuard

import numpy as np

from core.budget import NORMS
from core.errors import CollectionError
from core.images import to_float
from core.labels import is_valid_label

FORMAT_VERSION: Final = 1
"""Version of ``manifest.json`` and of the journal lines."""

METHODS: Final = ("manual", "geninv-l0", "geninv-linf", "imported")
"""How an item was made."""

LABEL_KINDS: Final = ("original", "intended", "human", "consensus")
"""What ``--label`` may pick, in every export format and importer. The meanings (DESIGN.md, "A labelled item"):

- ``original``: ``original_label``, the source data set's (MNIST's) label of the unedited digit;
- ``intended``: ``intended_label``, what the item's author meant it to become;
- ``consensus``: ``human_label``, the label people agree on: written by ``study ingest`` when at least the
  study's threshold (70% by default) of the raters gave it, or imported (the paper's consensus labels);
- ``human``: the same field as ``consensus`` (one human label per item); the raters' own labels are
  ``human_labels`` (rater -> label), exported beside it.
"""

LABEL_FIELDS: Final = {
    "original": "original_label",
    "intended": "intended_label",
    "human": "human_label",
    "consensus": "human_label",
}
"""The :class:`Item` field each of :data:`LABEL_KINDS` reads."""

SPLITS: Final = ("train", "test")
IMAGE_SHAPE: Final = (28, 28)

ID_PATTERN: Final = re.compile(r"[0-9a-f]{32}")
"""An item id: 32 lowercase hex digits (always matched whole, with ``fullmatch``)."""
_FILE_PATTERN: Final = re.compile(r"(images|originals)/[0-9a-zA-Z_.-]+\.png")


def is_item_id(value: object) -> TypeGuard[str]:
    """Whether ``value`` is a valid item id (32 lowercase hex digits, nothing before or after)."""
    return isinstance(value, str) and ID_PATTERN.fullmatch(value) is not None


def now_iso() -> str:
    """Current time as ISO 8601 UTC with milliseconds, e.g. ``2026-11-21T19:50:00.123Z``."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True, repr=False)
class Item:
    """One saved example. Arrays are read-only uint8 (28, 28); mappings must not be mutated by callers."""

    id: str
    image: np.ndarray
    original: np.ndarray | None
    source_split: str | None
    source_index: int | None
    original_label: int | None
    intended_label: int | None
    human_label: int | None
    human_labels: Mapping[str, int]
    norm: str | None
    eps: float | None
    distances: Mapping[str, float]
    budget_violation: float | None
    method: str
    set_name: str
    predictions: Mapping[str, int]
    author: str
    created: str
    modified: str
    notes: str
    image_file: str = ""
    original_file: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    def __repr__(self) -> str:
        return (
            f"Item(id={self.id!r}, set_name={self.set_name!r}, method={self.method!r}, "
            f"source={self.source_split}:{self.source_index}, intended={self.intended_label}, "
            f"human={self.human_label}, norm={self.norm}, eps={self.eps})"
        )

    def image_float(self) -> np.ndarray:
        """The edited image as float32 (28, 28) in [0, 1]."""
        return to_float(self.image)

    def original_float(self) -> np.ndarray:
        """The original image as float32 (28, 28) in [0, 1]; CollectionError when the item has no original."""
        if self.original is None:
            raise CollectionError(f"item {self.id} has no original image")
        return to_float(self.original)

    def predictions_agree(self) -> bool | None:
        """True when every saved model prediction equals the intended label; None without predictions/label."""
        if not self.predictions or self.intended_label is None:
            return None
        return all(label == self.intended_label for label in self.predictions.values())


SCALAR_FIELDS: Final = (
    "id",
    "set_name",
    "method",
    "source_split",
    "source_index",
    "original_label",
    "intended_label",
    "human_label",
    "norm",
    "eps",
    "budget_violation",
    "author",
    "created",
    "modified",
    "notes",
)
"""The scalar fields of an item, in export order."""

EDITABLE_FIELDS: Final = frozenset(
    {"intended_label", "human_label", "human_labels", "notes", "set_name", "method", "predictions", "author"}
)
"""Fields :meth:`Collection.update` may change without touching pixels (``image``, ``norm``, ``eps`` also can)."""


def item_to_record(item: Item) -> dict[str, Any]:
    """JSON-compatible dict of ``item`` (pixels are referenced by file name)."""
    record: dict[str, Any] = {name: getattr(item, name) for name in SCALAR_FIELDS}
    record["human_labels"] = dict(item.human_labels)
    record["distances"] = dict(item.distances)
    record["predictions"] = dict(item.predictions)
    record["image_file"] = item.image_file
    record["original_file"] = item.original_file
    if item.extra:
        record["extra"] = dict(item.extra)
    return record


def record_to_fields(record: object, where: str) -> dict[str, Any]:
    """Validate a stored record and return the keyword arguments of :class:`Item` (without the pixels).

    ``where`` names the file and position for error messages. Raises :class:`CollectionError`.
    """
    if not isinstance(record, dict):
        raise CollectionError(f"{where}: item is not a JSON object")
    item_id = record.get("id")
    if not is_item_id(item_id):
        raise CollectionError(f"{where}: invalid item id {item_id!r}")
    where = f"{where} (item {item_id})"
    out: dict[str, Any] = {"id": item_id}
    out["set_name"] = _string(record, "set_name", where)
    out["method"] = _string(record, "method", where)
    if out["method"] not in METHODS:
        raise CollectionError(f"{where}: unknown method {out['method']!r}")
    out["source_split"] = _optional(record, "source_split", str, where)
    if out["source_split"] is not None and out["source_split"] not in SPLITS:
        raise CollectionError(f"{where}: unknown source split {out['source_split']!r}")
    out["source_index"] = _optional_int(record, "source_index", where)
    if out["source_index"] is not None and not 0 <= out["source_index"] < 2**31:
        raise CollectionError(f"{where}: source index out of range")
    out["original_label"] = _optional_label(record, "original_label", where, digits_only=True)
    out["intended_label"] = _optional_label(record, "intended_label", where)
    out["human_label"] = _optional_label(record, "human_label", where)
    out["norm"] = _optional(record, "norm", str, where)
    if out["norm"] is not None and out["norm"] not in NORMS:
        raise CollectionError(f"{where}: unknown norm {out['norm']!r}")
    out["eps"] = _optional_number(record, "eps", where)
    out["budget_violation"] = _optional_number(record, "budget_violation", where)
    for name in ("author", "created", "modified", "notes"):
        out[name] = _string(record, name, where)
    out["human_labels"] = _label_map(record, "human_labels", where)
    out["predictions"] = _label_map(record, "predictions", where, digits_only=True)
    distances = record.get("distances")
    if not isinstance(distances, dict) or not all(
        key in NORMS and is_finite_number(value) for key, value in distances.items()
    ):
        raise CollectionError(f"{where}: 'distances' must map norm names to numbers")
    out["distances"] = {key: float(value) for key, value in distances.items()}
    image_file = record.get("image_file")
    if not isinstance(image_file, str) or not _FILE_PATTERN.fullmatch(image_file):
        raise CollectionError(f"{where}: invalid image_file {image_file!r}")
    out["image_file"] = image_file
    original_file = record.get("original_file")
    if original_file is not None and (not isinstance(original_file, str) or not _FILE_PATTERN.fullmatch(original_file)):
        raise CollectionError(f"{where}: invalid original_file {original_file!r}")
    out["original_file"] = original_file
    extra = record.get("extra", {})
    if not isinstance(extra, dict):
        raise CollectionError(f"{where}: 'extra' must be an object")
    out["extra"] = extra
    return out


def item_field_names() -> tuple[str, ...]:
    return tuple(f.name for f in fields(Item))


def check_label(label: object, what: str, *, digits_only: bool = False) -> int | None:
    """``label`` as int (0-9, or -1 = not a digit unless ``digits_only``) or None; CollectionError otherwise."""
    if label is None:
        return None
    if isinstance(label, bool) or not isinstance(label, (int, np.integer)):
        raise CollectionError(f"{what}: label must be an integer, got {label!r}")
    value = int(label)
    if not is_valid_label(value) or (digits_only and value < 0):
        raise CollectionError(f"{what}: invalid label {value}")
    return value


def is_finite_number(value: object) -> bool:
    """A finite JSON number (not a bool) that fits a float (an integer with hundreds of digits does not)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    try:
        return math.isfinite(float(value))
    except OverflowError:
        return False


def _string(record: dict[str, Any], name: str, where: str) -> str:
    value = record.get(name)
    if not isinstance(value, str):
        raise CollectionError(f"{where}: '{name}' must be a string")
    return value


def _optional(record: dict[str, Any], name: str, kind: type, where: str) -> Any:
    return _optional_checked(record, name, where, lambda value: isinstance(value, kind), kind.__name__)


def _optional_int(record: dict[str, Any], name: str, where: str) -> int | None:
    return _optional_checked(record, name, where, _is_int, "an integer")


def _optional_number(record: dict[str, Any], name: str, where: str) -> float | None:
    value = _optional_checked(record, name, where, _is_non_negative, "a finite number >= 0")
    return None if value is None else float(value)


def _optional_checked(record: dict[str, Any], name: str, where: str, accept: Callable[[Any], bool], wanted: str) -> Any:
    """``record[name]``, or None when it is absent or null; a value that ``accept`` refuses is one
    :class:`CollectionError` line: ``'name' must be {wanted} or null``."""
    value = record.get(name)
    if value is not None and not accept(value):
        raise CollectionError(f"{where}: '{name}' must be {wanted} or null")
    return value


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_non_negative(value: Any) -> bool:
    return is_finite_number(value) and value >= 0


def _optional_label(record: dict[str, Any], name: str, where: str, *, digits_only: bool = False) -> int | None:
    value = record.get(name)
    if isinstance(value, float):
        raise CollectionError(f"{where}: '{name}' must be an integer label or null")
    return check_label(value, f"{where} '{name}'", digits_only=digits_only)


def _label_map(record: dict[str, Any], name: str, where: str, *, digits_only: bool = False) -> dict[str, int]:
    value = record.get(name)
    if not isinstance(value, dict):
        raise CollectionError(f"{where}: '{name}' must be an object")
    out: dict[str, int] = {}
    for key, label in value.items():
        checked = check_label(label, f"{where} '{name}'[{key!r}]", digits_only=digits_only)
        if checked is None:
            raise CollectionError(f"{where}: '{name}'[{key!r}] is null")
        out[str(key)] = checked
    return out
