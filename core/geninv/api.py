"""GenInv's public entry points: ``suggest`` and ``suggest_batch`` (Algorithm 1 of the paper, made fast).

Pipeline per query x (label y), see the sibling modules for each step:

1. candidates S = bank digits whose label differs from y (ℓ0), or whose label is one of the convincing
   targets for y (ℓ∞, :data:`LINF_TARGETS`, overridable);
2. x* = the aligned t(x̂) closest to x (:mod:`core.geninv.search`; exact norm for the final choice);
3. ℓ0 with a budget ε: spend it on whole visible pixels of Δ, best judge gain per pixel first
   (:mod:`core.geninv.greedy`); ℓ0 without one (ε None): keep the clusters of Δ that the judge says make the
   target show (:mod:`core.geninv.refine`); ℓ∞: ``project(x, x*, "linf", eps)`` or the full-ε step towards x*,
   whichever the judge prefers;
4. round to uint8 without leaving the budget (:func:`core.budget.quantize`) and check the budget again;
5. judge the final uint8 image (:mod:`core.geninv.judge`): ``raw_score`` = the judge's log-odds margin of the
   target over every other class, minus 0.2 nats per ink pixel outside the largest connected component
   (debris a person notices), ``p_human`` = the fitted mapping of it and of the aligned neighbour's cost
   (:mod:`core.geninv.calibration`).

A digit none of whose candidates reaches its target (the judge's top class), or whose best candidate is weak
(raw score below ``SearchSettings.widen_below``, with a budget), is searched again, wider (:func:`_widen`). A
candidate must change at least one pixel. When some candidate reaches its target, only those that do are offered;
otherwise the best ones are still offered, marked weak (``extras["target_reached"] = 0``) with the low ``p_human``
their score gives, so every digit gets a suggestion unless nothing changes. Never a
relabelled copy. Suggestions for one query come from different training digits; they are ordered by ``raw_score``
plus, for ℓ0, a prior over (source, target) pairs fitted on blind ratings (:mod:`core.geninv.pairs`), highest first,
then by fewer pixels changed by more than 1/2: not by ``p_human``, whose aligned-cost term tells how readily people
see the target across digits, but did not pick the better of one digit's suggestions in a paired blind test
(docs/geninv.md). ``convincing`` means ``p_human >= 0.5``.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final, TypedDict, Unpack

import numpy as np
import torch

from core.budget import NORMS, distance, project, quantize, within_budget
from core.device import resolve_device
from core.errors import BudgetError, InvarianceError
from core.geninv.bank import CandidateBank, default_bank
from core.geninv.calibration import PHumanMapping, load_mapping, raw_score
from core.geninv.greedy import refine_l0_budget
from core.geninv.judge import Judge, load_judge
from core.geninv.norms import Search, search_for
from core.geninv.pairs import pair_prior, ranking_score
from core.geninv.refine import FRAGMENT_COST, PIXEL_COST, fragment_pixels, refine_l0
from core.geninv.scorer import Scorer
from core.geninv.search import Aligned, find_matches
from core.geninv.transforms import TransformParams
from core.images import to_uint8

log = logging.getLogger(__name__)

LINF_TARGETS: Final[Mapping[int, tuple[int, ...]]] = {
    0: (6, 8),
    1: (7, 4),
    2: (7, 3),
    3: (5, 8),
    4: (9, 1),
    5: (3, 6, 8),
    6: (0, 5, 8),
    7: (1, 9),
    8: (3, 9, 0),
    9: (4, 7, 8),
}
"""ℓ∞ targets per source digit: pairs whose strokes mostly overlap, so that a change bounded per pixel can
turn one into the other (the paper always maps a 1 to a 7 or a 4). Override with ``targets=``."""

CPU_BATCH: Final = 8
"""Queries searched together on a CPU: about 25% less CPU time per digit than one at a time, and the same
suggestions (with one start per candidate, as by default, each query's search is independent of the others)."""
WIDEN_POOL: Final = 2
"""The second, wider search (for digits whose first search reaches no target or is weak) aligns twice the pool and
refines twice the neighbours; for ℓ∞ it also takes every other class as a target."""
DISTORTION_KEYS: Final = ("l0", "l1", "l2", "linf", "l0_binary")

ProgressFn = Callable[[int, int], None]
CancelFn = Callable[[], bool]


class CancelledError(InvarianceError):
    """The caller's ``cancel`` hook asked GenInv to stop."""


@dataclass(frozen=True)
class SearchSettings:
    """Knobs of the search (defaults measured on MNIST; see the module docs of ``search`` and ``refine``)."""

    pool: int | None = None
    """Candidates per query that get gradient alignment; None: the search's own at this budget
    (:meth:`Search.defaults_for`: 24, or 96 for ℓ0 above the paper's 25 pixels)."""
    steps: int = 20
    """Adam steps of the alignment."""
    starts: int = 1
    """Starts per candidate: the coarse transform, plus (starts - 1) seeded jittered ones."""
    refine: int = 16
    """Aligned neighbours per query that go through ℓ0 refinement / ℓ∞ projection (at least k)."""
    pixel_cost: float = PIXEL_COST
    """ℓ0: judge margin (nats) one changed pixel must buy when choosing Δ's clusters."""
    widen_below: float | None = None
    """A digit whose best suggestion's raw score is below this (nats) is searched again, wider, like one whose
    suggestions reach no target (only with a budget); ``-inf`` turns it off; None: the search's own at this budget
    (:meth:`Search.defaults_for`: 2, or 3 for ℓ0 above the paper's 25 pixels)."""


@dataclass(frozen=True, eq=False)
class Suggestion:
    """One invariance suggestion for a query digit.

    image: float32 (28, 28) in [0, 1] on the uint8 grid (k / 255), within budget after rounding.
    distortion: distance to the (grid-snapped) query in "l0", "l1", "l2", "linf" and "l0_binary"
    (pixels changed by more than 1/2). raw_score: the judge's margin log p(target) - log max_{c != target} p(c)
    in nats on the final image, minus ``FRAGMENT_COST`` per debris pixel (``score`` is the same number, kept for
    older callers); p_human: the estimated
    probability that a person sees the target (:mod:`core.geninv.calibration`); convincing: p_human >= 0.5.
    seconds: wall time spent on this query (shared by its k suggestions).
    """

    image: np.ndarray
    label: int
    target_label: int
    train_index: int
    transform: TransformParams
    distortion: dict[str, float]
    score: float
    seconds: float
    norm: str
    eps: float | None
    convincing: bool
    aligned_cost: float
    """Exact objective of the aligned neighbour x* (ℓ0: differing binarised pixels; ℓ∞: squared excess)."""
    p_human: float
    raw_score: float
    extras: dict[str, float] = field(default_factory=dict)

    def image_u8(self) -> np.ndarray:
        """The image as uint8 (28, 28)."""
        return to_uint8(self.image)


class SuggestOptions(TypedDict, total=False):
    """The optional keywords of :func:`suggest` and :func:`suggest_batch` (see there; all default to None)."""

    targets: Mapping[int, Sequence[int]] | None
    bank: CandidateBank | None
    scorer: Scorer | None
    judge: Judge | None
    mapping: PHumanMapping | None
    settings: SearchSettings | None
    cancel: CancelFn | None


class BatchOptions(SuggestOptions, total=False):
    """:func:`suggest_batch`'s keywords beyond :class:`SuggestOptions` (all default to None)."""

    progress: ProgressFn | None
    batch_size: int | None
    _step: Callable[[], None] | None
    """Called after each step of each query (:func:`suggest` counts its progress with it)."""


def suggest(
    image: np.ndarray,
    label: int,
    norm: str,
    eps: float | None = None,
    k: int = 5,
    seed: int = 0,
    device: str | torch.device | None = None,
    *,
    progress: ProgressFn | None = None,
    **options: Unpack[SuggestOptions],
) -> list[Suggestion]:
    """Up to ``k`` suggestions for one digit, best first (see module docstring); empty when none is within budget.

    image: float32 (28, 28) in [0, 1]; label: its digit 0-9; norm: "l0" (eps: a whole number of pixels >= 1;
    None = no budget; GenInv's commands default to 25, the paper's budget) or "linf" (eps required, e.g. 0.3 or 0.4).
    ``bank``/``judge``/``mapping`` default to MNIST train (filtered with ``scorer``, the generative VAE), the
    trained judge and the stored p_human mapping, built lazily and cached on ``device``.
    Raises :class:`BudgetError` / :class:`InvarianceError` for bad input, :class:`CancelledError` when
    ``cancel()`` returns True. ``progress(done, total)`` counts steps of this one query: the search, then each
    aligned neighbour refined (total = 1 + max(k, refine)).
    """
    array = np.asarray(image)
    if array.ndim != 2:
        raise BudgetError(f"GenInv query must have shape (28, 28), got {array.shape}")
    total = 1 + max(k, (options.get("settings") or SearchSettings()).refine)
    done = [0]

    def step() -> None:
        done[0] += 1
        if progress is not None:
            progress(min(done[0], total), total)

    results = suggest_batch(array[None], [label], norm, eps, k, seed, device, **options, _step=step)
    if progress is not None and done[0] < total:
        progress(total, total)
    return results[0]


def suggest_batch(
    images: np.ndarray,
    labels: Sequence[int] | np.ndarray,
    norm: str,
    eps: float | None = None,
    k: int = 5,
    seed: int = 0,
    device: str | torch.device | None = None,
    **options: Unpack[BatchOptions],
) -> list[list[Suggestion]]:
    """``suggest`` for many digits: images (N, 28, 28) float in [0, 1], labels (N,) -> N lists, best first.

    Queries are searched ``batch_size`` at a time (default :data:`CPU_BATCH` on CPU, 32 on CUDA).
    ``progress(done, total)`` is called after each batch; ``cancel()`` is polled between steps. The other options
    (:class:`SuggestOptions`) are those of :func:`suggest`.
    """
    unknown = sorted(set(options) - BatchOptions.__optional_keys__)
    if unknown:
        raise TypeError(f"suggest_batch() got an unexpected keyword argument {unknown[0]!r}")
    search, queries, label_array = _validate(images, labels, norm, eps, k)
    settings = options.get("settings") or SearchSettings()
    bank, cancel, progress = options.get("bank"), options.get("cancel"), options.get("progress")
    # the generative scorer (option "scorer") only filters the default bank (core.geninv.bank)
    chosen = resolve_device(device) if bank is None else bank.device
    if bank is None:
        bank = default_bank(chosen)
    judge = options.get("judge") or load_judge(chosen)
    mapping = options.get("mapping") or load_mapping()
    targets = options.get("targets")
    table = _target_table(targets)
    defaults = search.defaults_for(eps)
    pool = settings.pool or defaults.pool
    widen_below = defaults.widen_below if settings.widen_below is None else settings.widen_below
    first = _Pass(seed, table, settings, pool, widen_below)
    wider = _Pass(
        seed + 1,
        _wide_table(table, explicit=targets is not None),
        dataclasses.replace(settings, refine=settings.refine * WIDEN_POOL),
        pool * WIDEN_POOL,
        widen_below,
    )
    searcher = _Searcher(bank, judge, mapping, search, eps, k, cancel)
    batch_size = options.get("batch_size") or (32 if chosen.type == "cuda" else CPU_BATCH)
    step = options.get("_step")
    total = queries.shape[0]
    results: list[list[Suggestion]] = []
    for start in range(0, total, batch_size):
        _check_cancel(cancel)
        stop = min(start + batch_size, total)
        started = time.perf_counter()
        searched = _run_batch(searcher, queries[start:stop], label_array[start:stop], first, step=step)
        batch = searched.suggestions
        _widen(batch, searched, searcher, queries[start:stop], label_array[start:stop], wider)
        elapsed = (time.perf_counter() - started) / (stop - start)
        for suggestions in batch:
            results.append([_with_seconds(s, elapsed) for s in suggestions[:k]])
        if progress is not None:
            progress(stop, total)
    return results


def _reached(suggestions: list[Suggestion]) -> bool:
    return any(s.extras.get("target_reached", 1.0) > 0 for s in suggestions)


def _wide_table(table: Mapping[int, tuple[int, ...]], *, explicit: bool) -> dict[int, tuple[int, ...]]:
    """ℓ∞ targets of the wider second search: every other class, unless the caller fixed the targets."""
    if explicit:
        return dict(table)
    return {digit: tuple(c for c in range(10) if c != digit) for digit in range(10)}


@dataclass(frozen=True)
class _Searcher:
    """What every batch of one :func:`suggest_batch` call searches with."""

    bank: CandidateBank
    judge: Judge
    mapping: PHumanMapping
    search: Search
    eps: float | None
    k: int
    cancel: CancelFn | None


@dataclass(frozen=True)
class _Pass:
    """One search pass over a batch: its seed, the target classes of each digit, the search settings, and the two
    settings whose defaults depend on the norm and budget, resolved: candidates aligned per query, and the raw score
    under which a digit is searched again, wider."""

    seed: int
    table: Mapping[int, tuple[int, ...]]
    settings: SearchSettings
    pool: int
    widen_below: float


@dataclass(frozen=True)
class _Searched:
    """One search pass over a batch: each digit's suggestions, the training indices of the neighbours it edited, and
    every candidate it aligned."""

    suggestions: list[list[Suggestion]]
    edited: list[frozenset[int]]
    aligned: Aligned


def _widen(
    batch: list[list[Suggestion]],
    earlier: _Searched,
    searcher: _Searcher,
    queries_np: np.ndarray,
    labels: np.ndarray,
    wide: _Pass,
) -> None:
    """Search again with the ``wide`` pass (:data:`WIDEN_POOL` times the pool and neighbours; ℓ∞: every target
    class) for the digits whose suggestions reach no target or are weak (best raw score below
    ``SearchSettings.widen_below``), editing only neighbours the first pass (``earlier``) did not, and not aligning
    again the candidates it aligned. Where the wider search reaches a target that the first did not, or scores
    higher, the digit's suggestions become the best of both passes (in place)."""
    if searcher.eps is None:
        return
    rows = [row for row, found in enumerate(batch) if _needs_wider(found, wide.widen_below)]
    if not rows:
        return
    again = _run_batch(
        searcher, queries_np[rows], labels[rows], wide,
        skip=[earlier.edited[row] for row in rows], known=earlier.aligned.rows(rows),
    ).suggestions  # fmt: skip
    for row, wider in zip(rows, again, strict=True):
        found = [dataclasses.replace(s, extras={**s.extras, "wider_search": 1.0}) for s in wider]
        first = batch[row]
        newly_reached = _reached(found) and not _reached(first)
        better = bool(found) and (not first or _best_raw(found) > _best_raw(first))
        if newly_reached or (better and (_reached(found) or not _reached(first))):
            both = found + first
            batch[row] = _rank([s for s in both if _reached([s])] if _reached(both) else both)


def _needs_wider(found: list[Suggestion], widen_below: float) -> bool:
    return not _reached(found) or _best_raw(found) < widen_below


def _best_raw(found: list[Suggestion]) -> float:
    """The highest raw score among a digit's suggestions (the search's measure of itself; the first suggestion is
    the one the pair prior ranks first, :func:`_rank`)."""
    return max(s.raw_score for s in found)


def _run_batch(
    searcher: _Searcher,
    queries_np: np.ndarray,
    labels: np.ndarray,
    run: _Pass,
    *,
    step: Callable[[], None] | None = None,
    skip: Sequence[frozenset[int]] | None = None,
    known: Aligned | None = None,
) -> _Searched:
    """Search ``run`` for each query: its suggestions, the training indices of the neighbours it edited (those in
    ``skip[row]``, already edited by an earlier pass, are left out) and every candidate aligned (those in ``known``,
    aligned by an earlier pass of the same queries, are taken from it)."""
    bank, judge, mapping, search = searcher.bank, searcher.judge, searcher.mapping, searcher.search
    seed, table, settings = run.seed, run.table, run.settings
    eps, k, cancel = searcher.eps, searcher.k, searcher.cancel
    device = bank.device
    snapped = to_uint8(queries_np) / 255.0
    queries = torch.from_numpy(snapped.astype(np.float32)).to(device)
    label_t = torch.from_numpy(labels).to(device)
    if search.shapes:
        allowed = bank.labels[None, :] != label_t[:, None]
    else:
        allowed_targets = torch.zeros((len(labels), 10), dtype=torch.bool, device=device)
        for row, label in enumerate(labels.tolist()):
            allowed_targets[row, list(table[label])] = True
        allowed = torch.gather(allowed_targets, 1, bank.labels[None, :].expand(len(labels), -1))
    if not bool(allowed.any(dim=1).all()):
        raise InvarianceError("the candidate pool has no digit of an allowed target class for some query")
    keep = max(k, settings.refine)
    matches = find_matches(
        bank, queries, allowed, search.name, eps, keep=keep, pool=max(run.pool, keep), seed=seed,
        steps=settings.steps, starts=settings.starts, known=known,
    )  # fmt: skip
    _check_cancel(cancel)
    if step is not None:
        step()
    out: list[list[Suggestion]] = []
    neighbours: list[frozenset[int]] = []
    for row in range(len(labels)):
        source = int(labels[row])
        original = queries[row]
        # snapping moved each pixel by at most 1/510: keep the ℓ∞ budget around the *given* image too
        slack = float(np.abs(snapped[row] - queries_np[row]).max())
        finished: list[_Edited] = []
        skipped = skip[row] if skip is not None else frozenset()
        valid = [
            c
            for c in range(matches.indices.shape[1])
            if math.isfinite(float(matches.cost[row, c]))
            and int(bank.train_indices[matches.indices[row, c]]) not in skipped
        ]
        neighbours.append(frozenset(int(bank.train_indices[matches.indices[row, c]]) for c in valid))
        column_targets = bank.labels[matches.indices[row]].cpu()
        budgeted = None
        linf_edits: dict[int, tuple[torch.Tensor, bool]] = {}
        if search.shapes and eps is not None and valid:
            edits = refine_l0_budget(original, matches.warped[row][valid], column_targets[valid], judge, eps)
            budgeted = dict(zip(valid, edits, strict=True))
        elif not search.shapes and eps is not None and valid:
            budget = search.budget_after_snapping(eps, slack)
            pairs = _linf_edits(original, matches.warped[row][valid], budget, judge, column_targets[valid])
            linf_edits = dict(zip(valid, pairs, strict=True))
        for column in valid:
            _check_cancel(cancel)
            index = int(matches.indices[row, column])
            target = int(bank.labels[index])
            aligned = matches.warped[row, column]
            if budgeted is not None:
                edit = budgeted.get(column)
                if edit is None:
                    continue
                edited = edit.image.to(original.device)
                extras = {"greedy_steps": float(edit.steps), "pixels_chosen": float(edit.pixels)}
            elif search.shapes:
                refined = refine_l0(original, aligned, target, judge, eps, pixel_cost=settings.pixel_cost)
                edited = refined.image
                extras = {"clusters_used": float(refined.clusters_used), "clusters": float(refined.clusters_total)}
            else:
                edited, pushed = linf_edits[column]
                extras = {"full_eps_push": float(pushed)}
            finished.append(
                _Edited(
                    _round_within_budget(snapped[row], edited, search, eps, slack), target,
                    int(bank.train_indices[index]), matches.params[row, column], float(matches.cost[row, column]),
                    extras,
                )
            )  # fmt: skip
            if step is not None:
                step()
        out.append(_rank(_judged(snapped[row], source, finished, judge, mapping, search.name, eps)))
    return _Searched(out, neighbours, matches.aligned)


PUSH_THRESHOLD: Final = 0.25
"""ℓ∞ full-ε variant: pixels where x* differs from x by more than this move by the whole ε towards x*."""


def _linf_edits(
    original: torch.Tensor, aligned: torch.Tensor, budget: float, judge: Judge, targets: torch.Tensor
) -> list[tuple[torch.Tensor, bool]]:
    """The ℓ∞ edit towards each of ``aligned`` (R, 28, 28): its projection onto the ε-ball, or the full-ε step on
    the pixels where it differs clearly (:data:`PUSH_THRESHOLD`), whichever the judge's margin for its target
    prefers (one judge batch) -> [(image, pushed)] * R."""
    projected = project(original.expand_as(aligned), aligned, "linf", budget)
    difference = aligned - original
    clear = difference.abs() > PUSH_THRESHOLD
    pushed = original + torch.where(clear, budget * torch.sign(difference), difference.clamp(-budget, budget))
    pushed = pushed.clamp(0.0, 1.0)
    count = aligned.shape[0]
    margins = judge.margins(torch.cat([projected, pushed]), torch.cat([targets, targets]).long())
    return [
        (pushed[i], True) if float(margins[count + i]) > float(margins[i]) else (projected[i], False)
        for i in range(count)
    ]


@dataclass(frozen=True)
class _Edited:
    """One rounded candidate edit of a query, before judging."""

    image_u8: np.ndarray
    target: int
    train_index: int
    params: torch.Tensor
    aligned_cost: float
    extras: dict[str, float]


def _round_within_budget(
    original: np.ndarray, edited: torch.Tensor, search: Search, eps: float | None, slack: float
) -> np.ndarray:
    """Round to uint8 within the budget and re-check it."""
    edited_np = edited.detach().cpu().numpy().astype(np.float64)
    if eps is None:
        return to_uint8(edited_np)
    budget = search.budget_after_snapping(eps, slack)
    image_u8 = quantize(original, edited_np, search.name, budget)
    if not within_budget(original, image_u8 / 255.0, search.name, budget):
        raise InvarianceError(f"GenInv produced an image outside the {search.name} budget {eps} (bug)")
    return image_u8


def _judged(
    original: np.ndarray,
    source: int,
    finished: list[_Edited],
    judge: Judge,
    mapping: PHumanMapping,
    norm: str,
    eps: float | None,
) -> list[Suggestion]:
    """Judge the final uint8 images of one query; keep those that change something and reach their target."""
    if not finished:
        return []
    original_u8 = to_uint8(original)
    stack = torch.from_numpy(np.stack([entry.image_u8 for entry in finished]).astype(np.float32) / 255.0)
    probs, raws = judge_raw_scores(judge, stack, [entry.target for entry in finished])
    changed = [bool(np.any(entry.image_u8 != original_u8)) for entry in finished]
    reached = [int(row.argmax()) == entry.target for entry, row in zip(finished, probs, strict=True)]
    any_reached = any(c and r for c, r in zip(changed, reached, strict=True))
    kept: list[Suggestion] = []
    for entry, row, raw, changes, hits in zip(finished, probs, raws, changed, reached, strict=True):
        if not changes:
            continue  # changes nothing
        if any_reached and not hits:
            continue  # a candidate that reaches its target exists: offer only those
        p_human = float(mapping(raw, norm=norm, aligned_cost=entry.aligned_cost))
        image64 = entry.image_u8.astype(np.float64) / 255.0
        distortion = {name: float(distance(original, image64, name)) for name in NORMS}
        distortion["l0_binary"] = float((np.abs(image64 - original) > 0.5).sum())
        kept.append(
            Suggestion(
                image=image64.astype(np.float32),
                label=source,
                target_label=entry.target,
                train_index=entry.train_index,
                transform=TransformParams.from_row(entry.params.detach().cpu()),
                distortion=distortion,
                score=raw,
                seconds=0.0,
                norm=norm,
                eps=eps,
                convincing=p_human >= 0.5,
                aligned_cost=entry.aligned_cost,
                p_human=p_human,
                raw_score=raw,
                extras={
                    **entry.extras,
                    "target_reached": float(hits),
                    "judge_p_target": float(row[entry.target]),
                    "judge_p_source": float(row[source]),
                    "pair_prior": pair_prior(norm, source, entry.target),
                },
            )
        )
    return kept


def judge_raw_scores(judge: Judge, images: torch.Tensor, targets: Sequence[int]) -> tuple[torch.Tensor, list[float]]:
    """The judge's probabilities of ``images`` (N, 28, 28), on the CPU, and each image's raw score for its target
    (``Suggestion.raw_score``): the margin log p(target) - log max_{c != target} p(c) minus ``FRAGMENT_COST`` per
    debris pixel."""
    probs = judge.probs(images).cpu()
    debris = fragment_pixels(images).tolist()
    return probs, [
        raw_score(row.numpy(), target) - FRAGMENT_COST * fragments
        for row, target, fragments in zip(probs, targets, debris, strict=True)
    ]


def _rank(candidates: list[Suggestion]) -> list[Suggestion]:
    """Best first: highest raw score plus the pair prior (:mod:`core.geninv.pairs`), then fewer pixels changed by
    more than 1/2. Every candidate is kept until the end of :func:`suggest_batch`, so that the decision to search
    again sees the best raw score, not only the first k's."""

    def order(s: Suggestion) -> tuple[float, float]:
        return -ranking_score(s.raw_score, s.norm, s.label, s.target_label), s.distortion["l0_binary"]

    return sorted(candidates, key=order)


def _with_seconds(suggestion: Suggestion, seconds: float) -> Suggestion:
    return Suggestion(**{**suggestion.__dict__, "seconds": seconds})


def _check_cancel(cancel: CancelFn | None) -> None:
    if cancel is not None and cancel():
        raise CancelledError("GenInv cancelled")


def _target_table(targets: Mapping[int, Sequence[int]] | None) -> dict[int, tuple[int, ...]]:
    table = {digit: tuple(values) for digit, values in LINF_TARGETS.items()}
    for digit, values in (targets or {}).items():
        cleaned = tuple(int(v) for v in values)
        if not 0 <= int(digit) <= 9 or not cleaned or any(v == int(digit) or not 0 <= v <= 9 for v in cleaned):
            raise InvarianceError(f"invalid ℓ∞ target list for digit {digit}: {list(values)}")
        table[int(digit)] = cleaned
    return table


def _validate(
    images: np.ndarray, labels: Sequence[int] | np.ndarray, norm: str, eps: float | None, k: int
) -> tuple[Search, np.ndarray, np.ndarray]:
    search = search_for(norm)
    if search.eps_required and eps is None:
        raise BudgetError(f"GenInv {norm} needs a budget eps (e.g. 0.3 or 0.4)")
    if eps is not None:
        search.check_eps(eps)
    if not isinstance(k, int) or k < 1:
        raise InvarianceError(f"GenInv needs k >= 1 suggestions, got {k}")
    array = np.asarray(images)
    if array.ndim != 3 or array.shape[1:] != (28, 28):
        raise BudgetError(f"GenInv queries must have shape (N, 28, 28), got {array.shape}")
    if not np.issubdtype(array.dtype, np.floating):
        raise BudgetError(f"GenInv queries must be float images in [0, 1], got dtype {array.dtype}")
    if not np.isfinite(array).all():
        raise BudgetError("GenInv query contains NaN or infinite values")
    if array.size and (array.min() < 0 or array.max() > 1):
        raise BudgetError("GenInv query has values outside [0, 1]")
    label_array = np.asarray(labels, dtype=np.int64).reshape(-1)
    if label_array.shape[0] != array.shape[0]:
        raise InvarianceError(f"GenInv got {array.shape[0]} images but {label_array.shape[0]} labels")
    if label_array.size and (label_array.min() < 0 or label_array.max() > 9):
        raise InvarianceError(f"GenInv labels must be digits 0-9, got {sorted(set(label_array.tolist()))}")
    return search, array.astype(np.float32), label_array
