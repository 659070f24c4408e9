"""Where the shipped code's ℓ0 30-pixel suggestions are not seen, on the 220 held-out digits of the 2037-2039 packs
(ratings as ``swapped.py`` counts them): the share seen and the ratings lost (in digits' worth) by the judge's raw
score, by source digit, and the commonest source -> target pairs of digits seen by fewer than half of their raters.
Run from the repository root:
    python docs/evidence/geninv-widen3-heldout/failures.py   (log: failures.log beside it)
"""

import collections
import json
from pathlib import Path

from core.geninv.calibration import read_mapping_file, read_rater_answers

E = Path("docs/evidence")
HERE = E / "geninv-widen3-heldout"
SHIPPED_ARMS = (("geninv-budget-2037/pack-l0", "b30"), ("geninv-budget-2038/pack-l0", "b30"),
                ("geninv-budget-2039/pack-l0", "a30"))  # fmt: skip


def rated(pack: Path, group: str) -> dict[int, dict[str, float]]:
    """Per source digit of ``group``: source and target label, raw score and the share of raters who saw the target."""
    answers = dict(read_rater_answers(path) for path in sorted((pack / "answers").glob("answers-*.json")))
    out: dict[int, dict[str, float]] = {}
    for entry in read_mapping_file(pack / "organiser/mapping.json"):
        if entry["group"] == group:
            given = [a[entry["trial"]] for a in answers.values() if entry["trial"] in a]
            seen = sum(answer == entry["target_label"] for answer in given) / len(given)
            out[int(entry["source_index"])] = {
                "source": entry["source_label"], "target": entry["target_label"], "raw": entry["raw_score"],
                "seen": seen,
            }  # fmt: skip
    return out


def main() -> None:
    changed = set(json.loads((HERE / "differing-digits.json").read_text(encoding="utf-8"))["l0-30"])
    new = rated(HERE / "pack-l0", "b30")
    digits = [new[d] if d in changed else r for pack, group in SHIPPED_ARMS for d, r in rated(E / pack, group).items()]
    lost = sum(1 - d["seen"] for d in digits)
    print(f"{len(digits)} digits, seen {sum(d['seen'] for d in digits) / len(digits):.1%}, lost {lost:.1f}")
    for low, high in ((-99, 0), (0, 2), (2, 3), (3, 4), (4, 99)):
        part = [d for d in digits if low <= d["raw"] < high]
        share = sum(d["seen"] for d in part) / len(part)
        print(f"raw [{low}, {high}): {len(part)} digits, seen {share:.0%}, lost {sum(1 - d['seen'] for d in part):.1f}")
    for source in sorted(range(10), key=lambda s: -sum(1 - d["seen"] for d in digits if d["source"] == s)):
        part = [d for d in digits if d["source"] == source]
        print(f"source {source}: {len(part)} digits, lost {sum(1 - d['seen'] for d in part):.1f}")
    failing = collections.Counter((d["source"], d["target"]) for d in digits if d["seen"] < 0.5)
    print("digits seen by fewer than half, by pair:", failing.most_common(8))


if __name__ == "__main__":
    main()
