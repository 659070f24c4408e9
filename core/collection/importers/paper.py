"""The paper's public release (ftramer/Excessive-Invariance, ``invariance_examples/``) as rows of a collection."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from core.budget import distance
from core.collection.importers.common import ImportOptions, check_images, check_indices, check_labels
from core.collection.mnist_lookup import mnist_source
from core.collection.npyio import load_npy
from core.errors import CollectionError
from core.images import to_float, to_uint8


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


def paper_root(folder: str | Path) -> Path:
    """The ``invariance_examples`` folder inside ``folder`` (or ``folder`` itself when it is that folder)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise CollectionError(f"{folder}: no such directory")
    nested = folder / "invariance_examples"
    return nested if nested.is_dir() else folder


def paper_rows(root: Path, options: ImportOptions) -> list[dict[str, Any]]:
    """Rows of the paper's four sets under ``root`` (its ``invariance_examples`` folder); ``options`` unused."""
    rows: list[dict[str, Any]] = []
    for spec in PAPER_SETS:
        images_path, labels_path, indices_path = root / spec.images, root / spec.labels, root / spec.indices
        images = check_images(load_npy(images_path), images_path, pixel_max=255)
        count = len(images)
        labels = check_labels(load_npy(labels_path), labels_path, count, like=images_path.name)
        indices = check_indices(load_npy(indices_path), indices_path, count, like=images_path.name)
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
    return rows
