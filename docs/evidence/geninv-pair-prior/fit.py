"""Fits GenInv's ℓ0 pair prior (``core.geninv.pairs.PAIR_PRIOR_NATS``) on blind ratings of tuning packs.

Every ℓ0 suggestion rated in the tuning A/Bs (ordering, refine, ghosts, judge-view, widen, removal, widen3) and in the
2027-2033 packs (earlier rounds' figures, none reported this round): its image as rated (``rated-images.npz``),
scored again by the shipped judge (``judge_raw_scores``). Model, per rating:
``logit p(seen) = intercept + slope * clip(raw, -6, 10) + offset[source, target]``, with an L2 penalty LAMBDA on the
offsets. LAMBDA is chosen by leave-one-pack-out log-likelihood (printed), and the offsets divided by the slope are
the prior in nats. Prints the table last, as a Python literal. Run from the repository root:
    python docs/evidence/geninv-pair-prior/fit.py > docs/evidence/geninv-pair-prior/fit.log
"""

from pathlib import Path

import numpy as np
import torch
from scipy.optimize import minimize

from core.geninv.api import judge_raw_scores
from core.geninv.calibration import outcomes, read_mapping_file, read_rater_answers
from core.geninv.judge import load_judge

EVIDENCE = Path("docs/evidence")
PACKS = {
    "ordering-ab": "geninv-ordering-ab/pack",
    "refine-ab": "geninv-refine-ab/pack",
    "ghosts": "geninv-tuning-ghosts/pack",
    "judge-view": "geninv-judge-view/pack-l0",
    "widen-ab": "geninv-widen-ab/pack-l0",
    "removal-ab": "geninv-removal-ab/pack-l0",
    "widen3-ab": "geninv-widen3-ab/pack-l0",
    "2027": "geninv-budget/pack",
    "2028": "geninv-budget-2028/pack",
    "2029": "geninv-budget-2029/pack",
    "2030": "geninv-budget-2030/pack",
    "2031": "geninv-budget-2031/pack",
    "2032": "geninv-budget-2032/pack",
    "2033": "geninv-budget-2033/pack",
}
LAMBDAS = (1e6, 20.0, 5.0, 2.0, 1.0, 0.5)
CLIP = (-6.0, 10.0)


def rated_suggestions() -> tuple[np.ndarray, ...]:
    """(pack index, source, target, ratings, seen, image) per rated ℓ0 suggestion."""
    rows = []
    for number, folder in enumerate(PACKS.values()):
        pack = EVIDENCE / folder
        files = sorted(pack.glob("answers/answers-*.json")) or sorted(pack.parent.glob("answers/answers-*.json"))
        answers = dict(read_rater_answers(path) for path in files)
        stored = np.load(pack / "organiser/rated-images.npz")
        images = dict(zip(stored["trials"].tolist(), stored["images"], strict=True))
        by_trial: dict[int, list] = {}
        for o in outcomes(read_mapping_file(pack / "organiser/mapping.json"), answers):
            if not o.control and o.norm == "l0":
                by_trial.setdefault(o.trial, [o.source_label, o.target_label, 0, 0])
                by_trial[o.trial][2] += 1
                by_trial[o.trial][3] += int(o.success)
        for trial, (source, target, count, seen) in sorted(by_trial.items()):
            rows.append((number, source, target, count, seen, images[trial]))
    columns = list(zip(*rows, strict=True))
    return tuple(np.asarray(c) for c in columns)


def fit(x, pair, count, seen, lam):
    def loss(p):
        z = p[0] + p[1] * x + p[2:][pair]
        return np.sum(count * np.logaddexp(0, z) - seen * z) + lam * np.sum(p[2:] ** 2)

    return minimize(loss, np.r_[0.0, 0.5, np.zeros(100)], method="L-BFGS-B").x


def log_likelihood(p, x, pair, count, seen):
    z = p[0] + p[1] * x + p[2:][pair]
    return float(np.sum(seen * z - count * np.logaddexp(0, z)))


def main() -> None:
    pack, source, target, count, seen, images = rated_suggestions()
    stack = torch.from_numpy(np.stack(images).astype(np.float32) / 255.0)
    _, raw = judge_raw_scores(load_judge("cpu"), stack, target.tolist())
    x = np.clip(np.asarray(raw), *CLIP)
    pair = source * 10 + target
    print(f"{len(x)} rated ℓ0 suggestions, {int(count.sum())} ratings, {len(PACKS)} packs")
    best = None
    for lam in LAMBDAS:
        total = 0.0
        for held in range(len(PACKS)):
            train, test = pack != held, pack == held
            p = fit(x[train], pair[train], count[train], seen[train], lam)
            total += log_likelihood(p, x[test], pair[test], count[test], seen[test])
        per_rating = total / count.sum()
        print(f"lambda {lam:g}: leave-one-pack-out log-likelihood per rating {per_rating:.4f}")
        if best is None or per_rating > best[1]:
            best = (lam, per_rating)
    assert best is not None
    p = fit(x, pair, count, seen, best[0])
    print(f"chosen lambda {best[0]:g}; fit on every pack: slope {p[1]:.4f}, intercept {p[0]:.4f}")
    nats = np.round(p[2:].reshape(10, 10) / p[1], 1) + 0.0
    print("PAIR_PRIOR_NATS = (")
    for row in nats:
        print("    (" + ", ".join(f"{v:.1f}" for v in row) + "),")
    print(")")


if __name__ == "__main__":
    main()
