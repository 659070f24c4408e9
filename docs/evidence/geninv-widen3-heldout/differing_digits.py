"""The held-out digits rated at ℓ0 30 pixels in the 2037, 2038 and 2039 packs (60 + 80 + 80) whose first GenInv
suggestion changes when digits scoring under 3 nats (not 2) are searched again, wider. Prints
{"digits": [...], "l0-30": [...]} (JSON) on its last line. Run from the repository root.
"""

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "geninv-widen3-ab"))
from widen3 import changed_digits

EVIDENCE = Path("docs/evidence")
PACKS = ("geninv-budget-2037", "geninv-budget-2038", "geninv-budget-2039")


def main() -> None:
    digits = sorted(
        {
            int(d)
            for pack in PACKS
            for d in json.loads((EVIDENCE / pack / "differing-digits.json").read_text(encoding="utf-8"))["l0-30"]
        }
    )
    print(json.dumps({"digits": digits, "l0-30": changed_digits(digits)}))


if __name__ == "__main__":
    main()
