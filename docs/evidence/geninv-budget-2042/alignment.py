"""Per rater of the 2042 pack: controls read as their own label, and trials whose answer disagrees with the other
raters' majority but equals their majority on the trial before or after (an answer written one line off). Then the
pack's rates without the rater whose answers are shifted. Run from the repository root:
    python docs/evidence/geninv-budget-2042/alignment.py   (log: alignment.log beside it)
"""

from collections import Counter
from pathlib import Path

from core.geninv.calibration import outcomes, read_mapping_file, read_rater_answers

HERE = Path("docs/evidence/geninv-budget-2042")
SHIFTED = "r110"


def main() -> None:
    mapping = read_mapping_file(HERE / "pack/organiser/mapping.json")
    answers = dict(read_rater_answers(path) for path in sorted((HERE / "answers").glob("answers-*.json")))
    trials = sorted(int(entry["trial"]) for entry in mapping)
    rated = outcomes(mapping, answers)
    for rater, given in sorted(answers.items()):
        others = [r for r in answers if r != rater]

        def majority(trial: int, others: list[str] = others) -> int | None:
            return Counter(answers[r].get(trial) for r in others).most_common(1)[0][0]

        shifted = [t for t in trials if given[t] != majority(t) and given[t] in (majority(t - 1), majority(t + 1))]
        controls = [o for o in rated if o.rater == rater and o.control]
        print(f"{rater}: controls {sum(o.success for o in controls)}/{len(controls)}; "
              f"one line off (a neighbouring trial's majority): {len(shifted)} {shifted}")  # fmt: skip
    kept = [o for o in rated if o.rater != SHIFTED]
    for group in ("l0-25", "l0-30", "control"):
        mine = [o for o in kept if o.group == group]
        print(f"without {SHIFTED}: {group} {sum(o.success for o in mine)}/{len(mine)}")


if __name__ == "__main__":
    main()
