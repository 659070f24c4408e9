"""ℓ0 refinement under a pixel budget: spend ε on whole, visible pixels, best judge gain per pixel first.

The paper thresholds Δ = x* - x at 1/2 and applies the changed pixels fully. Under a budget of ε pixels
(counted as pixels whose 8-bit value changes, :mod:`core.budget`), every pixel spent should be one a person
sees, so only pixels of Δ's visible part (``|Δ| > 1/2``) are ever changed, and each is set to x*'s value:
the ℓ0 cost of an edit is exactly the number of pixels it chose, faint pixels cost nothing because none is
touched.

For the R aligned neighbours of one query at once (each with its own target class):

1. Δ's visible pixels are split into compact groups of about :data:`CLUSTER_PIXELS` pixels
   (:func:`compact_groups`, k-means on the pixel coordinates, at most :data:`MAX_GREEDY_CLUSTERS`).
2. **Greedy by gain per pixel:** from the query, each step tries every remaining cluster that still fits the
   budget (all neighbours' tries in one judge batch) and adds the one whose judge margin
   ``log p(target) - log max_{c != target} p(c)`` rises most per pixel, until the margin passes
   :data:`SATURATION` or no cluster fits.
3. **Pixel fill:** what budget is left goes to single pixels of Δ not yet chosen, each scored alone (one
   batch), best first, for the :data:`FILL_NEIGHBOURS` neighbours with the highest margin so far.
4. Of every state visited, the one kept maximises ``margin - pixel_cost x pixels - FRAGMENT_COST x debris``,
   preferring states whose margin is positive (the judge's top class is the target).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final

import numpy as np
import torch

from core.geninv.judge import Judge
from core.geninv.refine import FRAGMENT_COST, fragment_pixels

CLUSTER_PIXELS: Final = 5
"""Target cluster size: fine enough to spend a 25-pixel budget in several choices."""
MAX_GREEDY_CLUSTERS: Final = 10
SATURATION: Final = 4.5
"""Judge margin (nats) past which more pixels buy nothing a person would notice."""
BUDGET_PIXEL_COST: Final = 0.02
"""Under a budget the pixels are already paid for: one pixel need only buy 0.02 nats (50 pixels = 1 nat)."""
FILL_NEIGHBOURS: Final = 4
"""Neighbours (best margin first) whose leftover budget is spent on single pixels."""


@dataclass(frozen=True)
class BudgetedEdit:
    """The edit kept for one neighbour: image (28, 28) tensor, judge margin, pixels changed, greedy steps."""

    image: torch.Tensor
    margin: float
    pixels: int
    steps: int


def target_margins(judge: Judge, images: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Judge margin of each image's own target: images (B, 28, 28), targets (B,) long -> (B,) nats."""
    if images.shape[0] == 0:
        return torch.zeros(0)
    logs = judge.probs(images).clamp_min(1e-12).log().cpu()
    rows = torch.arange(images.shape[0])
    own = logs[rows, targets]
    logs[rows, targets] = -math.inf
    return own - logs.max(dim=1).values


def refine_l0_budget(
    query: torch.Tensor,
    aligned: torch.Tensor,
    targets: torch.Tensor,
    judge: Judge,
    eps: float,
    *,
    pixel_cost: float = BUDGET_PIXEL_COST,
) -> list[BudgetedEdit | None]:
    """Budgeted edits of ``query`` (28, 28) towards each of ``aligned`` (R, 28, 28) with ``targets`` (R,).

    Returns one :class:`BudgetedEdit` per neighbour (None when Δ has no visible pixel). Every edit changes at
    most ``floor(eps)`` pixels, each by more than 1/2, to the neighbour's value; nothing else changes.
    """
    budget = math.floor(eps)
    query = query.cpu()
    aligned = aligned.cpu()
    # a chosen pixel is applied fully: added ink becomes white, removed ink black
    aligned = torch.where((aligned - query).abs() > 0.5, (aligned > query).float(), aligned)
    targets = targets.cpu().long()
    count = aligned.shape[0]
    visible = ((aligned - query).abs() > 0.5).numpy()
    clusters: list[list[np.ndarray]] = []
    for row in range(count):
        size = int(visible[row].sum())
        wanted = min(MAX_GREEDY_CLUSTERS, max(1, math.ceil(size / CLUSTER_PIXELS)))
        found = compact_groups(np.argwhere(visible[row]), wanted) if size else []
        clusters.append([c for c in found if c.shape[0] <= budget] + _split_large(found, budget))
    chosen = torch.zeros((count, 28, 28), dtype=torch.bool)
    start = target_margins(judge, query[None].expand(count, -1, -1), targets)
    margin = start.clone()
    used = [set[int]() for _ in range(count)]
    steps = [0] * count
    visited: list[list[tuple[torch.Tensor, float, int]]] = [[] for _ in range(count)]
    masks = [[_mask(c) for c in found] for found in clusters]
    while True:
        rows, options, trial = [], [], []
        for row in range(count):
            if margin[row] >= SATURATION:
                continue
            spent = int(chosen[row].sum())
            for option, mask in enumerate(masks[row]):
                if option in used[row]:
                    continue
                union = chosen[row] | mask
                extra = int(union.sum()) - spent
                if extra == 0 or spent + extra > budget:
                    continue
                rows.append(row)
                options.append((option, extra))
                trial.append(union)
        if not trial:
            break
        stacked = torch.stack(trial)
        row_t = torch.tensor(rows)
        images = torch.where(stacked, aligned[row_t], query)
        gains = target_margins(judge, images, targets[row_t])
        best: dict[int, tuple[float, int, float]] = {}
        for position, row in enumerate(rows):
            option, extra = options[position]
            rate = float(gains[position] - margin[row]) / extra
            if row not in best or rate > best[row][0]:
                best[row] = (rate, position, float(gains[position]))
        for row, (_, position, value) in best.items():
            option, _ = options[position]
            used[row].add(option)
            chosen[row] = trial[position]
            margin[row] = value
            steps[row] += 1
            visited[row].append((chosen[row].clone(), value, int(chosen[row].sum())))
    _fill_pixels(query, aligned, targets, judge, visible, chosen, margin, budget, visited)
    return _keep_best(query, aligned, visited, pixel_cost, steps)


def compact_groups(coords: np.ndarray, count: int, iterations: int = 6) -> list[np.ndarray]:
    """Split pixel coordinates (K, 2) into at most ``count`` spatially compact groups (k-means, deterministic:
    farthest-point start from the first pixel, a few Lloyd steps) -> non-empty (k, 2) arrays."""
    if coords.shape[0] == 0:
        return []
    count = max(1, min(count, coords.shape[0]))
    points = coords.astype(np.float64)
    centres = [points[0]]
    nearest = ((points - points[0]) ** 2).sum(1)
    for _ in range(1, count):
        centres.append(points[int(nearest.argmax())])
        nearest = np.minimum(nearest, ((points - centres[-1]) ** 2).sum(1))
    centre = np.stack(centres)
    for _ in range(iterations):
        assignment = ((points[:, None, :] - centre[None]) ** 2).sum(2).argmin(1)
        for group in range(count):
            members = points[assignment == group]
            if members.shape[0]:
                centre[group] = members.mean(0)
    assignment = ((points[:, None, :] - centre[None]) ** 2).sum(2).argmin(1)
    return [coords[assignment == group] for group in range(count) if np.any(assignment == group)]


def _split_large(found: list[np.ndarray], budget: int) -> list[np.ndarray]:
    """Clusters larger than the budget, cut into budget-sized pieces along their row-major order."""
    pieces: list[np.ndarray] = []
    for coords in found:
        if coords.shape[0] > budget:
            pieces.extend(coords[start : start + budget] for start in range(0, coords.shape[0], budget))
    return pieces


def _mask(coords: np.ndarray) -> torch.Tensor:
    mask = torch.zeros((28, 28), dtype=torch.bool)
    mask[torch.as_tensor(coords[:, 0]), torch.as_tensor(coords[:, 1])] = True
    return mask


def _fill_pixels(
    query: torch.Tensor,
    aligned: torch.Tensor,
    targets: torch.Tensor,
    judge: Judge,
    visible: np.ndarray,
    chosen: torch.Tensor,
    margin: torch.Tensor,
    budget: int,
    visited: list[list[tuple[torch.Tensor, float, int]]],
) -> None:
    """Spend each of the best neighbours' leftover budget on single visible pixels, best judge gain first."""
    order = [int(r) for r in torch.argsort(margin, descending=True)]
    rows: list[int] = []
    pixels: list[tuple[int, int]] = []
    for row in order[:FILL_NEIGHBOURS]:
        left = budget - int(chosen[row].sum())
        if left <= 0 or margin[row] >= SATURATION:
            continue
        free = np.argwhere(visible[row] & ~chosen[row].numpy())
        for r, c in free:
            rows.append(row)
            pixels.append((int(r), int(c)))
    if not rows:
        return
    row_t = torch.tensor(rows)
    trial = chosen[row_t].clone()
    trial[torch.arange(len(rows)), torch.tensor([p[0] for p in pixels]), torch.tensor([p[1] for p in pixels])] = True
    gains = target_margins(judge, torch.where(trial, aligned[row_t], query), targets[row_t])
    finals: list[tuple[int, torch.Tensor]] = []
    for row in dict.fromkeys(rows):
        left = budget - int(chosen[row].sum())
        mine = [i for i, r in enumerate(rows) if r == row]
        ranked = sorted(mine, key=lambda i: -float(gains[i]))
        picked = [i for i in ranked if float(gains[i]) > float(margin[row])][:left]
        if not picked:
            continue
        mask = chosen[row].clone()
        for i in picked:
            mask[pixels[i]] = True
        finals.append((row, mask))
    if not finals:
        return
    final_rows = torch.tensor([row for row, _ in finals])
    masks = torch.stack([mask for _, mask in finals])
    values = target_margins(judge, torch.where(masks, aligned[final_rows], query), targets[final_rows])
    for (row, mask), value in zip(finals, values.tolist(), strict=True):
        chosen[row] = mask
        margin[row] = value
        visited[row].append((mask, value, int(mask.sum())))


def _keep_best(
    query: torch.Tensor,
    aligned: torch.Tensor,
    visited: list[list[tuple[torch.Tensor, float, int]]],
    pixel_cost: float,
    steps: list[int],
) -> list[BudgetedEdit | None]:
    flat = [(row, state) for row, states in enumerate(visited) for state in states]
    if not flat:
        return [None] * len(visited)
    images = torch.stack([torch.where(state[0], aligned[row], query) for row, state in flat])
    debris = fragment_pixels(images).tolist()
    best: dict[int, tuple[tuple[bool, float], int]] = {}
    for position, ((row, (_, value, pixels)), fragments) in enumerate(zip(flat, debris, strict=True)):
        key = (value > 0, value - pixel_cost * pixels - FRAGMENT_COST * fragments)
        if row not in best or key > best[row][0]:
            best[row] = (key, position)
    out: list[BudgetedEdit | None] = [None] * len(visited)
    for row, (_, position) in best.items():
        _, (_, value, pixels) = flat[position]
        out[row] = BudgetedEdit(images[position], value, pixels, steps[row])
    return out


__all__ = ["BudgetedEdit", "compact_groups", "refine_l0_budget", "target_margins"]
