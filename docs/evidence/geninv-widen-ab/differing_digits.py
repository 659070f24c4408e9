"""Tuning digits whose first GenInv suggestion changes when weak digits (best raw score below
``core.geninv.api.WIDEN_BELOW``) are searched again, wider, against searching again only digits that reach no target
(``SearchSettings(widen_below=-inf)``, as before). Both with the judge's blurred view.

Draws 240 tuning digits (MNIST test 2500-4999, minus every index an earlier pack, A/B or benchmark used, and the
judge-view A/B's digits) with numpy seed 29: all for ℓ0 at 25 and 30 pixels, the first 120 for ℓ∞ 0.4. Prints
{"digits": [...], "l0-25": [...], "l0-30": [...], "linf-0.4": [...]} (JSON) on its last line. Run from the
repository root.
"""

import json
import math
import sys
from pathlib import Path

import numpy as np

from core.data import load_mnist
from core.geninv.api import SearchSettings, suggest_batch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "geninv-judge-view"))
from differing_digits import used_tuning_digits

SETS = (("l0-25", "l0", 25.0, 240), ("l0-30", "l0", 30.0, 240), ("linf-0.4", "linf", 0.4, 120))


def main() -> None:
    used = used_tuning_digits()
    used |= set(json.loads(Path("docs/evidence/geninv-judge-view/differing-digits.json").read_text())["digits"])
    pool = [i for i in range(2500, 5000) if i not in used]
    digits = sorted(np.random.default_rng(29).choice(pool, 240, replace=False).tolist())
    images, labels = load_mnist("test")
    found: dict[str, list[int]] = {"digits": digits}
    for name, norm, eps, count in SETS:
        chosen = digits[:count]
        queries = images[chosen].astype(np.float32) / 255
        narrow = SearchSettings(widen_below=-math.inf)
        old = suggest_batch(queries, labels[chosen], norm, eps, k=1, device="cpu", settings=narrow)
        new = suggest_batch(queries, labels[chosen], norm, eps, k=1, device="cpu")
        found[name] = [
            d
            for d, a, b in zip(chosen, old, new, strict=True)
            if a and b and not np.array_equal(a[0].image, b[0].image)
        ]
        print(name, len(found[name]), "of", count, file=sys.stderr)
    print(json.dumps(found))


if __name__ == "__main__":
    main()
