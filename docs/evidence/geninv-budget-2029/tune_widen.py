"""Tuning of the "widen when weak" rule (``SearchSettings.widen_below``) on tuning digits only.

Run from the repository root (INVARIANCE_CHECKPOINTS=$PWD/checkpoints for the refitted p_human):
``python docs/evidence/geninv-budget-2029/tune_widen.py [N] [SEED] [THRESHOLDS] [FACTORS]`` -> one line per
(ε, threshold, widen factor):
share of digits whose best suggestion has p_human >= 0.75, mean best p_human, digits widened, s per digit.
Digits: N (default 40) test indices drawn (seed SEED, default 29) from 2500-4999 minus ``used-indices.json``
beside this script (never a pack's digit). Threshold 0 is the rule before (widen only when no target is reached).
"""

from __future__ import annotations

import sys
import time

import numpy as np

from core.data import load_mnist
from core.device import configure_threads
from core.geninv import default_bank, suggest_batch
from core.geninv.api import SearchSettings
from core.geninv.human_pack import read_exclusions
from core.geninv.judge import load_judge

STRONG = 0.75


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 40
    seed = int(sys.argv[2]) if len(sys.argv) > 2 else 29
    thresholds = [float(t) for t in sys.argv[3].split(",")] if len(sys.argv) > 3 else [0.0, 0.6, 0.75, 0.85]
    factors = [int(f) for f in sys.argv[4].split(",")] if len(sys.argv) > 4 else [2]
    configure_threads(1)
    excluded = set(read_exclusions("docs/evidence/geninv-budget-2029/used-indices.json"))
    pool = [i for i in range(2500, 5000) if i not in excluded]
    digits = sorted(np.random.default_rng(seed).choice(pool, size=n, replace=False).tolist())
    print(f"{n} tuning digits (seed {seed}, test 2500-4999 minus {len(excluded)} used): {digits}")
    images, labels = load_mnist("test")
    queries = images[digits].astype(np.float32)
    if queries.max() > 1:
        queries = queries / 255.0
    truth = np.asarray(labels)[digits]
    bank, judge = default_bank("cpu"), load_judge("cpu")
    for eps in (25.0, 30.0):
        for threshold, factor in [(t, f) for t in thresholds for f in factors]:
            started, cpu = time.perf_counter(), time.process_time()
            found = suggest_batch(
                queries, truth, "l0", eps, k=1, seed=0, device="cpu", bank=bank, judge=judge,
                settings=SearchSettings(widen_below=threshold, widen_factor=factor),
            )  # fmt: skip
            seconds, cpu = (time.perf_counter() - started) / n, (time.process_time() - cpu) / n
            best = np.array([s[0].p_human if s else 0.0 for s in found])
            reached = sum(bool(s) and s[0].extras.get("target_reached", 1.0) > 0 for s in found)
            wider = sum(bool(s) and s[0].extras.get("wider_search", 0.0) > 0 for s in found)
            print(
                f"eps {eps:g} widen_below {threshold:.2f} widen_factor {factor}: best p_human >= {STRONG}: "
                f"{int((best >= STRONG).sum())}/{n}"
                f" ({100 * (best >= STRONG).mean():.0f}%), mean best p_human {best.mean():.3f}, judge reached"
                f" {reached}/{n}, kept the wider result {wider}, {seconds:.2f} s wall / {cpu:.2f} s CPU per digit",
                flush=True,
            )


if __name__ == "__main__":
    main()
