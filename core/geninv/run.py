"""Batch GenInv over many MNIST test digits: sharded (:mod:`core.sharding`), written as it goes, resumable.

``run_digits(indices, settings, ...)`` splits the digits into fixed chunks of :data:`CHUNK_DIGITS` (seed of each
chunk derived from the run's seed and the chunk's first digit), runs :func:`search_chunk` on them in this process,
on a local process pool (``workers``) or on Dask (``dask``), and hands each finished chunk to ``on_chunk`` in this
process as soon as it arrives (``invariance geninv --out COLL`` adds its items to the collection there, through the
collection's journal and lock). The chunks are fixed by the digits and the chunk size alone, so the suggestions do
not depend on the number of workers or the engine.

Resuming: every item records its run key (:func:`run_key`: norm, ε, seed, search settings and the defaults
they take at that budget, candidate pool and targets) and its source digit. :func:`done_digits` reads them back
from a collection, and the digits found there are not searched again; a chunk with some digits done runs the rest
with the chunk's own seed, so a resumed run writes what an uninterrupted one would.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import numpy as np

from core.geninv.api import SearchSettings, Suggestion
from core.geninv.calibration import load_mapping
from core.geninv.norms import search_for
from core.geninv.pairs import PAIR_PRIOR_NATS

CHUNK_DIGITS: Final = 8
"""Digits per chunk: the unit that is written at once (and that a kill -9 can lose)."""
RUN_KEY_FIELD: Final = "geninv_run"
"""The item's extra field holding its run key."""
ALGORITHM: Final = "budgeted-greedy-1"
"""Part of every run key: changes when the search would give other suggestions for the same settings."""


@dataclass(frozen=True)
class RunSettings:
    """Everything that determines a digit's suggestion (besides the digit): part of the run key."""

    norm: str
    eps: float | None
    seed: int
    device: str = "cpu"
    pool_size: int | None = None
    targets: Mapping[int, Sequence[int]] | None = None
    search: SearchSettings = field(default_factory=SearchSettings)
    predict: bool = True
    """Store each available model's prediction (zoo and user models) with the suggestion."""


@dataclass(frozen=True)
class DigitResult:
    """One digit's outcome: its best suggestion (None: none within budget) and the models' labels on it."""

    index: int
    suggestion: Suggestion | None
    predictions: dict[str, int]


def run_key(settings: RunSettings) -> str:
    """A short stable key of ``settings`` and of the stored p_human mapping (stored with every suggestion); not of
    the device or of whether predictions are stored."""
    payload = {
        "p_human": load_mapping().to_json(),
        "algorithm": ALGORITHM,
        "norm": settings.norm,
        "eps": settings.eps,
        "seed": settings.seed,
        "pool_size": settings.pool_size,
        "targets": None if settings.targets is None else {str(k): list(v) for k, v in sorted(settings.targets.items())},
        "search": dataclasses.asdict(settings.search),
        # the defaults a None setting takes at this norm and budget: the key changes with them too
        "defaults": dataclasses.asdict(search_for(settings.norm).defaults_for(settings.eps)),
        # the order of one digit's suggestions, so which one is kept
        "pair_prior": PAIR_PRIOR_NATS,
        "chunk_digits": CHUNK_DIGITS,
    }
    digest = hashlib.sha256(json.dumps(payload, sort_keys=True).encode("utf-8")).hexdigest()[:16]
    budget = "none" if settings.eps is None else f"{settings.eps:g}"
    return f"{settings.norm}-{budget}-seed{settings.seed}-{digest}"


def done_digits(items: Iterable[Any], key: str) -> set[int]:
    """Source digits of the collection items (``core.collection.Item``) that a run with ``key`` already wrote."""
    return {
        int(item.source_index)
        for item in items
        if item.extra.get(RUN_KEY_FIELD) == key and item.source_split == "test" and item.source_index is not None
    }


def search_chunk(chunk: Any, settings: RunSettings) -> list[DigitResult]:
    """The best suggestion (k=1) for each test digit of ``chunk`` (a :class:`core.sharding.Chunk`), with the
    chunk's seed; module-level so that process pools and Dask can run it."""
    from core.data import load_mnist
    from core.geninv.api import suggest_batch
    from core.geninv.bank import default_bank
    from core.geninv.judge import load_judge
    from core.images import to_float

    images, labels = load_mnist("test")
    indices = np.asarray(chunk.indices, dtype=np.int64)
    bank = default_bank(settings.device, settings.pool_size)
    judge = load_judge(settings.device)
    found = suggest_batch(
        to_float(images[indices]), labels[indices], settings.norm, settings.eps, k=1, seed=chunk.seed,
        bank=bank, judge=judge, targets=settings.targets, settings=settings.search,
    )  # fmt: skip
    best = [suggestions[0] if suggestions else None for suggestions in found]
    predictions = _predictions([s for s in best if s is not None], settings)
    out: list[DigitResult] = []
    position = 0
    for index, suggestion in zip(indices.tolist(), best, strict=True):
        labels_of: dict[str, int] = {}
        if suggestion is not None:
            labels_of = {name: int(values[position]) for name, values in predictions.items()}
            position += 1
        out.append(DigitResult(int(index), suggestion, labels_of))
    return out


def _predictions(best: Sequence[Suggestion], settings: RunSettings) -> dict[str, np.ndarray]:
    if not best or not settings.predict:
        return {}
    from core.zoo.predict import predict_all

    return predict_all(np.stack([s.image_u8() for s in best]), device=settings.device)


def run_digits(
    indices: Sequence[int],
    settings: RunSettings,
    *,
    skip: set[int] | None = None,
    workers: int = 1,
    dask: str | None = None,
    on_chunk: Callable[[list[DigitResult]], None] | None = None,
    progress: str | None = "geninv",
    threads: int = 1,
) -> list[DigitResult]:
    """Search every digit of ``indices`` not in ``skip``, chunk by chunk (see the module docstring).

    ``threads``: torch threads per worker (or of this process when ``workers`` is 1 and no ``dask``).
    ``on_chunk(results)`` runs in this process as each chunk finishes (in completion order). Returns every
    result in the order of ``indices``. Ctrl-C raises :class:`core.sharding.ChunksInterrupted` after the
    finished chunks were handed to ``on_chunk``.
    """
    from core.sharding import Chunk, make_chunks, run_chunks

    skip = skip or set()
    pending: list[Chunk] = []
    for chunk in make_chunks(list(indices), CHUNK_DIGITS, settings.seed):
        todo = tuple(i for i in chunk.indices if i not in skip)
        if todo:
            pending.append(Chunk(index=chunk.index, indices=todo, seed=chunk.seed))
    job = functools.partial(search_chunk, settings=settings)

    def handle(_: Chunk, results: list[DigitResult]) -> None:
        if on_chunk is not None:
            on_chunk(results)

    finished = run_chunks(
        job, pending, workers=workers, dask=dask, on_result=handle, progress=progress, threads_per_worker=threads
    )
    by_index = {result.index: result for results in finished for result in results}
    return [by_index[i] for i in indices if i in by_index]


__all__ = [
    "CHUNK_DIGITS",
    "RUN_KEY_FIELD",
    "DigitResult",
    "RunSettings",
    "done_digits",
    "run_digits",
    "run_key",
    "search_chunk",
]
