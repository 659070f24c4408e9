"""Held-out digits for the 2037 pack: MNIST test 7500-9999 minus every index an earlier figure, pack (controls and
fillers included), A/B or benchmark used (``../geninv-budget-2036/used-indices.json`` and the 2036 pack), drawn with
numpy seed 2037: 60 for ℓ0 at 30 pixels and 40 other ones for ℓ0 at 25 pixels. Prints
{"digits": [...], "l0-25": [...], "l0-30": [...]} (JSON). Run from the repository root.
"""

import json
from pathlib import Path

import numpy as np

EVIDENCE = Path("docs/evidence")


def main() -> None:
    used = set(json.loads((EVIDENCE / "geninv-budget-2036/used-indices.json").read_text(encoding="utf-8"))["indices"])
    mapping = json.loads((EVIDENCE / "geninv-budget-2036/pack/organiser/mapping.json").read_text(encoding="utf-8"))
    used |= {int(t["source_index"]) for t in mapping["trials"]}
    pool = [i for i in range(7500, 10000) if i not in used]
    drawn = np.random.default_rng(2037).choice(pool, 100, replace=False).tolist()
    print(json.dumps({"digits": sorted(drawn), "l0-25": sorted(drawn[60:]), "l0-30": sorted(drawn[:60])}))


if __name__ == "__main__":
    main()
