"""Tuning digits whose first GenInv suggestion changes when the judge looks at a blurred image (σ 1 px, shipped
``core.geninv.judge.VIEW_BLUR_SIGMA``) instead of the plain one (σ 0, as before).

Draws 80 tuning digits (MNIST test 2500-4999, minus every index an earlier pack, A/B or benchmark used) with numpy
seed 17: the first 40 for ℓ0 at 25 and 30 pixels, all 80 for ℓ∞ 0.4. Prints
{"digits": [...], "l0-25": [...], "l0-30": [...], "linf-0.4": [...]} (JSON) on its last line. Run from the
repository root.
"""

import dataclasses
import json
from pathlib import Path

import numpy as np

from core.data import load_mnist
from core.geninv.api import suggest_batch
from core.geninv.judge import load_judge

EVIDENCE = Path("docs/evidence")
SETS = (("l0-25", "l0", 25.0, 40), ("l0-30", "l0", 30.0, 40), ("linf-0.4", "linf", 0.4, 80))


def _indices(path: Path) -> set[int]:
    data = json.loads(path.read_text(encoding="utf-8"))
    return {int(i) for i in (data["indices"] if isinstance(data, dict) else data)}


def used_tuning_digits() -> set[int]:
    used = _indices(EVIDENCE / "geninv-budget-2033/used-indices.json")
    used |= _indices(EVIDENCE / "geninv-tuning-ghosts/used-indices.json")
    for ab in ("geninv-ordering-ab", "geninv-refine-ab"):
        found = json.loads((EVIDENCE / ab / "differing-digits.json").read_text(encoding="utf-8"))
        used |= {int(d) for values in found.values() for d in values}
    return used


def main() -> None:
    used = used_tuning_digits()
    pool = [i for i in range(2500, 5000) if i not in used]
    digits = sorted(np.random.default_rng(17).choice(pool, 80, replace=False).tolist())
    images, labels = load_mnist("test")
    blurred = load_judge("cpu")
    plain = dataclasses.replace(blurred, view_sigma=0.0)
    found: dict[str, list[int]] = {"digits": digits}
    for name, norm, eps, count in SETS:
        chosen = digits[:count]
        queries = images[chosen].astype(np.float32) / 255
        old = suggest_batch(queries, labels[chosen], norm, eps, k=1, device="cpu", judge=plain)
        new = suggest_batch(queries, labels[chosen], norm, eps, k=1, device="cpu", judge=blurred)
        found[name] = [
            d
            for d, a, b in zip(chosen, old, new, strict=True)
            if a and b and not np.array_equal(a[0].image, b[0].image)
        ]
    print(json.dumps(found))


if __name__ == "__main__":
    main()
