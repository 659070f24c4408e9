"""How many of the blind pack's suggestions the current GenInv reproduces exactly (prints counts, never labels).

Run from the repository root after make_pack.sh (it reads the pack's collections):
``PYTHONPATH=$PWD python docs/evidence/geninv-budget/reproduce_pack.py``
"""

import json
from pathlib import Path

import numpy as np

from core.device import configure_threads

configure_threads(1)
from core.collection import Collection
from core.data import load_mnist
from core.geninv import suggest_batch
from core.images import to_float

root = Path(__file__).resolve().parent / "pack" / "organiser"
summary = json.load(open(f"{root}/summary.json"))
images, labels = load_mnist("test")
for group, info in summary["sets"].items():
    with Collection.open(f"{root}/collections/{group}", read_only=True) as c:
        stored = {int(i.source_index): i.image for i in c.items}
    idx = np.array(info["digits"])
    res = suggest_batch(
        to_float(images[idx]), labels[idx], info["norm"], info["eps"], k=1, seed=summary["seed"], device="cpu"
    )
    same = sum(bool(r) and np.array_equal(r[0].image_u8(), stored.get(int(i))) for i, r in zip(idx, res, strict=True))
    print(f"{group}: current code reproduces {same} of {len(idx)} rated suggestions exactly")
