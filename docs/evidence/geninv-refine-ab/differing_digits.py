"""Tuning digits whose first ℓ0 suggestion differs when 8 aligned neighbours are refined instead of 16.

60 tuning digits (test indices 2500-4999 minus the 2033 pack's used-indices.json, drawn with numpy seed 11); prints
{"digits": [...], "l0-25": [...], "l0-30": [...]} (JSON) on its last line. Run from the repository root.
"""

import json
from pathlib import Path

import numpy as np

from core.data import load_mnist
from core.geninv.api import SearchSettings, suggest_batch

USED = Path("docs/evidence/geninv-budget-2033/used-indices.json")


def main() -> None:
    data = json.loads(USED.read_text(encoding="utf-8"))
    used = set(data["indices"] if isinstance(data, dict) else data)
    pool = [i for i in range(2500, 5000) if i not in used]
    digits = sorted(np.random.default_rng(11).choice(pool, 60, replace=False).tolist())
    images, labels = load_mnist("test")
    queries = images[digits].astype(np.float32) / 255
    found: dict[str, list[int]] = {"digits": digits}
    for eps in (25.0, 30.0):
        wide = suggest_batch(queries, labels[digits], "l0", eps, k=1, device="cpu")
        narrow = suggest_batch(queries, labels[digits], "l0", eps, k=1, device="cpu", settings=SearchSettings(refine=8))
        found[f"l0-{int(eps)}"] = [
            d for d, a, b in zip(digits, wide, narrow, strict=True) if not np.array_equal(a[0].image, b[0].image)
        ]
    print(json.dumps(found))


if __name__ == "__main__":
    main()
