"""Finding x*: the transformed training digit of another class closest to each query.

Two passes, both batched over queries and run on the bank's device:

1. **Coarse pass** over every allowed candidate: the *query* is warped by the inverse of each transform of
   :func:`core.geninv.transforms.coarse_grid` (M of them, not 50k candidates x M), sketched with the bank's
   PCA, and compared with all candidates by one matrix multiply per chunk (ℓ0: Hamming distance between
   binarised images, estimated; ℓ∞: grey-level ℓ2). Each candidate keeps its best transform; the ``pool``
   nearest candidates go on.
2. **Alignment** of those candidates: the affine parameters (forward transform of the candidate) are optimised
   by Adam through ``grid_sample`` on a smooth surrogate (grey-level squared error for ℓ0, the squared excess
   over ε for ℓ∞), clamped to the allowed ranges, from the coarse start plus one seeded jittered start.
   The exact objective is evaluated at every step and the best parameters are kept, so the final choice
   always uses the exact norm: ℓ0 = pixels whose binarised value (> 1/2) differs; ℓ∞ at ε = squared ℓ2
   distance left between x* and its ℓ∞ projection around the query (what the interpolation cannot reach).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final

import torch

from core.geninv.bank import CandidateBank, Sketch
from core.geninv.norms import search_for
from core.geninv.transforms import clamp, coarse_grid, screening_grid, warp, warp_inverse

CHUNK: Final = 16384
SHORTLIST: Final = 1500
"""Candidates that survive the screening transforms and meet the full coarse grid."""
ALIGN_STEPS: Final = 20
STEP_SCALE: Final = (1.0, 0.015, 0.015, 0.012, 0.2, 0.2)
"""Adam's per-step move for each parameter at the start (deg, factor, factor, shear, px, px)."""
JITTER: Final = (4.0, 0.05, 0.05, 0.05, 0.7, 0.7)
"""Standard deviation of the seeded second start around the coarse transform."""


@dataclass(frozen=True)
class Aligned:
    """Every candidate one alignment aligned, per query: indices (B, P) into the bank, params (B, P, 6) and exact cost
    (B, P), before any candidate is ruled out."""

    indices: torch.Tensor
    params: torch.Tensor
    cost: torch.Tensor

    def rows(self, rows: list[int]) -> Aligned:
        return Aligned(self.indices[rows], self.params[rows], self.cost[rows])


@dataclass(frozen=True)
class Matches:
    """Aligned candidates per query, best first: indices (B, R) into the bank, params (B, R, 6), cost (B, R).

    ``warped`` (B, R, 28, 28) holds the aligned digits t(x̂) in [0, 1]. A cost of +inf marks "no candidate".
    """

    indices: torch.Tensor
    params: torch.Tensor
    cost: torch.Tensor
    warped: torch.Tensor
    aligned: Aligned
    """Every candidate aligned on the way (a later search of the same queries reuses them: ``find_matches(known=)``)."""


def exact_cost(warped: torch.Tensor, query: torch.Tensor, norm: str, eps: float | None) -> torch.Tensor:
    """Exact objective per image: warped (..., 28, 28) against query broadcastable to it -> (...)."""
    if search_for(norm).shapes:
        return ((warped > 0.5) != (query > 0.5)).flatten(-2).sum(-1).to(torch.float32)
    radius = 0.0 if eps is None else eps
    return torch.relu((warped - query).abs() - radius).square().flatten(-2).sum(-1)


def coarse_pass(
    bank: CandidateBank, queries: torch.Tensor, allowed: torch.Tensor, norm: str, pool: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Best ``pool`` candidates per query: queries (B, 28, 28), allowed (B, N) bool -> (indices, params).

    indices (B, P) long (P = min(pool, N)); params (B, P, 6). Disallowed candidates are never returned unless
    fewer than P are allowed (the caller masks those out by their cost).

    Two levels: a few transforms (:func:`screening_grid`) against every candidate, then the full coarse grid
    against the ``SHORTLIST`` best of those.
    """
    sketch = bank.binary if search_for(norm).shapes else bank.grey
    count = len(bank)
    screen = screening_grid(bank.device)
    values, args = _sketch_distances(sketch, queries, screen, norm, None)
    values = torch.where(allowed, values, torch.full_like(values, math.inf))
    short = min(SHORTLIST, count)
    _, shortlist = torch.topk(values, short, dim=1, largest=False, sorted=False)  # (B, S)
    grid = coarse_grid(bank.device)
    values, args = _sketch_distances(sketch, queries, grid, norm, shortlist)
    values = torch.where(torch.gather(allowed, 1, shortlist), values, torch.full_like(values, math.inf))
    keep = min(pool, short)
    _, order = torch.topk(values, keep, dim=1, largest=False, sorted=True)
    params = grid[torch.gather(args, 1, order)]
    return torch.gather(shortlist, 1, order), params


def _sketch_distances(
    sketch: Sketch, queries: torch.Tensor, grid: torch.Tensor, norm: str, subset: torch.Tensor | None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Estimated squared distance of each candidate to the best inverse-warped query, and that transform.

    subset None: all candidates -> (B, N) values and grid indices; subset (B, S) -> (B, S) each.
    """
    batch, size = queries.shape[0], grid.shape[0]
    variants = warp_inverse(queries.repeat_interleave(size, dim=0), grid.repeat(batch, 1))
    flat = variants.reshape(variants.shape[0], -1)
    if search_for(norm).shapes:
        flat = (flat > 0.5).to(flat.dtype)
    coefficients, totals = sketch.query_terms(flat)
    # [-2 q, ||q||^2 + r_q, 1] . [c, 1, ||c||^2 + r_c] = estimated squared distance, in one matrix multiply
    ones = torch.ones_like(totals)[:, None]
    left = torch.cat([-2.0 * coefficients, totals[:, None], ones], dim=1).reshape(batch, size, -1)
    if subset is None:
        right = sketch.extended
        count = right.shape[0]
        values = torch.empty((batch, count), device=queries.device)
        args = torch.empty((batch, count), dtype=torch.long, device=queries.device)
        for start in range(0, count, CHUNK):
            stop = min(start + CHUNK, count)
            dist = left.reshape(batch * size, -1) @ right[start:stop].T
            values[:, start:stop], args[:, start:stop] = dist.reshape(batch, size, -1).min(dim=1)
        return values, args
    right = sketch.extended[subset]  # (B, S, D + 2)
    dist = left @ right.transpose(1, 2)  # (B, M, S)
    return dist.min(dim=1)


def align(
    bank: CandidateBank,
    queries: torch.Tensor,
    indices: torch.Tensor,
    start_params: torch.Tensor,
    norm: str,
    eps: float | None,
    *,
    seed: int = 0,
    steps: int = ALIGN_STEPS,
    starts_per_candidate: int = 2,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Gradient-based affine alignment of candidates ``indices`` (B, P) onto ``queries`` (B, 28, 28).

    Returns (params (B, P, 6), exact cost (B, P)) of the best parameters seen (exact objective).
    """
    batch, pool = indices.shape
    device = bank.device
    generator = torch.Generator(device="cpu").manual_seed(seed)
    per = max(1, starts_per_candidate)
    noise = torch.randn((batch, pool, per - 1, 6), generator=generator).to(device)
    jitter = noise * torch.tensor(JITTER, device=device)
    jittered = clamp((start_params[:, :, None, :] + jitter).reshape(-1, 6)).reshape(batch, pool, per - 1, 6)
    starts = torch.cat([start_params[:, :, None, :], jittered], 2).reshape(-1, 6)  # (B*P*per, 6)
    candidates = bank.images[indices.reshape(-1)].repeat_interleave(per, dim=0)
    targets = queries.repeat_interleave(pool * per, dim=0)
    step_scale = torch.tensor(STEP_SCALE, device=device)
    offset = torch.zeros_like(starts, requires_grad=True)
    optimizer = torch.optim.Adam([offset], lr=1.0)
    best_cost = torch.full((starts.shape[0],), math.inf, device=device)
    best_params = starts.clone()
    radius = 0.0 if eps is None else eps
    shapes = search_for(norm).shapes
    for step in range(steps + 1):
        params = clamp(starts + offset * step_scale)
        warped = warp(candidates, params)
        with torch.no_grad():
            cost = exact_cost(warped, targets, norm, eps)
            better = cost < best_cost
            best_cost = torch.where(better, cost, best_cost)
            best_params = torch.where(better[:, None], params.detach(), best_params)
        if step == steps:
            break
        if shapes:
            loss = (warped - targets).square().sum()
        else:
            excess = torch.relu((warped - targets).abs() - radius).square().sum()
            loss = excess + 0.05 * (warped - targets).square().sum()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        for group in optimizer.param_groups:
            group["lr"] = 1.0 - 0.9 * (step + 1) / steps
        optimizer.step()
    best_cost = best_cost.reshape(batch, pool, per)
    best_params = best_params.reshape(batch, pool, per, 6)
    which = best_cost.argmin(dim=2)
    cost = torch.gather(best_cost, 2, which[..., None]).squeeze(2)
    params = torch.gather(best_params, 2, which[..., None, None].expand(batch, pool, 1, 6)).squeeze(2)
    return params, cost


def find_matches(
    bank: CandidateBank,
    queries: torch.Tensor,
    allowed: torch.Tensor,
    norm: str,
    eps: float | None,
    *,
    keep: int,
    pool: int = 24,
    seed: int = 0,
    steps: int = ALIGN_STEPS,
    starts: int = 1,
    known: Aligned | None = None,
) -> Matches:
    """Coarse pass, alignment, and the ``keep`` best aligned candidates per query (exact cost, ascending).

    ``known``: an earlier alignment of the same queries (same norm, ε and steps); with one start per candidate each
    candidate's alignment is deterministic and independent of the others, so those it holds are not aligned again.
    """
    with torch.no_grad():
        indices, start = coarse_pass(bank, queries, allowed, norm, pool)
    with torch.enable_grad():
        if known is not None and starts == 1:
            params, cost = _align_reusing(bank, queries, indices, start, known, norm, eps, steps)
        else:
            params, cost = align(
                bank, queries, indices, start, norm, eps, seed=seed, steps=steps, starts_per_candidate=starts
            )
    aligned = Aligned(indices, params.detach(), cost)
    disallowed = ~torch.gather(allowed, 1, indices)
    cost = torch.where(disallowed, torch.full_like(cost, math.inf), cost)
    keep = min(keep, indices.shape[1])
    cost, order = torch.topk(cost, keep, dim=1, largest=False, sorted=True)
    indices = torch.gather(indices, 1, order)
    params = torch.gather(params, 1, order[..., None].expand(-1, -1, 6))
    with torch.no_grad():
        warped = warp(bank.images[indices.reshape(-1)], params.reshape(-1, 6)).reshape(*indices.shape, 28, 28)
    return Matches(indices=indices, params=params, cost=cost, warped=warped, aligned=aligned)


def _align_reusing(
    bank: CandidateBank,
    queries: torch.Tensor,
    indices: torch.Tensor,
    start: torch.Tensor,
    known: Aligned,
    norm: str,
    eps: float | None,
    steps: int,
) -> tuple[torch.Tensor, torch.Tensor]:
    """:func:`align` (one start per candidate) of ``indices`` (B, P), taking the candidates ``known`` holds from it."""
    same = indices[:, :, None] == known.indices[:, None, :]  # (B, P, P0)
    where = same.to(torch.int64).argmax(2)
    params = torch.gather(known.params, 1, where[..., None].expand(-1, -1, 6)).clone()
    cost = torch.gather(known.cost, 1, where).clone()
    missing = ~same.any(2)
    count = int(missing.sum(1).max())
    if count:
        # each row's missing candidates first (stable), as many per row as the most any row misses
        order = torch.argsort((~missing).to(torch.int8), dim=1, stable=True)[:, :count]
        fresh_params, fresh_cost = align(
            bank, queries, torch.gather(indices, 1, order), torch.gather(start, 1, order[..., None].expand(-1, -1, 6)),
            norm, eps, steps=steps, starts_per_candidate=1,
        )  # fmt: skip
        wanted = torch.gather(missing, 1, order)
        rows = torch.arange(indices.shape[0], device=indices.device)[:, None].expand_as(order)[wanted]
        params[rows, order[wanted]] = fresh_params[wanted].detach()
        cost[rows, order[wanted]] = fresh_cost[wanted]
    return params, cost


__all__ = ["Aligned", "Matches", "align", "coarse_pass", "exact_cost", "find_matches"]
