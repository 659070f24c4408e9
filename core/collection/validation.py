"""Checking and building the items of a collection: labels, budget, pixels and the MNIST source.

:func:`new_item` turns the keyword arguments of :meth:`Collection.add <core.collection.store.Collection.add>` into
a validated :class:`~core.collection.schema.Item` without touching any file, so a writer that needs items but
no collection folder (``invariance geninv --out x.npz``) builds them the same way.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any, TypedDict, Unpack

import numpy as np

from core.budget import FEASIBILITY_TOLERANCE, NORMS, distance, quantize
from core.collection.mnist_lookup import mnist_source
from core.collection.schema import IMAGE_SHAPE, METHODS, SPLITS, Item, check_label, now_iso
from core.errors import BudgetError, CollectionError
from core.images import to_float, to_uint8


def pixels_digest(pixels: np.ndarray) -> str:
    """First 16 hex digits of the sha256 of a uint8 (28, 28) array's bytes."""
    return hashlib.sha256(np.ascontiguousarray(pixels).tobytes()).hexdigest()[:16]


class ItemFields(TypedDict, total=False):
    """The optional keyword arguments of :func:`new_item` and :meth:`Collection.add`; absent means None/empty.

    Each sets the :class:`Item` field of the same name (and type, None allowed), except ``allow_violation``;
    grouped as :func:`new_item` reads them.
    """

    # the MNIST source digit; it fills original and original_label when they are absent
    source_split: str | None
    source_index: int | None
    original: np.ndarray | None
    original_label: int | None
    # what the author meant and what raters saw
    intended_label: int | None
    human_label: int | None
    human_labels: Mapping[str, int] | None
    # the budget, checked after rounding to uint8
    norm: str | None
    eps: float | None
    allow_violation: bool
    # the record
    method: str
    set_name: str
    predictions: Mapping[str, int] | None
    notes: str
    extra: Mapping[str, Any] | None


def new_item(image: np.ndarray, *, item_id: str, author: str, **given: Unpack[ItemFields]) -> Item:
    """A new item with id ``item_id`` (see :meth:`Collection.add <core.collection.store.Collection.add>`).

    ``original`` defaults to MNIST ``source_split[source_index]``, whose label also fills ``original_label``.
    """
    original, original_label = given.get("original"), given.get("original_label")
    source_split, source_index = given.get("source_split"), given.get("source_index")
    if (source_split is None) != (source_index is None):
        raise CollectionError("source_split and source_index go together")
    if source_split is not None and source_index is not None:
        source_pixels, source_label = mnist_source(source_split, int(source_index))
        if original is None:
            original = source_pixels
        if original_label is None:
            original_label = source_label
        elif original_label != source_label:
            raise CollectionError(
                f"original label {original_label} disagrees with MNIST {source_split}[{source_index}], "
                f"which is a {source_label}"
            )
    timestamp = now_iso()
    fields: dict[str, Any] = {
        "id": item_id,
        "source_split": source_split,
        "source_index": None if source_index is None else int(source_index),
        "original_label": original_label,
        "intended_label": given.get("intended_label"),
        "human_label": given.get("human_label"),
        "human_labels": dict(given.get("human_labels") or {}),
        "method": given.get("method", "manual"),
        "set_name": given.get("set_name", ""),
        "predictions": dict(given.get("predictions") or {}),
        "author": author,
        "created": timestamp,
        "modified": timestamp,
        "notes": given.get("notes", ""),
        "extra": dict(given.get("extra") or {}),
    }
    original_u8 = None if original is None else as_original(original)
    norm, eps = given.get("norm"), given.get("eps")
    return build_item(fields, image, original_u8, norm, eps, given.get("allow_violation", False))


def build_item(
    fields: dict[str, Any],
    image: np.ndarray,
    original: np.ndarray | None,
    norm: str | None,
    eps: float | None,
    allow_violation: bool,
) -> Item:
    """Validate ``fields`` and the budget, round ``image`` to uint8 and measure its distances -> an Item.

    An item outside ``norm``/``eps`` raises BudgetError unless ``allow_violation``, in which case the measured
    distance is kept in ``budget_violation``.
    """
    item_id = fields["id"]
    where = f"item {item_id}"
    if fields["method"] not in METHODS:
        raise CollectionError(f"{where}: unknown method {fields['method']!r}; choose one of {', '.join(METHODS)}")
    if fields["source_split"] is not None and fields["source_split"] not in SPLITS:
        raise CollectionError(f"{where}: unknown source split {fields['source_split']!r}")
    for name in ("intended_label", "human_label"):
        fields[name] = check_label(fields[name], f"{where} {name}")
    fields["original_label"] = check_label(fields["original_label"], f"{where} original_label", digits_only=True)
    fields["human_labels"] = {
        str(rater): _required_label(label, f"{where} human_labels[{rater!r}]")
        for rater, label in fields["human_labels"].items()
    }
    fields["predictions"] = {
        str(model): _required_label(label, f"{where} predictions[{model!r}]", digits_only=True)
        for model, label in fields["predictions"].items()
    }
    for name in ("set_name", "author", "notes"):
        if not isinstance(fields[name], str):
            raise CollectionError(f"{where}: {name} must be a string")
    try:
        json.dumps(fields["extra"], allow_nan=False)
    except (TypeError, ValueError) as error:
        raise CollectionError(f"{where}: extra must be plain JSON data ({error})") from None
    eps = _checked_budget(norm, eps, where)
    pixels = _as_image(image, original, norm, eps, where)
    distances: dict[str, float] = {}
    violation = None
    if original is not None:
        original_f, pixels_f = to_float(original), to_float(pixels)
        distances = {name: float(distance(original_f, pixels_f, name)) for name in NORMS}
        if norm is not None and eps is not None and distances[norm] > eps + FEASIBILITY_TOLERANCE:
            if not allow_violation:
                raise BudgetError(f"{where}: {norm} distance {distances[norm]:.6g} exceeds eps {eps:g}")
            violation = distances[norm]
    pixels.setflags(write=False)
    image_file = f"images/{item_id}-{pixels_digest(pixels)}.png"
    original_file = None if original is None else f"originals/{pixels_digest(original)}.png"
    return Item(
        image=pixels,
        original=original,
        norm=norm,
        eps=eps,
        distances=distances,
        budget_violation=violation,
        image_file=image_file,
        original_file=original_file,
        **fields,
    )


def check_pixels(pixels: object, what: str) -> None:
    """CollectionError unless ``pixels`` is a uint8 (28, 28) array."""
    if not isinstance(pixels, np.ndarray) or pixels.dtype != np.uint8 or pixels.shape != IMAGE_SHAPE:
        raise CollectionError(f"{what} must be a uint8 (28, 28) array")


def as_original(original: np.ndarray) -> np.ndarray:
    """An original image as read-only uint8 (28, 28); floats must lie on the k/255 grid."""
    array = np.asarray(original)
    if array.shape != IMAGE_SHAPE:
        raise CollectionError(f"original image has shape {array.shape}, expected (28, 28)")
    if array.dtype == np.uint8:
        out = array.copy()
    elif np.issubdtype(array.dtype, np.floating):
        if not np.isfinite(array).all() or array.min() < 0 or array.max() > 1:
            raise CollectionError("original image must be finite and in [0, 1]")
        scaled = array.astype(np.float64) * 255.0
        if np.abs(scaled - np.rint(scaled)).max() > 1e-3:
            raise CollectionError("original image is not on the uint8 grid (k / 255)")
        out = to_uint8(array)
    else:
        raise CollectionError(f"original image must be uint8 or float, got {array.dtype}")
    out.setflags(write=False)
    return out


def _checked_budget(norm: str | None, eps: float | None, where: str) -> float | None:
    """``eps`` as a float once ``norm`` and ``eps`` are known to form a stored budget (or both are None)."""
    if norm is not None and norm not in NORMS:
        raise CollectionError(f"{where}: unknown norm {norm!r}; choose one of {', '.join(NORMS)}")
    if (norm is None) != (eps is None):
        raise CollectionError(f"{where}: norm and eps go together (got norm={norm!r}, eps={eps!r})")
    if norm is None or eps is None:
        return None
    try:
        return NORMS[norm].validate_eps(eps, where=f"{where}: eps", stored=True)
    except BudgetError as error:
        raise CollectionError(str(error)) from None


def _required_label(label: object, what: str, *, digits_only: bool = False) -> int:
    checked = check_label(label, what, digits_only=digits_only)
    if checked is None:
        raise CollectionError(f"{what}: label is missing")
    return checked


def _as_image(
    image: np.ndarray, original: np.ndarray | None, norm: str | None, eps: float | None, where: str
) -> np.ndarray:
    """The edited image as uint8 (28, 28): uint8 kept as is, float in [0, 1] rounded within the budget."""
    array = np.asarray(image)
    if array.shape != IMAGE_SHAPE:
        raise CollectionError(f"{where}: image has shape {array.shape}, expected (28, 28)")
    if array.dtype == np.uint8:
        return array.copy()
    if not np.issubdtype(array.dtype, np.floating):
        raise CollectionError(f"{where}: image must be uint8 or float in [0, 1], got {array.dtype}")
    if not np.isfinite(array).all():
        raise CollectionError(f"{where}: image contains NaN or infinite values")
    if array.min() < -1e-6 or array.max() > 1 + 1e-6:
        raise CollectionError(f"{where}: float image has values outside [0, 1]")
    clipped = np.clip(array.astype(np.float64), 0.0, 1.0)
    if original is not None and norm is not None and eps is not None:
        return quantize(to_float(original), clipped, norm, eps)
    return to_uint8(clipped)
