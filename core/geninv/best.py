"""The best GenInv suggestion per digit for a batch of digits, with the timing a report needs."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from core.geninv.api import ProgressFn, Suggestion, suggest_batch
from core.geninv.bank import default_bank
from core.geninv.judge import load_judge


@dataclass(frozen=True)
class BestPerDigit:
    """The best suggestion per digit (None: no suggestion within budget) and the timing of one search.

    ``seconds_per_example``: search time over the number of digits; ``one_time``: seconds spent loading the
    candidate bank and the judge before searching.
    """

    best: list[Suggestion | None]
    seconds_per_example: float
    one_time: float

    @property
    def found(self) -> int:
        return sum(found is not None for found in self.best)


def best_per_digit(
    queries: np.ndarray,
    labels: np.ndarray,
    norm: str,
    eps: float | None,
    *,
    seed: int,
    device: torch.device | str,
    pool_size: int | None = None,
    targets: Mapping[int, Sequence[int]] | None = None,
    progress: ProgressFn | None = None,
) -> BestPerDigit:
    """Best suggestion (k=1) for each of ``queries`` (N, 28, 28) float in [0, 1] with MNIST ``labels`` (N,).

    ``pool_size`` restricts the candidate bank to the first training digits (quick runs); ``progress(done,
    total)`` is called as digits finish.
    """
    started = time.perf_counter()
    bank = default_bank(device, pool_size)
    judge = load_judge(device)
    one_time = time.perf_counter() - started
    search_started = time.perf_counter()
    results = suggest_batch(
        queries, labels, norm, eps, k=1, seed=seed, progress=progress, targets=targets, bank=bank, judge=judge
    )
    best = [suggestions[0] if suggestions else None for suggestions in results]
    seconds = time.perf_counter() - search_started
    return BestPerDigit(best, seconds / max(1, len(best)), one_time)
