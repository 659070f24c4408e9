"""Tuning digits for the paired A/B of the charge for erased pixels: MNIST test 2500-4999 minus every index an
earlier pack, A/B or benchmark used, the judge-view and widen A/Bs' digits, and the 64 tuning digits (numpy seed 41)
on which the larger ℓ0 pool and the charge were first tried; drawn with numpy seed 43: 50 for ℓ0 at 25 pixels, 50
others at 30. Prints {"digits": [...], "l0-25": [...], "l0-30": [...]} (JSON). Run from the repository root.
"""

import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "geninv-judge-view"))
from differing_digits import used_tuning_digits

EVIDENCE = Path("docs/evidence")


def main() -> None:
    used = used_tuning_digits()
    for ab in ("geninv-judge-view", "geninv-widen-ab"):
        used |= set(json.loads((EVIDENCE / ab / "differing-digits.json").read_text(encoding="utf-8"))["digits"])
    free = [i for i in range(2500, 5000) if i not in used]
    used |= set(np.random.default_rng(41).choice(free, 64, replace=False).tolist())
    pool = [i for i in range(2500, 5000) if i not in used]
    drawn = np.random.default_rng(43).choice(pool, 100, replace=False).tolist()
    print(json.dumps({"digits": sorted(drawn), "l0-25": sorted(drawn[:50]), "l0-30": sorted(drawn[50:])}))


if __name__ == "__main__":
    main()
