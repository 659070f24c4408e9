"""Tuning digits whose first GenInv suggestion at ℓ0 30 pixels changes when digits scoring under 3 nats (not 2) are
searched again, wider. Draws 240 tuning digits (MNIST test 2500-4999 minus every index an earlier pack, A/B or
benchmark used, the judge-view, widen and removal A/Bs' digits and the 64 digits of the first tries) with numpy seed
47. Prints {"digits": [...], "l0-30": [...]} (JSON) on its last line. Run from the repository root.
"""

import json
import sys
from pathlib import Path

import numpy as np

from core.data import load_mnist
from core.geninv.api import SearchSettings, suggest_batch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "geninv-judge-view"))
from differing_digits import used_tuning_digits

EVIDENCE = Path("docs/evidence")


def main() -> None:
    used = used_tuning_digits()
    for ab in ("geninv-judge-view", "geninv-widen-ab", "geninv-removal-ab"):
        used |= set(json.loads((EVIDENCE / ab / "differing-digits.json").read_text(encoding="utf-8"))["digits"])
    free = [i for i in range(2500, 5000) if i not in used]
    used |= set(np.random.default_rng(41).choice(free, 64, replace=False).tolist())
    pool = [i for i in range(2500, 5000) if i not in used]
    digits = sorted(np.random.default_rng(47).choice(pool, 240, replace=False).tolist())
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
