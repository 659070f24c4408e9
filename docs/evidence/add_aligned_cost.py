"""Adds each suggestion's aligned cost to a rated pack's organiser/mapping.json (packs built before it was recorded).

Run from the repository root:
    PYTHONPATH=$PWD python docs/evidence/add_aligned_cost.py PACK_DIR [COLLECTIONS_DIR]
COLLECTIONS_DIR (default PACK_DIR/organiser/collections, which the pack's make_pack.sh regenerates) holds the pack's
collections; each item records its training digit and transform, from which x* is warped again and its exact cost
against the query computed as the search does (core.geninv.search.exact_cost). The transform is stored to 4
decimals, so the cost can differ from the search's by a pixel or so. Items keep everything else; entries that
already have an aligned cost are left as they are.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import torch

from core.collection import Collection
from core.data import load_mnist
from core.geninv.search import exact_cost
from core.geninv.transforms import PARAM_NAMES, warp


def main(pack: Path, collections: Path) -> None:
    path = pack / "organiser" / "mapping.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    train, _ = load_mnist("train")
    test, _ = load_mnist("test")
    items = {}
    for folder in sorted(p for p in collections.iterdir() if p.is_dir()):
        for item in Collection.open(folder).items:
            items[item.id] = item
    added = 0
    for entry in data["trials"]:
        if entry["control"] or entry.get("aligned_cost") is not None:
            continue
        item = items[entry["item"]]
        params = torch.tensor([[float(item.extra["transform"][name]) for name in PARAM_NAMES]])
        candidate = torch.from_numpy(train[item.extra["train_index"]].astype(np.float32) / 255.0)[None]
        query = torch.from_numpy(test[item.source_index].astype(np.float32) / 255.0)
        entry["aligned_cost"] = round(float(exact_cost(warp(candidate, params), query, item.norm, item.eps)[0]), 6)
        added += 1
    path.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    print(f"{path}: aligned cost added to {added} entries")


if __name__ == "__main__":
    pack_dir = Path(sys.argv[1])
    main(pack_dir, Path(sys.argv[2]) if len(sys.argv) > 2 else pack_dir / "organiser" / "collections")
