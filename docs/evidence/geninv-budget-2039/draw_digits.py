"""Held-out digits for the 2039 pack: MNIST test 7500-9999 minus every index an earlier figure, pack (controls and
fillers included), A/B or benchmark used (``../geninv-budget-2036/used-indices.json`` and the 2036, 2037 and 2038
packs), drawn with numpy seed 2039: 60 for ℓ0 at 25 pixels and 80 others at 30. Prints
{"digits": [...], "l0-25": [...], "l0-30": [...]} (JSON). Run from the repository root.
"""

import json
from pathlib import Path

import numpy as np

EVIDENCE = Path("docs/evidence")
PACKS = ("geninv-budget-2036/pack", "geninv-budget-2037/pack-l0", "geninv-budget-2038/pack-l0")


def main() -> None:
    used = set(json.loads((EVIDENCE / "geninv-budget-2036/used-indices.json").read_text(encoding="utf-8"))["indices"])
    for pack in PACKS:
        mapping = json.loads((EVIDENCE / pack / "organiser/mapping.json").read_text(encoding="utf-8"))
        used |= {int(t["source_index"]) for t in mapping["trials"]}
    pool = [i for i in range(7500, 10000) if i not in used]
    drawn = np.random.default_rng(2039).choice(pool, 140, replace=False).tolist()
    print(json.dumps({"digits": sorted(drawn), "l0-25": sorted(drawn[:60]), "l0-30": sorted(drawn[60:])}))


if __name__ == "__main__":
    main()
