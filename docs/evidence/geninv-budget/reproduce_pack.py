"""How many of the blind pack's suggestions the current GenInv reproduces exactly (prints counts, never labels).

Run from the repository root after make_pack.sh (it reads the pack's collections):
``PYTHONPATH=$PWD python docs/evidence/geninv-budget/reproduce_pack.py``
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from core.collection import Collection
from core.data import load_mnist
from core.device import configure_threads
from core.geninv import suggest_batch
from core.images import to_float

ORGANISER = Path(__file__).resolve().parent / "pack" / "organiser"


def main() -> None:
    configure_threads(1)
    summary = json.loads((ORGANISER / "summary.json").read_text(encoding="utf-8"))
    images, labels = load_mnist("test")
    for group, info in summary["sets"].items():
        with Collection.open(ORGANISER / "collections" / group, read_only=True) as collection:
            stored = {int(item.source_index): item.image for item in collection.items if item.source_index is not None}
        indices = np.array(info["digits"])
        found = suggest_batch(
            to_float(images[indices]), labels[indices], info["norm"], info["eps"], k=1, seed=summary["seed"],
            device="cpu",
        )  # fmt: skip
        same = sum(
            bool(result) and int(index) in stored and np.array_equal(result[0].image_u8(), stored[int(index)])
            for index, result in zip(indices, found, strict=True)
        )
        print(f"{group}: current code reproduces {same} of {len(indices)} rated suggestions exactly")


if __name__ == "__main__":
    main()
