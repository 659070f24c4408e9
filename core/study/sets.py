"""The study's view of labeled sets: plain :class:`StudyItem` records read from ``core.collection``.

Everything else in ``core.study`` works on these records, so it can be tested without collection files.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from core.collection.schema import Item


@dataclass(frozen=True)
class StudyItem:
    """One image of a labeled set, as the study and the reports need it.

    ``image``/``original``: float32 (28, 28) in [0, 1] (the edited image and the test digit it came from;
    ``original``, its label and source are ``None`` when the collection does not know them).
    ``human_labels``: rater -> label from study answers; ``human_label``: one imported consensus label
    (the paper's published sets) or ``None``. Labels are 0..9 or -1 (not a digit).
    """

    collection: str
    item_id: str
    set_name: str
    method: str
    norm: str | None
    eps: float | None
    source_split: str | None
    source_index: int | None
    original_label: int | None
    image: np.ndarray = field(repr=False, compare=False)
    original: np.ndarray | None = field(repr=False, compare=False)
    human_labels: dict[str, int] = field(default_factory=dict)
    human_label: int | None = None
    intended_label: int | None = None


def collection_key(path: str | Path) -> str:
    """The canonical string a collection is referred to by in answers files (its absolute path)."""
    return str(Path(path).expanduser().resolve())


def load_items(path: str | Path) -> list[StudyItem]:
    """Every item of the collection at ``path`` (raises ``CollectionError`` when it cannot be opened)."""
    from core.collection import Collection

    key = collection_key(path)
    with Collection.open(key, read_only=True) as collection:
        records = collection.items
    items = []
    for item in records:
        items.append(
            StudyItem(
                collection=key,
                item_id=str(item.id),
                set_name=str(item.set_name),
                method=str(item.method),
                norm=item.norm,
                eps=None if item.eps is None else float(item.eps),
                source_split=item.source_split,
                source_index=item.source_index,
                original_label=item.original_label,
                image=np.asarray(item.image_float(), dtype=np.float32),
                original=_clean_digit(item),
                human_labels={str(rater): int(label) for rater, label in dict(item.human_labels).items()},
                human_label=None if item.human_label is None else int(item.human_label),
                intended_label=None if item.intended_label is None else int(item.intended_label),
            )
        )
    return items


def _clean_digit(item: Item) -> np.ndarray | None:
    """The digit an item is compared with: its original, or the item itself when it is an unchanged labelled digit.

    A plain labelled set (an npz of ``images`` + ``labels``) has no separate original and no intended label: its
    images are the clean digits, and their labels are the original labels.
    """
    if item.original is not None:
        return np.asarray(item.original_float(), dtype=np.float32)
    if item.intended_label is None and item.original_label is not None:
        return np.asarray(item.image_float(), dtype=np.float32)
    return None


def evaluable(item: StudyItem) -> bool:
    """Whether reports can use ``item``: its original digit and label are known."""
    return item.original is not None and item.original_label is not None
