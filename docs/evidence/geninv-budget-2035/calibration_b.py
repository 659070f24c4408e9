"""Calibration of the shipped p_human on the shipped arm (b) of the 2035 packs only: p_human recomputed from each
suggestion's raw score with checkpoints/geninv-judge.p_human.json (arm a's raw scores come from the plain judge,
so they are left out). Run from the repository root:
    python docs/evidence/geninv-budget-2035/calibration_b.py   (log: calibration_b.log beside it)
"""

from core.geninv.calibration import (
    calibration_table,
    load_mapping,
    outcomes,
    read_mapping_file,
    read_rater_answers,
    recompute_p_human,
)

HERE = "docs/evidence/geninv-budget-2035"
PACKS = (("pack-l0", ("b25", "b30"), (52, 53, 54, 55)), ("pack-linf", ("b40", "b03"), (56, 57, 58, 59)))


def main() -> None:
    p_human = load_mapping()
    print("pack | p_human bin | ratings | mean p_human | rated success")
    for pack, groups, raters in PACKS:
        mapping = read_mapping_file(f"{HERE}/{pack}/organiser/mapping.json")
        recompute_p_human(mapping, p_human)
        answers = dict(read_rater_answers(f"{HERE}/{pack}/answers/answers-r{r}.json") for r in raters)
        rated = [o for o in outcomes(mapping, answers) if o.group in groups]
        for cell in calibration_table(rated):
            mean, rate = cell["mean_p_human"], cell["success_rate"]
            print(f"{pack} | {cell['bin']} | {cell['ratings']} | {mean:.2f} | {rate:.2f}")


if __name__ == "__main__":
    main()
