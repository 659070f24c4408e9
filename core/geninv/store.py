"""Writing GenInv suggestions: into a collection, or into an npz in the layout of ``invariance export``.

Shared by ``invariance geninv``, its benchmark and the human packs. Both outputs hold the same items (one per
digit with a suggestion), so an npz written here imports back with ``invariance import``.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Final

import numpy as np

from core.collection import Collection, Item
from core.collection.export import write_npz
from core.collection.validation import new_item
from core.errors import InvarianceError
from core.files import atomic_output
from core.geninv.api import Suggestion
from core.geninv.run import RUN_KEY_FIELD, DigitResult

NPZ_WRITER: Final = "invariance geninv"
"""The npz's ``written_by``."""


def remove_created_collection(path: Path) -> None:
    """Remove a collection this process created and left empty (nothing else lives in that folder)."""
    shutil.rmtree(path, ignore_errors=True)


UNBUDGETED: Final = "none"
"""The ``budget`` extra field (and set-name suffix) of an ℓ0 suggestion made without a budget (``--eps none``)."""


def set_name(norm: str, eps: float | None) -> str:
    return f"geninv/{norm}/" + (f"eps{eps:g}" if eps is not None else UNBUDGETED)


def suggestion_fields(
    suggestion: Suggestion,
    test_index: int,
    norm: str,
    eps: float | None,
    *,
    predictions: Mapping[str, int] | None = None,
    run_key: str | None = None,
) -> dict[str, Any]:
    """Keyword arguments of :meth:`Collection.add` for one suggestion made for MNIST test digit ``test_index``.

    The test digit is the original, the suggestion's target the intended label, method ``geninv-<norm>``, set
    ``geninv/<norm>/eps<ε>`` (``geninv/l0/none`` without a budget); ℓ0 suggestions without a budget record their
    own ℓ0 distance as ε and ``"budget": "none"`` in their extra fields (else the budget asked for). The training
    image, transform, p_human, raw judge score, aligned cost, "convincing" flag, whether the judge's top class is the
    target, and ``l0_binary`` (pixels changed by more than 1/2) go into the extra fields too, with the run key
    (:func:`core.geninv.run.run_key`) when given. ``predictions``: each model's label on the suggestion.
    """
    extra: dict[str, Any] = {
        "train_index": suggestion.train_index,
        "p_human": round(float(suggestion.p_human), 6),
        "raw_score": round(float(suggestion.raw_score), 6),
        "aligned_cost": round(float(suggestion.aligned_cost), 6),
        "convincing": bool(suggestion.convincing),
        "target_reached": bool(suggestion.extras.get("target_reached", 1.0) > 0),
        "transform": suggestion.transform.as_dict(),
        "l0_binary": float(suggestion.distortion["l0_binary"]),
        "budget": UNBUDGETED if eps is None else float(eps),
    }
    if run_key is not None:
        extra[RUN_KEY_FIELD] = run_key
    return {
        "image": suggestion.image_u8(),
        "source_split": "test",
        "source_index": int(test_index),
        "intended_label": suggestion.target_label,
        "norm": norm,
        "eps": float(eps) if eps is not None else float(suggestion.distortion["l0"]),
        "method": f"geninv-{norm}",
        "set_name": set_name(norm, eps),
        "predictions": dict(predictions or {}),
        "extra": extra,
    }


def add_suggestions(
    collection: Collection,
    suggestions: Sequence[Suggestion | None],
    test_indices: np.ndarray | Sequence[int],
    norm: str,
    eps: float | None,
) -> list[Item]:
    """Add each digit's best suggestion (None = no suggestion within budget, skipped) to an open collection.

    Each item is described by :func:`suggestion_fields`. Returns the items added.
    """
    added = []
    with collection.batch():
        for index, suggestion in zip(test_indices, suggestions, strict=True):
            if suggestion is not None:
                added.append(collection.add(**suggestion_fields(suggestion, int(index), norm, eps)))
    return added


def add_digit_results(
    collection: Collection, results: Sequence[DigitResult], norm: str, eps: float | None, run_key: str
) -> list[Item]:
    """Add each digit's suggestion with its models' predictions and the run key, in one durable batch."""
    added = []
    with collection.batch():
        for result in results:
            if result.suggestion is not None:
                fields = suggestion_fields(
                    result.suggestion, result.index, norm, eps, predictions=result.predictions, run_key=run_key
                )
                added.append(collection.add(**fields))
    return added


def write_suggestions_npz(
    path: Path,
    suggestions: Sequence[Suggestion | None],
    test_indices: np.ndarray | Sequence[int],
    norm: str,
    eps: float | None,
    predictions: Sequence[Mapping[str, int]] | None = None,
) -> list[Item]:
    """Write each digit's best suggestion (None skipped) to ``path`` as an npz export, atomically.

    The items are those :func:`add_suggestions` would add to a collection (``predictions``: per digit, each
    model's label), written with :func:`core.collection.export.write_npz` (``labels`` are the original labels);
    returns them.
    """
    labels_of = list(predictions) if predictions is not None else [{} for _ in suggestions]
    items = [
        new_item(
            item_id=uuid.uuid4().hex,
            author="",
            **suggestion_fields(suggestion, int(index), norm, eps, predictions=labels),
        )
        for index, suggestion, labels in zip(test_indices, suggestions, labels_of, strict=True)
        if suggestion is not None
    ]
    try:
        with atomic_output(path) as temporary:
            write_npz(temporary, items, label="original", written_by=NPZ_WRITER)
    except OSError as error:
        raise InvarianceError(f"{path}: cannot write suggestions ({error})") from None
    return items


__all__ = [
    "UNBUDGETED",
    "add_digit_results",
    "add_suggestions",
    "remove_created_collection",
    "set_name",
    "suggestion_fields",
    "write_suggestions_npz",
]
