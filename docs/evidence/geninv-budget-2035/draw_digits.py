"""Held-out digits for the 2035 pack: MNIST test 7500-9999 minus every index an earlier figure, pack (controls and
fillers included), A/B or benchmark used (``../geninv-budget-2034/used-indices.json`` and the 2034 pack), drawn with
numpy seed 2035: 40 for ℓ0 (the same digits at 25 and 30 pixels) and 30 for ℓ∞ (the same at 0.4 and 0.3). Prints
{"digits": [...], "l0-25": [...], "l0-30": [...], "linf-0.4": [...], "linf-0.3": [...]} (JSON). Run from the
repository root.
"""

import json
from pathlib import Path

import numpy as np

EVIDENCE = Path("docs/evidence")


def main() -> None:
    used = set(json.loads((EVIDENCE / "geninv-budget-2034/used-indices.json").read_text(encoding="utf-8"))["indices"])
    mapping = json.loads((EVIDENCE / "geninv-budget-2034/pack/organiser/mapping.json").read_text(encoding="utf-8"))
    used |= {int(t["source_index"]) for t in mapping["trials"]}
    pool = [i for i in range(7500, 10000) if i not in used]
    drawn = np.random.default_rng(2035).choice(pool, 70, replace=False).tolist()
    l0, linf = sorted(drawn[:40]), sorted(drawn[40:])
    print(json.dumps({"digits": sorted(drawn), "l0-25": l0, "l0-30": l0, "linf-0.4": linf, "linf-0.3": linf}))


if __name__ == "__main__":
    main()
