"""Does the aligned neighbour's cost predict what blind raters see, beyond the judge's raw score?

Run from the repository root (log: geninv-budget-2031/aligned-cost.log):
    PYTHONPATH=$PWD python docs/evidence/p_human_aligned_cost.py | tee docs/evidence/geninv-budget-2031/aligned-cost.log
Reads each rated pack's organiser/mapping.json (aligned costs added by add_aligned_cost.py) and answers. Prints, for
the ℓ0 ratings of each pack, the rated success of suggestions nearer and farther than the median aligned cost and
the correlation of the cost with success; then the held-out log-loss, leave-one-pack-out over all packs, of the
mapping with one curve per norm on the raw score alone and on (raw score, aligned cost) (core.geninv.calibration).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from core.geninv.calibration import Outcome, fit_from_outcomes, outcomes, read_mapping_file, read_rater_answers

PACKS = {
    "2027": ("geninv-budget", ("r1", "r2")),
    "2028": ("geninv-budget-2028", ("r3", "r4")),
    "2029": ("geninv-budget-2029", ("r5", "r6")),
    "2030": ("geninv-budget-2030", ("r7", "r8")),
    "2031": ("geninv-budget-2031", ("r9", "r10")),
}


def rated(pack: str) -> list[Outcome]:
    folder, raters = PACKS[pack]
    root = f"docs/evidence/{folder}"
    answers = dict(read_rater_answers(f"{root}/answers/answers-{r}.json") for r in raters)
    return [o for o in outcomes(read_mapping_file(f"{root}/pack/organiser/mapping.json"), answers) if not o.control]


def main() -> None:
    by_pack = {pack: rated(pack) for pack in PACKS}
    everything = [o for rows in by_pack.values() for o in rows if o.norm == "l0"]
    median = float(np.median([o.aligned_cost for o in everything]))
    print(f"l0 ratings: {len(everything)}; median aligned cost {median:g} pixels")
    for pack, rows in by_pack.items():
        l0 = [o for o in rows if o.norm == "l0"]
        near = [o.success for o in l0 if (o.aligned_cost or 0) <= median]
        far = [o.success for o in l0 if (o.aligned_cost or 0) > median]
        corr = np.corrcoef([o.aligned_cost for o in l0], [o.success for o in l0])[0, 1]
        print(f"  {pack}: {len(l0)} l0 ratings; seen {np.mean(near):.2f} (nearer, {len(near)}) vs {np.mean(far):.2f} "
              f"(farther, {len(far)}); correlation {corr:+.2f}")  # fmt: skip
    for with_cost in (False, True):
        # without the cost, every aligned cost is set to 0: the per-norm curves then fit the raw score alone
        packs = (
            by_pack if with_cost else {p: [replace(o, aligned_cost=0.0) for o in rows] for p, rows in by_pack.items()}
        )
        losses = []
        for held, test in packs.items():
            mapping = fit_from_outcomes([o for pack, rows in packs.items() if pack != held for o in rows])
            q = np.array([float(mapping(o.raw_score, norm=o.norm, aligned_cost=o.aligned_cost)) for o in test])
            y = np.array([o.success for o in test], dtype=float)
            losses.append(float(-np.mean(y * np.log(q) + (1 - y) * np.log(1 - q))))
        label = "raw score and aligned cost" if with_cost else "raw score alone"
        print(
            f"held-out log-loss, one curve per norm on the {label}: "
            + ", ".join(f"{p} {v:.3f}" for p, v in zip(PACKS, losses, strict=True))
            + f"; mean {np.mean(losses):.3f}"
        )


if __name__ == "__main__":
    main()
