"""Sharded work: fixed chunks of indices run in-process, on a local process pool or on a Dask cluster, resumable.

A job is a pure function of one :class:`Chunk`: its indices (image or digit indices, in order) and a seed derived
from the chunk's first index (:func:`chunk_seed`). Chunks are fixed by the indices and the chunk size alone, so a
result never depends on the number of workers or on the engine. A :class:`ChunkStore` keeps every finished chunk
in its own file, written atomically; a rerun of the same job (same job key) loads those and computes the rest.

Engines (:func:`run_chunks`):

- ``workers=1``: in this process, one chunk after the other.
- ``workers=N``: a ``concurrent.futures`` process pool (``spawn`` start method), N processes with
  ``threads_per_worker`` torch threads each.
- ``dask="local"``: a ``dask.distributed`` LocalCluster of N worker processes; ``dask="tcp://host:8786"``: the
  workers of an existing cluster (each needs this package importable, see the evaluation docs).

Ctrl-C (or a lost worker) never loses a finished chunk: each is saved as soon as it arrives in the parent.
An interrupt is re-raised as :class:`ChunksInterrupted`, a ``KeyboardInterrupt`` that says how many chunks are
kept, so the CLI prints ``interrupted: N of M kept`` and exits 130.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import hashlib
import json
import logging
import multiprocessing
import re
import signal
import time
import zipfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, TypeVar

import numpy as np
import torch
from tqdm import tqdm

from core.device import configure_threads
from core.errors import InvarianceError
from core.files import atomic_output, atomic_write_text

log = logging.getLogger(__name__)

R = TypeVar("R")

STORE_FORMAT_VERSION: Final = 1
_CHUNK_FILE = re.compile(r"^chunk-(\d{6,})\.npz$")
_META_KEY: Final = "__chunk__"
"""The npz entry holding the chunk's identity (index, indices, seed) and the result's JSON-able values."""


class ShardingError(InvarianceError):
    """A chunk store that does not belong to the job, a chunk file that does not match its chunk, or a lost engine."""


class ChunksInterrupted(KeyboardInterrupt):
    """Ctrl-C during :func:`run_chunks`: ``kept`` of ``total`` chunks are saved (or were reused) and a rerun
    resumes from them."""

    def __init__(self, kept: int, total: int) -> None:
        super().__init__(f"interrupted: {kept} of {total} kept")
        self.kept = kept
        self.total = total


@dataclass(frozen=True)
class Chunk:
    """One unit of sharded work."""

    index: int
    """Position of the chunk (0, 1, 2, ...)."""
    indices: tuple[int, ...]
    """The image/digit indices in this chunk, in order."""
    seed: int
    """``chunk_seed(base_seed, indices[0])``: the same whoever runs the chunk."""


def chunk_seed(base_seed: int, first_index: int) -> int:
    """A seed in ``[0, 2**32)`` derived from the job's seed and the chunk's first index (numpy ``SeedSequence``).

    Deterministic across processes, machines and Python versions (no ``hash()``).
    """
    if base_seed < 0 or first_index < 0:
        raise ValueError(f"seeds and indices are non-negative, got base_seed={base_seed}, first_index={first_index}")
    return int(np.random.SeedSequence([base_seed, first_index]).generate_state(1, dtype=np.uint32)[0])


def make_chunks(indices: Sequence[int], chunk_size: int, base_seed: int) -> list[Chunk]:
    """Split ``indices`` (in the given order) into consecutive chunks of ``chunk_size`` (the last one may be short)."""
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be at least 1, got {chunk_size}")
    ordered = tuple(int(i) for i in indices)
    return [
        Chunk(index=position, indices=part, seed=chunk_seed(base_seed, part[0]))
        for position, start in enumerate(range(0, len(ordered), chunk_size))
        for part in [ordered[start : start + chunk_size]]
    ]


def job_key(name: str, **settings: Any) -> str:
    """A short stable key for a job: sha256 of ``name`` and its JSON-able ``settings`` (model sha256, attack
    settings, seed, chunk size ...), prefixed by ``name`` so that the store's folders stay readable."""
    payload = json.dumps({"job": name, **settings}, sort_keys=True, default=str)
    digest = hashlib.sha256(payload.encode("utf-8")).hexdigest()[:20]
    safe_name = re.sub(r"[^A-Za-z0-9._-]+", "_", name)[:60]
    return f"{safe_name}-{digest}"


class ChunkStore:
    """A folder of finished chunk results (one file per chunk, written atomically), keyed by a job key
    (a hash of everything that determines the result: job name, model sha256, settings, seed, chunk_size).

    Files: ``ROOT/JOB_KEY/job.json`` (the key and format version) and ``ROOT/JOB_KEY/chunk-NNNNNN.npz``, each
    holding the chunk's arrays plus its identity, so a file is never taken for another chunk. A result is a
    mapping of names to numpy arrays or JSON-able values (or one JSON-able value).
    """

    def __init__(self, root: Path, job_key: str) -> None:
        if not job_key or "/" in job_key or job_key in {".", ".."}:
            raise ValueError(f"invalid job key {job_key!r}")
        self.job_key = job_key
        self.folder = Path(root) / job_key

    def _path(self, chunk: Chunk) -> Path:
        return self.folder / f"chunk-{chunk.index:06d}.npz"

    def done(self) -> set[int]:
        """Chunk indices already finished."""
        if not self.folder.is_dir():
            return set()
        return {int(match[1]) for entry in self.folder.iterdir() if (match := _CHUNK_FILE.match(entry.name))}

    def holds(self, chunk: Chunk) -> bool:
        """Whether the store has a readable result of exactly this chunk (reads only the chunk's identity)."""
        try:
            with np.load(self._path(chunk), allow_pickle=False) as archive:
                meta = json.loads(archive[_META_KEY].tobytes().decode("utf-8"))
        except (OSError, ValueError, KeyError, zipfile.BadZipFile, UnicodeDecodeError):
            return False
        return self._matches(meta, chunk)

    def _matches(self, meta: Any, chunk: Chunk) -> bool:
        return (
            isinstance(meta, dict)
            and meta.get("format_version") == STORE_FORMAT_VERSION
            and meta.get("job_key") == self.job_key
            and tuple(meta.get("indices", ())) == chunk.indices
            and meta.get("seed") == chunk.seed
        )

    def load(self, chunk: Chunk) -> Any:
        """The saved result of ``chunk``; :class:`ShardingError` when the file is unreadable or for another chunk."""
        path = self._path(chunk)
        try:
            with np.load(path, allow_pickle=False) as archive:
                meta = json.loads(archive[_META_KEY].tobytes().decode("utf-8"))
                arrays = {name: archive[name] for name in archive.files if name != _META_KEY}
        except (OSError, ValueError, KeyError, zipfile.BadZipFile, UnicodeDecodeError) as error:
            raise ShardingError(f"{path}: unreadable chunk file ({error})") from error
        if not self._matches(meta, chunk):
            raise ShardingError(f"{path}: holds another chunk than chunk {chunk.index} of job {self.job_key}")
        if "value" in meta:
            return meta["value"]
        return {name: arrays[name] if name in arrays else meta["values"][name] for name in meta["order"]}

    def save(self, chunk: Chunk, result: Any) -> None:
        """Write ``result`` for ``chunk`` atomically (a reader sees no file or the whole file)."""
        meta: dict[str, Any] = {
            "format_version": STORE_FORMAT_VERSION,
            "job_key": self.job_key,
            "index": chunk.index,
            "indices": list(chunk.indices),
            "seed": chunk.seed,
        }
        arrays: dict[str, np.ndarray] = {}
        if isinstance(result, Mapping) and all(isinstance(name, str) for name in result):
            meta["order"] = list(result)
            meta["values"] = {}
            for name, value in result.items():
                if name == _META_KEY:
                    raise ValueError(f"{_META_KEY!r} is reserved in chunk results")
                if isinstance(value, np.ndarray | torch.Tensor):
                    array = value.detach().cpu().numpy() if isinstance(value, torch.Tensor) else value
                    if array.dtype == object:
                        raise ValueError(f"chunk result {name!r}: object arrays cannot be stored")
                    arrays[name] = array
                else:
                    meta["values"][name] = value
        else:
            meta["value"] = result
        try:
            encoded = json.dumps(meta, allow_nan=True).encode("utf-8")
        except TypeError as error:
            raise ValueError(f"chunk result is not numpy arrays or JSON-able values: {error}") from error
        arrays[_META_KEY] = np.frombuffer(encoded, dtype=np.uint8)
        self.folder.mkdir(parents=True, exist_ok=True)
        job_file = self.folder / "job.json"
        if not job_file.exists():
            atomic_write_text(
                job_file, json.dumps({"format_version": STORE_FORMAT_VERSION, "job_key": self.job_key}) + "\n"
            )
        with atomic_output(self._path(chunk)) as temporary, open(temporary, "wb") as handle:
            np.savez(handle, **arrays)


def _init_pool_worker(threads: int) -> None:
    """Pool worker set-up: ``threads`` torch threads; Ctrl-C is the parent's to handle (it stops the workers)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    configure_threads(threads)


def _call_with_threads(fn: Callable[[Chunk], R], threads: int, chunk: Chunk) -> R:
    """Run ``fn(chunk)`` with ``threads`` torch threads (in a pool or Dask worker process)."""
    configure_threads(threads)
    return fn(chunk)


@contextlib.contextmanager
def _torch_threads(threads: int) -> Iterator[None]:
    previous = torch.get_num_threads()
    configure_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def _chunk_results_local(fn: Callable[[Chunk], R], pending: Sequence[Chunk], threads: int) -> Iterator[tuple[Chunk, R]]:
    with _torch_threads(threads):
        for chunk in pending:
            yield chunk, fn(chunk)


def _chunk_results_pool(
    fn: Callable[[Chunk], R], pending: Sequence[Chunk], workers: int, threads: int
) -> Iterator[tuple[Chunk, R]]:
    executor = concurrent.futures.ProcessPoolExecutor(
        max_workers=min(workers, len(pending)),
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_init_pool_worker,
        initargs=(threads,),
    )
    interrupted = True
    try:
        futures = {executor.submit(fn, chunk): chunk for chunk in pending}
        for future in concurrent.futures.as_completed(futures):
            try:
                result = future.result()
            except concurrent.futures.process.BrokenProcessPool as error:
                raise ShardingError(f"a worker process died ({error}); rerun the same command to resume") from error
            yield futures[future], result
        interrupted = False
    finally:
        if interrupted:
            # Chunks still running would finish for nobody: stop their processes (the pool has no public way).
            for process in list(getattr(executor, "_processes", {}).values()):
                process.terminate()
        executor.shutdown(wait=True, cancel_futures=True)


def _chunk_results_dask(
    fn: Callable[[Chunk], R], pending: Sequence[Chunk], address: str, workers: int, threads: int
) -> Iterator[tuple[Chunk, R]]:
    try:
        from distributed import Client, LocalCluster, as_completed
    except ImportError as error:
        raise ShardingError("--dask needs dask.distributed: pip install 'dask[distributed]'") from error
    # distributed logs its cluster's life cycle at INFO on its own handler; a command shows warnings only
    logging.getLogger("distributed").setLevel(
        max(logging.getLogger("distributed").getEffectiveLevel(), logging.WARNING)
    )
    with contextlib.ExitStack() as stack:
        if address == "local":
            cluster = stack.enter_context(
                LocalCluster(
                    n_workers=workers,
                    threads_per_worker=1,
                    processes=True,
                    host="127.0.0.1",
                    dashboard_address="127.0.0.1:0",
                    silence_logs=logging.ERROR,
                )
            )
            client = stack.enter_context(Client(cluster))
        else:
            try:
                client = stack.enter_context(Client(address, timeout="20s"))
            except (OSError, TimeoutError) as error:
                raise ShardingError(f"cannot reach the Dask scheduler at {address}: {error}") from error
        futures = [
            client.submit(_call_with_threads, fn, threads, chunk, key=f"{chunk.index}-{chunk.seed}", pure=False)
            for chunk in pending
        ]
        by_key = {future.key: chunk for future, chunk in zip(futures, pending, strict=True)}
        try:
            for future in as_completed(futures):
                yield by_key[future.key], future.result()
        finally:
            client.cancel(futures)


def run_chunks(
    fn: Callable[[Chunk], R],
    chunks: Sequence[Chunk],
    *,
    workers: int = 1,
    dask: str | None = None,
    store: ChunkStore | None = None,
    on_result: Callable[[Chunk, R], None] | None = None,
    progress: str | None = "chunks",
    threads_per_worker: int = 1,
) -> list[R]:
    """Run ``fn`` on every chunk and return the results in chunk order.

    ``fn`` must be picklable (a module-level function or a ``functools.partial`` of one) when ``workers > 1`` or
    ``dask`` is given. Chunks already in ``store`` are loaded, not recomputed, and the line ``reused N of M
    chunks`` is logged (INFO); each new result is saved as it arrives, then ``on_result(chunk, result)`` is called
    in this process. With a store, every result (new or reused) is returned as the store loads it, so a resumed run
    returns exactly what an uninterrupted one does. ``progress`` is the tqdm bar's label (chunks done, images per
    second and ETA, on stderr); ``None`` shows no bar.

    Raises :class:`ChunksInterrupted` on Ctrl-C (finished chunks kept) and :class:`ShardingError` when an engine
    is lost; in both cases a rerun resumes.
    """
    if workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers}")
    if threads_per_worker < 1:
        raise ValueError(f"threads_per_worker must be at least 1, got {threads_per_worker}")
    positions = [chunk.index for chunk in chunks]
    if len(set(positions)) != len(positions):
        raise ValueError("chunk indices must be unique")
    results: dict[int, R] = {}
    if store is not None:
        finished = store.done()
        for chunk in chunks:
            if chunk.index in finished:
                try:
                    results[chunk.index] = store.load(chunk)
                except ShardingError as error:
                    log.warning("%s; computing it again", error)
    reused = len(results)
    if store is not None:
        log.info("reused %d of %d chunks", reused, len(chunks))
    pending = [chunk for chunk in chunks if chunk.index not in results]
    bar = tqdm(
        total=len(chunks), initial=reused, desc=progress or "", unit="chunk", disable=progress is None, leave=False
    )
    images_done = 0
    started = time.perf_counter()
    stream: Iterator[tuple[Chunk, R]]
    if not pending:
        stream = iter(())
    elif dask is not None:
        stream = _chunk_results_dask(fn, pending, dask, workers, threads_per_worker)
    elif workers == 1:
        stream = _chunk_results_local(fn, pending, threads_per_worker)
    else:
        stream = _chunk_results_pool(fn, pending, workers, threads_per_worker)
    try:
        for chunk, result in stream:
            if store is not None:
                store.save(chunk, result)
                result = store.load(chunk)
            results[chunk.index] = result
            if on_result is not None:
                on_result(chunk, result)
            images_done += len(chunk.indices)
            bar.update(1)
            bar.set_postfix_str(f"{images_done / max(time.perf_counter() - started, 1e-9):.2f} images/s")
    except KeyboardInterrupt:
        with contextlib.suppress(Exception):
            close = getattr(stream, "close", None)
            if close is not None:
                close()
        raise ChunksInterrupted(len(results) if store is not None else 0, len(chunks)) from None
    finally:
        bar.close()
    return [results[chunk.index] for chunk in chunks]


def reusable(store: ChunkStore, chunks: Sequence[Chunk]) -> int:
    """How many of ``chunks`` the store already holds (what :func:`run_chunks` will reuse)."""
    finished = store.done()
    return sum(chunk.index in finished and store.holds(chunk) for chunk in chunks)


__all__ = [
    "Chunk",
    "ChunkStore",
    "ChunksInterrupted",
    "ShardingError",
    "chunk_seed",
    "job_key",
    "make_chunks",
    "reusable",
    "run_chunks",
]
