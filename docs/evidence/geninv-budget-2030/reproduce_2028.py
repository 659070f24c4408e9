"""Whether this checkout's GenInv reproduces the 2028 pack's rated suggestions pixel for pixel (prints counts,
never labels or images).

The 2028 pack's collections are not tracked (only its mapping and summary are), so give the folder of a checkout
that built it. Run from the repository root:
``PYTHONPATH=$PWD python docs/evidence/geninv-budget-2030/reproduce_2028.py COLLECTIONS_DIR SET N``
(e.g. ``docs/evidence/geninv-budget-2028/pack/organiser/collections l0-30 5``: the set's first N
digits, in the summary's order).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from core.collection import Collection
from core.data import load_mnist
from core.device import configure_threads
from core.geninv import suggest_batch
from core.images import to_float

SUMMARY_2028 = Path("docs/evidence/geninv-budget-2028/pack/organiser/summary.json")


def main(collections: Path, group: str, count: int) -> None:
    configure_threads(1)
    summary = json.loads(SUMMARY_2028.read_text(encoding="utf-8"))
    info = summary["sets"][group]
    images, labels = load_mnist("test")
    with Collection.open(collections / group, read_only=True) as collection:
        stored = {int(item.source_index): item.image for item in collection.items if item.source_index is not None}
    indices = np.array(info["digits"][:count])
    found = suggest_batch(
        to_float(images[indices]), labels[indices], info["norm"], info["eps"], k=1, seed=summary["seed"], device="cpu"
    )
    same = sum(
        bool(result) and int(index) in stored and np.array_equal(result[0].image_u8(), stored[int(index)])
        for index, result in zip(indices, found, strict=True)
    )
    print(f"2028 pack, {group}: this code reproduces {same} of {len(indices)} rated suggestions pixel for pixel")


if __name__ == "__main__":
    main(Path(sys.argv[1]), sys.argv[2], int(sys.argv[3]))
