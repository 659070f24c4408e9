"""Scores a paired blind A/B pack: for each pair of sets (A, B) shown for the same digits, how often raters saw the
target in A's and in B's suggestion, and a two-sided sign test over the digits where the two differ in ratings that
saw the target.

Run from the repository root:
    python docs/evidence/paired_ab.py MAPPING A:B[,A:B...] ANSWERS.json...
e.g. python docs/evidence/paired_ab.py docs/evidence/geninv-ordering-ab/pack/organiser/mapping.json \\
         old25:new25,old30:new30 docs/evidence/geninv-ordering-ab/answers/answers-r19.json ...
"""

import json
import sys
from pathlib import Path

from scipy.stats import binomtest

from core.geninv.calibration import read_rater_answers


def main(mapping: Path, pairs: list[tuple[str, str]], files: list[str]) -> None:
    trials = json.loads(mapping.read_text(encoding="utf-8"))["trials"]
    answers = dict(read_rater_answers(f) for f in files)
    raters = len(answers)
    seen: dict[tuple[str, int], int] = {}
    for trial in trials:
        if not trial["control"]:
            count = sum(given.get(trial["trial"]) == trial["target_label"] for given in answers.values())
            seen[(trial["group"], trial["source_index"])] = count
    for first, second in pairs:
        digits = sorted(d for group, d in seen if group == second)
        a = [seen[(first, d)] for d in digits]
        b = [seen[(second, d)] for d in digits]
        more = sum(y > x for x, y in zip(a, b, strict=True))
        less = sum(y < x for x, y in zip(a, b, strict=True))
        p_value = binomtest(more, more + less).pvalue if more + less else float("nan")
        total = len(digits) * raters
        print(f"{first} vs {second}: {len(digits)} digits x {raters} raters; target seen in {first} {sum(a)}/{total}, "
              f"in {second} {sum(b)}/{total}; {second} seen more on {more} digits, less on {less}; sign test "
              f"p = {p_value:.2f}")  # fmt: skip


if __name__ == "__main__":
    chosen = [tuple(pair.split(":", 1)) for pair in sys.argv[2].split(",")]
    main(Path(sys.argv[1]), [(a, b) for a, b in chosen], sys.argv[3:])
