"""Rates of the shipped GenInv pooled over every fresh blind pack made with it: the 2034 and 2036 packs and the
shipped arm (b) of the 2035 packs. Per set: ratings that saw the target and the share (per digit asked for: every
digit got one suggestion), each pack's share beside it; then p_human's calibration over all of them and per pack,
p_human recomputed from each raw score with the shipped mapping (none of these packs was used to fit it). Run from the
repository root:
    python docs/evidence/geninv-budget-2036/pooled.py   (log: pooled.log beside it)
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from pooling import pooled_rates

E = Path("docs/evidence")
# (pack, organiser, answers folder, {group in the pack: set})
PACKS = (
    ("2034", E / "geninv-budget-2034/pack/organiser", E / "geninv-budget-2034/answers", {}),
    ("2035", E / "geninv-budget-2035/pack-l0/organiser", E / "geninv-budget-2035/pack-l0/answers",
     {"b25": "l0-25", "b30": "l0-30"}),
    ("2035", E / "geninv-budget-2035/pack-linf/organiser", E / "geninv-budget-2035/pack-linf/answers",
     {"b40": "linf-0.4", "b03": "linf-0.3"}),
    ("2036", E / "geninv-budget-2036/pack/organiser", E / "geninv-budget-2036/answers", {}),
)  # fmt: skip
SETS = ("l0-25", "l0-30", "linf-0.4", "linf-0.3")


if __name__ == "__main__":
    pooled_rates(PACKS, SETS)
