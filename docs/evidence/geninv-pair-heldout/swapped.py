"""ℓ0 at 25 and 30 pixels on the held-out digits, for the code that ranks suggestions with the pair prior: each digit
whose suggestion did not change keeps the ratings it has (the same image, byte for byte: ``differing_digits.py``
checks it), each digit whose suggestion changed (``differing-digits.json``) counts the ratings of its new image (b25,
b30) in this folder's pack. At 30 pixels the ratings it has are those of ``../geninv-widen3-heldout/swapped.py``
(the 37 digits that search changed count that folder's re-rating). Prints, per budget, the shipped code's rate and the
new one, per pack and pooled; the changed digits' old images as rated in their packs beside the same images re-rated
here (a25, a30); then p_human's calibration over the new ratings. Run from the repository root:
    python docs/evidence/geninv-pair-heldout/swapped.py   (log: swapped.log beside it)
"""

import json
import sys
from pathlib import Path

from core.geninv.calibration import Outcome

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from pooling import changed_digits_line, print_calibration, rated_by_digit, share, swap_in

E = Path("docs/evidence")
HERE = E / "geninv-pair-heldout"
WIDEN3 = E / "geninv-widen3-heldout"
SHIPPED = {
    "l0-25": (("2034", E / "geninv-budget-2034/pack", E / "geninv-budget-2034/answers", "l0-25"),
              ("2035", E / "geninv-budget-2035/pack-l0", E / "geninv-budget-2035/pack-l0/answers", "b25"),
              ("2036", E / "geninv-budget-2036/pack", E / "geninv-budget-2036/answers", "l0-25"),
              ("2037", E / "geninv-budget-2037/pack-l0", E / "geninv-budget-2037/pack-l0/answers", "a25"),
              ("2039", E / "geninv-budget-2039/pack-l0", E / "geninv-budget-2039/pack-l0/answers", "a25")),
    "l0-30": (("2037", E / "geninv-budget-2037/pack-l0", E / "geninv-budget-2037/pack-l0/answers", "b30"),
              ("2038", E / "geninv-budget-2038/pack-l0", E / "geninv-budget-2038/pack-l0/answers", "b30"),
              ("2039", E / "geninv-budget-2039/pack-l0", E / "geninv-budget-2039/pack-l0/answers", "a30")),
}  # fmt: skip


def swapped_ratings() -> dict[str, list[Outcome]]:
    """Print the report (module docstring) and return the ratings with the prior, per set (l0-25, l0-30)."""
    changed_by_set = json.loads((HERE / "differing-digits.json").read_text(encoding="utf-8"))
    widened = set(json.loads((WIDEN3 / "differing-digits.json").read_text(encoding="utf-8"))["l0-30"])
    widen_new = rated_by_digit(WIDEN3 / "pack-l0", WIDEN3 / "pack-l0/answers", "b30")
    every_new: dict[str, list[Outcome]] = {}
    for name, packs in SHIPPED.items():
        budget = name.split("-")[1]
        changed = set(changed_by_set[name])
        new = rated_by_digit(HERE / "pack-l0", HERE / "pack-l0/answers", f"b{budget}")
        again = rated_by_digit(HERE / "pack-l0", HERE / "pack-l0/answers", f"a{budget}")
        shipped_all: list[Outcome] = []
        with_prior: list[Outcome] = []
        old_of_changed: list[Outcome] = []
        for pack_name, pack, answers, group in packs:
            by_digit = rated_by_digit(pack, answers, group)
            if name == "l0-30":
                by_digit = {d: widen_new[d] if d in widened else r for d, r in by_digit.items()}
            theirs, mine, old = swap_in(by_digit, changed, new)
            moved = len(changed & set(by_digit))
            print(f"{name} {pack_name}: shipped {share(theirs)}; with the prior {share(mine)} "
                  f"({moved} of {len(by_digit)} digits changed)")  # fmt: skip
            shipped_all += theirs
            with_prior += mine
            old_of_changed += old
        print(f"{name} pooled: shipped {share(shipped_all)}; with the prior {share(with_prior)}")
        print(f"{name}: {changed_digits_line(changed, old_of_changed, again, new)}")
        every_new[name] = with_prior
    return every_new


if __name__ == "__main__":
    ratings = swapped_ratings()
    print_calibration("with the prior (ℓ0 25 and 30)", [o for rated in ratings.values() for o in rated])
