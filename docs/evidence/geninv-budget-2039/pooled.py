"""Rates of GenInv aligning 96 candidates per query above 25 pixels (8f147b6) pooled over every fresh blind pack whose
suggestions it makes, then the code before this round (f7ec8dd) at ℓ0 30 pixels, on its packs. Run from the
repository root:
    python docs/evidence/geninv-budget-2039/pooled.py   (log: pooled.log beside it)

8f147b6 differs from f7ec8dd only at ℓ0 above the paper's 25 pixels (96 candidates per query, not 24) and in float
rounding of the sampling grid; its suggestions at 25 pixels were the same as f7ec8dd's on all 40 digits of the 2037
pack's a25 arm, and at 30 pixels the same as the 2037 pack's b30 arm on all 60 digits. So:
- ℓ0 25 and ℓ∞: the packs of f7ec8dd's suggestions (2034, 2035's arm b, 2036) and 8f147b6's (2037 a25, 2039 a25);
- ℓ0 30: 2037 b30, 2038 b30 and 2039 a30 (8f147b6), and f7ec8dd's on 2034, 2035 b, 2036, 2037 a30 and 2038 a30.
The one tuning-digit filler of each A/B pack is left out; so are the arms of variants that were not kept (2039 b).
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from pooling import pooled_rates

E = Path("docs/evidence")
OLD_SETS = {"l0-25": "l0-25", "linf-0.4": "linf-0.4", "linf-0.3": "linf-0.3"}
SHIPPED = (
    ("2034", E / "geninv-budget-2034/pack/organiser", E / "geninv-budget-2034/answers", OLD_SETS),
    ("2035", E / "geninv-budget-2035/pack-l0/organiser", E / "geninv-budget-2035/pack-l0/answers", {"b25": "l0-25"}),
    ("2035", E / "geninv-budget-2035/pack-linf/organiser", E / "geninv-budget-2035/pack-linf/answers",
     {"b40": "linf-0.4", "b03": "linf-0.3"}),
    ("2036", E / "geninv-budget-2036/pack/organiser", E / "geninv-budget-2036/answers", OLD_SETS),
    ("2037", E / "geninv-budget-2037/pack-l0/organiser", E / "geninv-budget-2037/pack-l0/answers",
     {"a25": "l0-25", "b30": "l0-30"}),
    ("2038", E / "geninv-budget-2038/pack-l0/organiser", E / "geninv-budget-2038/pack-l0/answers", {"b30": "l0-30"}),
    ("2039", E / "geninv-budget-2039/pack-l0/organiser", E / "geninv-budget-2039/pack-l0/answers",
     {"a25": "l0-25", "a30": "l0-30"}),
)  # fmt: skip
BEFORE_L0_30 = (
    ("2034", E / "geninv-budget-2034/pack/organiser", E / "geninv-budget-2034/answers", {"l0-30": "l0-30"}),
    ("2035", E / "geninv-budget-2035/pack-l0/organiser", E / "geninv-budget-2035/pack-l0/answers", {"b30": "l0-30"}),
    ("2036", E / "geninv-budget-2036/pack/organiser", E / "geninv-budget-2036/answers", {"l0-30": "l0-30"}),
    ("2037", E / "geninv-budget-2037/pack-l0/organiser", E / "geninv-budget-2037/pack-l0/answers", {"a30": "l0-30"}),
    ("2038", E / "geninv-budget-2038/pack-l0/organiser", E / "geninv-budget-2038/pack-l0/answers", {"a30": "l0-30"}),
)  # fmt: skip


if __name__ == "__main__":
    print("8f147b6 (96 candidates per query above 25 pixels):")
    pooled_rates(SHIPPED, ("l0-25", "l0-30", "linf-0.4", "linf-0.3"))
    print("f7ec8dd (24 candidates per query at every budget), ℓ0 30 pixels:")
    pooled_rates(BEFORE_L0_30, ("l0-30",), calibration=False)
