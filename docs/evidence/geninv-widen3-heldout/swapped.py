"""ℓ0 at 30 pixels on the held-out digits of the 2037-2039 packs, for the code that searches digits scoring under 3
nats again, wider: each digit whose suggestion did not change keeps its ratings from its pack (the same image, byte
for byte); each digit whose suggestion changed (differing-digits.json) counts the ratings of its new image (b30) in
this folder's pack; then p_human's calibration over those ratings. Also prints, for the changed digits, their old
images' ratings in their own packs beside the same images re-rated here (a30): how far the two groups of raters
agree. Run from the repository root:
    python docs/evidence/geninv-widen3-heldout/swapped.py   (log: swapped.log beside it)
"""

import json
import sys
from pathlib import Path

from core.geninv.calibration import Outcome

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from pooling import changed_digits_line, print_calibration, rated_by_digit, share, swap_in

E = Path("docs/evidence")
HERE = E / "geninv-widen3-heldout"
SHIPPED_ARMS = (("2037", E / "geninv-budget-2037/pack-l0", "b30"), ("2038", E / "geninv-budget-2038/pack-l0", "b30"),
                ("2039", E / "geninv-budget-2039/pack-l0", "a30"))  # fmt: skip


def main() -> None:
    changed = set(json.loads((HERE / "differing-digits.json").read_text(encoding="utf-8"))["l0-30"])
    new, again = (
        rated_by_digit(HERE / "pack-l0", HERE / "pack-l0" / "answers", "b30"),
        rated_by_digit(HERE / "pack-l0", HERE / "pack-l0" / "answers", "a30"),
    )
    shipped: list[Outcome] = []
    swapped: list[Outcome] = []
    old_of_changed: list[Outcome] = []
    for name, pack, group in SHIPPED_ARMS:
        by_digit = rated_by_digit(pack, pack / "answers", group)
        theirs, mine, old = swap_in(by_digit, changed, new)
        moved = len(changed & set(by_digit))
        print(f"{name}: shipped {share(theirs)}; under 3 nats {share(mine)} ({moved} of {len(by_digit)} changed)")
        shipped += theirs
        swapped += mine
        old_of_changed += old
    print(f"pooled: shipped {share(shipped)}; under 3 nats {share(swapped)}")
    print(changed_digits_line(changed, old_of_changed, again, new))
    print_calibration("under 3 nats", swapped)


if __name__ == "__main__":
    main()
