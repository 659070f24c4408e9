"""Scores the ordering A/B: per budget, how often raters saw the target in the old and the new suggestion of the
same digits, and a two-sided sign test over the digits where the two differ in ratings that saw the target.

Run from the repository root: python docs/evidence/geninv-ordering-ab/paired.py ANSWERS.json... (log: paired.log)
"""

import json
import sys
from pathlib import Path

from scipy.stats import binomtest

from core.geninv.calibration import read_rater_answers

MAPPING = Path("docs/evidence/geninv-ordering-ab/pack/organiser/mapping.json")


def main(files: list[str]) -> None:
    trials = json.loads(MAPPING.read_text(encoding="utf-8"))["trials"]
    answers = dict(read_rater_answers(f) for f in files)
    seen: dict[tuple[str, int], int] = {}
    for trial in trials:
        if trial["control"] or trial["group"][:3] not in ("old", "new"):
            continue
        key = (trial["group"], trial["source_index"])
        seen[key] = sum(given.get(trial["trial"]) == trial["target_label"] for given in answers.values())
    raters = len(answers)
    for budget in ("25", "30"):
        digits = sorted(d for group, d in seen if group == f"new{budget}")
        old = [seen[(f"old{budget}", d)] for d in digits]
        new = [seen[(f"new{budget}", d)] for d in digits]
        better = sum(n > o for o, n in zip(old, new, strict=True))
        worse = sum(n < o for o, n in zip(old, new, strict=True))
        p_value = binomtest(better, better + worse).pvalue if better + worse else float("nan")
        total = len(digits) * raters
        print(f"l0 {budget}: {len(digits)} digits x {raters} raters; target seen in the old suggestion "
              f"{sum(old)}/{total}, in the new {sum(new)}/{total}; new seen more on {better} digits, less on "
              f"{worse}; sign test p = {p_value:.2f}")  # fmt: skip


if __name__ == "__main__":
    main(sys.argv[1:])
