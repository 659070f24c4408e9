"""Tuning digits whose first GenInv suggestion at ℓ0 30 pixels changes when digits scoring under 3 nats (not 2) are
searched again, wider. Draws 240 tuning digits (MNIST test 2500-4999 minus every index an earlier pack, A/B or
benchmark used, the judge-view, widen and removal A/Bs' digits and the 64 digits of the first tries) with numpy seed
47. Prints {"digits": [...], "l0-30": [...]} (JSON) on its last line. Run from the repository root.
"""

import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "geninv-judge-view"))
from differing_digits import used_tuning_digits
from widen3 import changed_digits

EVIDENCE = Path("docs/evidence")


def main() -> None:
    used = used_tuning_digits()
    for ab in ("geninv-judge-view", "geninv-widen-ab", "geninv-removal-ab"):
        used |= set(json.loads((EVIDENCE / ab / "differing-digits.json").read_text(encoding="utf-8"))["digits"])
    free = [i for i in range(2500, 5000) if i not in used]
    used |= set(np.random.default_rng(41).choice(free, 64, replace=False).tolist())
    pool = [i for i in range(2500, 5000) if i not in used]
    digits = sorted(np.random.default_rng(47).choice(pool, 240, replace=False).tolist())
    print(json.dumps({"digits": digits, "l0-30": changed_digits(digits)}))


if __name__ == "__main__":
    main()
