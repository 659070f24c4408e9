"""Held-out digits for the 2038 pack: MNIST test 7500-9999 minus every index an earlier figure, pack (controls and
fillers included), A/B or benchmark used (``../geninv-budget-2036/used-indices.json``, the 2036 pack and the 2037
pack), drawn with numpy seed 2038: 80 for ℓ0 at 30 pixels. Prints {"digits": [...], "l0-30": [...]} (JSON). Run from
the repository root.
"""

import json
from pathlib import Path

import numpy as np

EVIDENCE = Path("docs/evidence")


def main() -> None:
    used = set(json.loads((EVIDENCE / "geninv-budget-2036/used-indices.json").read_text(encoding="utf-8"))["indices"])
    for organiser in ("geninv-budget-2036/pack/organiser", "geninv-budget-2037/pack-l0/organiser"):
        mapping = json.loads((EVIDENCE / organiser / "mapping.json").read_text(encoding="utf-8"))
        used |= {int(t["source_index"]) for t in mapping["trials"]}
    pool = [i for i in range(7500, 10000) if i not in used]
    drawn = sorted(np.random.default_rng(2038).choice(pool, 80, replace=False).tolist())
    print(json.dumps({"digits": drawn, "l0-30": drawn}))


if __name__ == "__main__":
    main()
