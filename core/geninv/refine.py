"""ℓ0 refinement (paper, Appendix A): keep only the clusters of the change that make the class change.

Given the query x and its aligned neighbour x*, ``Δ = |x - x*| > 1/2`` marks the pixels that change
substantially. Its pixels are clustered by scikit-learn's agglomerative clustering (Ward linkage on the
features (row, column, 1.5 x sign of the change), so clusters are spatially compact and rarely mix added
and removed ink) into at most :data:`MAX_CLUSTERS` clusters. No connectivity graph is passed: with one,
scikit-learn's Ward tree took ~20 ms per call on our 2-core CPU against ~2 ms without, and Ward on pixel
coordinates already yields contiguous blobs. Every non-empty subset S of clusters gives a candidate ``x_S``
(x with the pixels of S replaced by x*'s values): at most 2^6 - 1 = 63 candidates.

Each candidate is scored with the class-conditional VAE (:mod:`core.geninv.scorer`):
``score = ELBO(x_S, target) - ELBO(x_S, source)`` (nats, a log-likelihood ratio).

**Selection rule.** A candidate is *convincing* when (a) the target class has the highest ELBO of all ten
classes, (b) ``score >= margin`` (default 4 nats) and (c) ``score >= score(x) + min_gain`` (default 12 nats;
this stops "convincing" edits of digits the VAE already found ambiguous). Among convincing candidates the one
with the fewest changed pixels wins (ties: higher score): the smallest edit that is convincing. When none
is convincing, the candidate with the highest score wins and is flagged not convincing. With an ℓ0 budget ε,
only candidates with at most ε changed pixels compete; when every subset is too large, the best-scoring one
is projected onto the budget (its ε largest changes kept).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np
import torch

from core.budget import project
from core.geninv.scorer import Scorer

MAX_CLUSTERS: Final = 6
CONVINCING_MARGIN: Final = 4.0
"""Nats by which the target's ELBO must beat the source's (on top of being the top class)."""
MIN_GAIN: Final = 12.0
"""Nats by which the score must rise above the unedited query's score."""
SIGN_WEIGHT: Final = 1.5
CHECK_CHUNK: Final = 8


@dataclass(frozen=True)
class Refined:
    """The chosen candidate: image (28, 28) float32 tensor, score, convincing flag, clusters used / found."""

    image: torch.Tensor
    score: float
    convincing: bool
    clusters_used: int
    clusters_total: int


def cluster_change(change: np.ndarray, max_clusters: int = MAX_CLUSTERS) -> list[np.ndarray]:
    """Cluster the pixels of a significant change: change (28, 28) in {-1, 0, 1} -> list of (K, 2) (row, col)."""
    from sklearn.cluster import AgglomerativeClustering

    coords = np.argwhere(change != 0)
    if coords.shape[0] == 0:
        return []
    clusters = min(max_clusters, coords.shape[0])
    if clusters == 1:
        return [coords]
    features = np.column_stack([coords.astype(np.float64), SIGN_WEIGHT * change[coords[:, 0], coords[:, 1]]])
    assignment = AgglomerativeClustering(n_clusters=clusters, linkage="ward").fit_predict(features)
    return [coords[assignment == label] for label in range(clusters) if np.any(assignment == label)]


def subset_candidates(query: torch.Tensor, target_image: torch.Tensor, clusters: list[np.ndarray]) -> torch.Tensor:
    """All non-empty cluster subsets applied to the query: -> (2^K - 1, 28, 28); bit i of row r-1 = cluster i."""
    count = len(clusters)
    masks = torch.zeros((count, 28, 28), dtype=torch.bool, device=query.device)
    for index, coords in enumerate(clusters):
        rows = torch.as_tensor(coords[:, 0], device=query.device)
        cols = torch.as_tensor(coords[:, 1], device=query.device)
        masks[index, rows, cols] = True
    choose = torch.tensor(
        [[bool(code >> bit & 1) for bit in range(count)] for code in range(1, 2**count)],
        dtype=torch.float32,
        device=query.device,
    )  # (S, K)
    combined = (choose @ masks.reshape(count, -1).float()).reshape(-1, 28, 28) > 0
    return torch.where(combined, target_image, query)


def refine_l0(
    query: torch.Tensor,
    aligned: torch.Tensor,
    source: int,
    target: int,
    scorer: Scorer,
    eps: float | None = None,
    *,
    margin: float = CONVINCING_MARGIN,
    min_gain: float = MIN_GAIN,
) -> Refined:
    """Choose the subset of Δ's clusters to apply (see module docstring). query, aligned: (28, 28) in [0, 1].

    Cost: the source and target ELBOs of every subset, then all ten ELBOs only for the few subsets that are
    checked for "target is the top class", in order of preference.
    """
    difference = aligned - query
    change = (np.sign(difference.cpu().numpy()) * (difference.abs() > 0.5).cpu().numpy()).astype(np.int8)
    clusters = cluster_change(change)
    if not clusters:
        candidates = aligned[None]
        used = torch.zeros(1, dtype=torch.long)
    else:
        candidates = subset_candidates(query, aligned, clusters)
        used = torch.tensor([bin(code).count("1") for code in range(1, 2 ** len(clusters))])
    sizes = ((candidates - query).abs() > 0.5).flatten(1).sum(1).float()
    pair = scorer.elbo_classes(torch.cat([query[None], candidates]), [source, target]).to(query.device)
    scores = pair[1:, 1] - pair[1:, 0]
    threshold = max(margin, float(pair[0, 1] - pair[0, 0]) + min_gain)
    pixels = ((candidates - query).abs() > 1.0 / 510.0).flatten(1).sum(1).float()
    fits = torch.ones_like(scores, dtype=torch.bool) if eps is None else pixels <= eps
    hopeful = fits & (scores >= threshold)
    if bool(hopeful.any()):
        key = torch.where(hopeful, sizes * 1e6 - scores, torch.full_like(scores, float("inf")))
        order = torch.argsort(key)[: int(hopeful.sum())]
        for start in range(0, order.shape[0], CHECK_CHUNK):
            chunk = order[start : start + CHECK_CHUNK]
            top = scorer.elbo_all(candidates[chunk]).argmax(dim=1).to(query.device)
            passing = torch.nonzero(top == target).flatten()
            if passing.numel():
                best = int(chunk[passing[0]])
                return Refined(candidates[best], float(scores[best]), True, int(used[best]), len(clusters))
    if bool(fits.any()):
        best = int(torch.where(fits, scores, torch.full_like(scores, -float("inf"))).argmax())
        return Refined(candidates[best], float(scores[best]), False, int(used[best]), len(clusters))
    # nothing fits the ℓ0 budget: project the best-scoring candidate onto it (keeps its largest changes)
    best = int(scores.argmax())
    projected = project(query, candidates[best], "l0", float(eps or 0.0))
    elbo = scorer.elbo_all(projected[None]).to(query.device)[0]
    score = float(elbo[target] - elbo[source])
    convincing = int(elbo.argmax()) == target and score >= threshold
    return Refined(projected, score, convincing, int(used[best]), len(clusters))


def combinations_count(clusters: int) -> int:
    """Number of candidates enumerated for ``clusters`` clusters (2^K - 1)."""
    return 2**clusters - 1 if clusters else 1


__all__ = ["Refined", "cluster_change", "combinations_count", "refine_l0", "subset_candidates"]
