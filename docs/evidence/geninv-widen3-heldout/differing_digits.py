"""The held-out digits rated at ℓ0 30 pixels in the 2037, 2038 and 2039 packs (60 + 80 + 80) whose first GenInv
suggestion changes when digits scoring under 3 nats (not 2) are searched again, wider. Prints
{"digits": [...], "l0-30": [...]} (JSON) on its last line. Run from the repository root.
"""

import json
import sys
from pathlib import Path

import numpy as np

from core.data import load_mnist
from core.geninv.api import SearchSettings, suggest_batch

EVIDENCE = Path("docs/evidence")
PACKS = ("geninv-budget-2037", "geninv-budget-2038", "geninv-budget-2039")


def main() -> None:
    digits = sorted(
        {
            int(d)
            for pack in PACKS
            for d in json.loads((EVIDENCE / pack / "differing-digits.json").read_text(encoding="utf-8"))["l0-30"]
        }
    )
    images, labels = load_mnist("test")
    queries = images[digits].astype(np.float32) / 255
    before = SearchSettings(widen_below=2.0)
    old = suggest_batch(queries, labels[digits], "l0", 30.0, k=1, device="cpu", settings=before)
    new = suggest_batch(queries, labels[digits], "l0", 30.0, k=1, device="cpu")
    found = [
        d for d, a, b in zip(digits, old, new, strict=True) if a and b and not np.array_equal(a[0].image, b[0].image)
    ]
    print("l0-30", len(found), "of", len(digits), file=sys.stderr)
    print(json.dumps({"digits": digits, "l0-30": found}))


if __name__ == "__main__":
    main()
