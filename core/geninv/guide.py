"""The target guide: the training digit of a chosen class that GenInv's search aligns onto a query digit.

It is GenInv's x* restricted to one target class: the coarse pass over the candidate bank and the gradient
alignment of :mod:`core.geninv.search`, with only the bank's digits of class ``target`` allowed. No new model
and no refinement: the editor overlays the aligned digit and its "toward target" brush moves pixels to it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final

import numpy as np
import torch

from core.errors import BudgetError, InvarianceError
from core.geninv.bank import CandidateBank, default_bank
from core.geninv.norms import alignment_search
from core.geninv.search import find_matches

GUIDE_POOL: Final = 8
"""Candidates that get gradient alignment (the best one is the guide)."""


@dataclass(frozen=True)
class Guide:
    """The aligned target digit for one query.

    image: float32 (28, 28) in [0, 1], row-major; target: its class; train_index: the MNIST training digit it
    came from; cost: GenInv's exact alignment objective for the norm it was aligned for (lower is closer).
    """

    image: np.ndarray
    target: int
    train_index: int
    cost: float


def aligned_target(
    image: np.ndarray,
    target: int,
    norm: str,
    eps: float | None,
    *,
    bank: CandidateBank | None = None,
    device: torch.device | str = "cpu",
    seed: int = 0,
) -> Guide:
    """The bank's digit of class ``target`` that GenInv aligns closest to ``image`` (float (28, 28) in [0, 1]).

    ``norm`` picks the alignment objective (:func:`core.geninv.norms.alignment_search`): ℓ0 aligns binarised
    shapes, any other norm uses the grey-level ℓ∞ objective at ``eps``. ``bank`` defaults to :func:`default_bank`
    on ``device``.
    """
    query = np.asarray(image, dtype=np.float32)
    if query.shape != (28, 28) or not np.isfinite(query).all() or query.min() < 0 or query.max() > 1:
        raise BudgetError(f"the guide needs a finite (28, 28) image in [0, 1], got shape {query.shape}")
    if not 0 <= int(target) <= 9:
        raise InvarianceError(f"the guide's target must be a digit 0-9, got {target}")
    search = alignment_search(norm)
    bank = default_bank(device) if bank is None else bank
    allowed = (bank.labels == int(target))[None, :]
    if not bool(allowed.any()):
        raise InvarianceError(f"the candidate bank has no digit of class {target}")
    radius = None if search.shapes else float(eps if eps is not None else 0.0)
    queries = torch.from_numpy(query).to(bank.device)[None]
    matches = find_matches(bank, queries, allowed, search.name, radius, keep=1, pool=GUIDE_POOL, seed=seed)
    cost = float(matches.cost[0, 0])
    if not math.isfinite(cost):
        raise InvarianceError(f"no digit of class {target} could be aligned onto the query")
    return Guide(
        image=matches.warped[0, 0].detach().cpu().numpy().astype(np.float32),
        target=int(target),
        train_index=int(bank.train_indices[int(matches.indices[0, 0])]),
        cost=cost,
    )
