"""ℓ0 at 30 pixels on the held-out digits of the 2037-2039 packs, for the code that searches digits scoring under 3
nats again, wider: each digit whose suggestion did not change keeps its ratings from its pack (the same image, byte
for byte); each digit whose suggestion changed (differing-digits.json) counts the ratings of its new image (b30) in
this folder's pack; then p_human's calibration over those ratings. Also prints, for the changed digits, their old
images' ratings in their own packs beside the same images re-rated here (a30): how far the two groups of raters
agree. Run from the repository root:
    python docs/evidence/geninv-widen3-heldout/swapped.py   (log: swapped.log beside it)
"""

import json
from pathlib import Path

from core.geninv.calibration import Outcome, calibration_table, outcomes, read_mapping_file, read_rater_answers

E = Path("docs/evidence")
HERE = E / "geninv-widen3-heldout"
SHIPPED_ARMS = (("2037", E / "geninv-budget-2037/pack-l0", "b30"), ("2038", E / "geninv-budget-2038/pack-l0", "b30"),
                ("2039", E / "geninv-budget-2039/pack-l0", "a30"))  # fmt: skip


def rated(pack: Path, group: str) -> dict[int, list[Outcome]]:
    """Ratings of ``group`` in ``pack`` by source digit."""
    mapping = read_mapping_file(pack / "organiser/mapping.json")
    answers = dict(read_rater_answers(path) for path in sorted((pack / "answers").glob("answers-*.json")))
    digit_of = {int(entry["trial"]): int(entry["source_index"]) for entry in mapping}
    by_digit: dict[int, list[Outcome]] = {}
    for outcome in outcomes(mapping, answers):
        if outcome.group == group:
            by_digit.setdefault(digit_of[outcome.trial], []).append(outcome)
    return by_digit


def share(ratings: list[Outcome]) -> str:
    seen = sum(o.success for o in ratings)
    return f"{seen}/{len(ratings)} = {seen / len(ratings):.1%}"


def main() -> None:
    changed = set(json.loads((HERE / "differing-digits.json").read_text(encoding="utf-8"))["l0-30"])
    new, again = rated(HERE / "pack-l0", "b30"), rated(HERE / "pack-l0", "a30")
    shipped: list[Outcome] = []
    swapped: list[Outcome] = []
    old_of_changed: list[Outcome] = []
    for name, pack, group in SHIPPED_ARMS:
        by_digit = rated(pack, group)
        mine = [o for digit, ratings in by_digit.items() for o in (new[digit] if digit in changed else ratings)]
        theirs = [o for r in by_digit.values() for o in r]
        moved = len(changed & set(by_digit))
        print(f"{name}: shipped {share(theirs)}; under 3 nats {share(mine)} ({moved} of {len(by_digit)} changed)")
        shipped += theirs
        swapped += mine
        old_of_changed += [o for digit, r in by_digit.items() if digit in changed for o in r]
    print(f"pooled: shipped {share(shipped)}; under 3 nats {share(swapped)}")
    print(f"the {len(changed)} changed digits: old image in its pack {share(old_of_changed)}, "
          f"old image re-rated here {share([o for d in changed for o in again[d]])}, "
          f"new image here {share([o for d in changed for o in new[d]])}")  # fmt: skip
    print("calibration, under 3 nats: p_human bin | ratings | mean p_human | rated success")
    for cell in calibration_table(swapped):
        print(f"  {cell['bin']} | {cell['ratings']} | {cell['mean_p_human']:.2f} | {cell['success_rate']:.2f}")


if __name__ == "__main__":
    main()
