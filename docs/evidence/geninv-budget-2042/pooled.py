"""ℓ0 at 25 and 30 pixels for the shipped code (with the pair prior): the 2042 pack alone, then pooled with the
swapped figures of the earlier packs (``../geninv-pair-heldout/swapped.py``, whose report is printed first), then
p_human's calibration over every pooled ℓ0 rating. Run from the repository root:
    python docs/evidence/geninv-budget-2042/pooled.py   (log: pooled.log beside it)
"""

import sys
from pathlib import Path

from core.geninv.calibration import outcomes, read_mapping_file, read_rater_answers

EVIDENCE = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(EVIDENCE))
sys.path.insert(0, str(EVIDENCE / "geninv-pair-heldout"))
from pooling import print_calibration, share  # noqa: E402
from swapped import swapped_ratings  # noqa: E402

HERE = Path("docs/evidence/geninv-budget-2042")


def main() -> None:
    earlier = swapped_ratings()
    mapping = read_mapping_file(HERE / "pack/organiser/mapping.json")
    answers = dict(read_rater_answers(path) for path in sorted((HERE / "answers").glob("answers-*.json")))
    rated = outcomes(mapping, answers)
    controls = [o for o in rated if o.control]
    print(f"2042 pack: {len(answers)} raters; controls read as their own label {share(controls)}")
    pooled = []
    for name in ("l0-25", "l0-30"):
        mine = [o for o in rated if o.group == name]
        both = earlier[name] + mine
        print(f"{name}: 2042 pack {share(mine)}; earlier packs, swapped {share(earlier[name])}; pooled {share(both)}")
        pooled += both
    print_calibration("every pooled ℓ0 rating", pooled)


if __name__ == "__main__":
    main()
