"""Sharded work: results independent of workers and engine, resumable from the chunk store."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from core.sharding import (
    Chunk,
    ChunksInterrupted,
    ChunkStore,
    ShardingError,
    chunk_seed,
    job_key,
    make_chunks,
    reusable,
    run_chunks,
)


def seeded_job(chunk: Chunk) -> dict[str, object]:
    """A job that depends on its chunk's seed (torch and numpy) and records the torch threads it ran with."""
    generator = torch.Generator().manual_seed(chunk.seed)
    noise = torch.rand(len(chunk.indices), generator=generator).numpy()
    values = np.asarray(chunk.indices, dtype=np.float64) + noise
    return {
        "indices": np.asarray(chunk.indices, dtype=np.int64),
        "values": values,
        "robust": values % 1 > 0.5,
        "threads": torch.get_num_threads(),
    }


class Interrupting:
    """``seeded_job`` that raises KeyboardInterrupt on one chunk (a user's Ctrl-C), counting the chunks it ran."""

    def __init__(self, stop_at: int | None) -> None:
        self.stop_at = stop_at
        self.ran: list[int] = []

    def __call__(self, chunk: Chunk) -> dict[str, object]:
        if chunk.index == self.stop_at:
            raise KeyboardInterrupt
        self.ran.append(chunk.index)
        return seeded_job(chunk)


def merged(results: list[dict[str, object]]) -> dict[str, np.ndarray]:
    return {
        name: np.concatenate([np.asarray(result[name]) for result in results])
        for name in ("indices", "values", "robust")
    }


def test_chunk_seed_is_deterministic_and_depends_on_both_parts() -> None:
    assert chunk_seed(0, 100) == chunk_seed(0, 100)
    assert len({chunk_seed(0, 100), chunk_seed(1, 100), chunk_seed(0, 101)}) == 3
    assert 0 <= chunk_seed(12345, 9999) < 2**32
    with pytest.raises(ValueError):
        chunk_seed(-1, 0)


def test_make_chunks_covers_indices_in_order_with_seeds_from_first_index() -> None:
    chunks = make_chunks(range(10, 33), chunk_size=10, base_seed=7)
    assert [chunk.index for chunk in chunks] == [0, 1, 2]
    assert [chunk.indices for chunk in chunks] == [tuple(range(10, 20)), tuple(range(20, 30)), (30, 31, 32)]
    assert [chunk.seed for chunk in chunks] == [chunk_seed(7, 10), chunk_seed(7, 20), chunk_seed(7, 30)]
    with pytest.raises(ValueError):
        make_chunks(range(3), chunk_size=0, base_seed=0)


def test_job_key_changes_with_any_setting() -> None:
    base = job_key("autoattack", model="abc", eps=0.3, seed=0, chunk_size=50)
    assert base == job_key("autoattack", chunk_size=50, seed=0, eps=0.3, model="abc")
    assert base != job_key("autoattack", model="abc", eps=0.3, seed=1, chunk_size=50)
    assert base.startswith("autoattack-")


def test_workers_one_two_and_dask_local_give_identical_results(tmp_path: Path) -> None:
    chunks = make_chunks(range(0, 23), chunk_size=4, base_seed=3)
    single = run_chunks(seeded_job, chunks, workers=1, progress=None)
    pool = run_chunks(seeded_job, chunks, workers=2, progress=None)
    dask_local = run_chunks(seeded_job, chunks, workers=2, dask="local", progress=None)
    for other in (pool, dask_local):
        for name, array in merged(single).items():
            np.testing.assert_array_equal(merged(other)[name], array)
    assert [result["threads"] for result in pool + dask_local] == [1] * (2 * len(chunks))
    np.testing.assert_array_equal(merged(single)["indices"], np.arange(23))


def test_interrupted_run_keeps_finished_chunks_and_resume_equals_uninterrupted(tmp_path: Path) -> None:
    chunks = make_chunks(range(100, 130), chunk_size=5, base_seed=0)
    store = ChunkStore(tmp_path, job_key("test", chunk_size=5))
    first = Interrupting(stop_at=3)
    with pytest.raises(ChunksInterrupted) as interrupted:
        run_chunks(first, chunks, store=store, progress=None)
    assert (interrupted.value.kept, interrupted.value.total) == (3, 6)
    assert isinstance(interrupted.value, KeyboardInterrupt)
    assert store.done() == {0, 1, 2}
    assert reusable(store, chunks) == 3

    second = Interrupting(stop_at=None)
    seen: list[int] = []
    resumed = run_chunks(
        second, chunks, store=store, progress=None, on_result=lambda chunk, _r: seen.append(chunk.index)
    )
    assert second.ran == [3, 4, 5]
    assert sorted(seen) == [3, 4, 5]
    uninterrupted = run_chunks(seeded_job, chunks, store=ChunkStore(tmp_path, "fresh"), progress=None)
    for name, array in merged(uninterrupted).items():
        np.testing.assert_array_equal(merged(resumed)[name], array)
    assert [result["threads"] for result in resumed] == [result["threads"] for result in uninterrupted]

    third = Interrupting(stop_at=None)
    run_chunks(third, chunks, store=store, progress=None)
    assert third.ran == []


def test_pool_resumes_from_store_with_the_same_result(tmp_path: Path) -> None:
    chunks = make_chunks(range(12), chunk_size=3, base_seed=1)
    store = ChunkStore(tmp_path, "pool")
    run_chunks(seeded_job, chunks[:2], store=store, progress=None)
    resumed = run_chunks(seeded_job, chunks, workers=2, store=store, progress=None)
    reference = run_chunks(seeded_job, chunks, progress=None)
    for name, array in merged(reference).items():
        np.testing.assert_array_equal(merged(resumed)[name], array)


def test_store_round_trips_arrays_and_json_values(tmp_path: Path) -> None:
    store = ChunkStore(tmp_path, "roundtrip")
    chunk = make_chunks([4, 5], chunk_size=2, base_seed=0)[0]
    packed = np.packbits(np.array([True, False, True]))
    store.save(chunk, {"robust": packed, "attack": "apgd-ce", "counts": [1, 2]})
    loaded = store.load(chunk)
    assert list(loaded) == ["robust", "attack", "counts"]
    np.testing.assert_array_equal(loaded["robust"], packed)
    assert loaded["robust"].dtype == np.uint8
    assert (loaded["attack"], loaded["counts"]) == ("apgd-ce", [1, 2])
    store.save(chunk, 0.5)
    assert store.load(chunk) == 0.5
    assert json.loads((store.folder / "job.json").read_text())["job_key"] == "roundtrip"
    assert not [path for path in store.folder.iterdir() if path.name.endswith(".tmp")]


def test_store_refuses_a_file_of_another_chunk_and_run_recomputes_it(tmp_path: Path) -> None:
    store = ChunkStore(tmp_path, "mismatch")
    chunks = make_chunks(range(6), chunk_size=3, base_seed=0)
    store.save(chunks[0], {"x": np.zeros(3)})
    (store.folder / "chunk-000001.npz").write_bytes(b"not an npz")
    assert reusable(store, chunks) == 1
    other = Chunk(index=0, indices=(7, 8, 9), seed=chunks[0].seed)
    with pytest.raises(ShardingError, match="another chunk"):
        store.load(other)
    with pytest.raises(ShardingError, match="unreadable"):
        store.load(chunks[1])
    job = Interrupting(stop_at=None)
    results = run_chunks(job, chunks, store=store, progress=None)
    assert job.ran == [1]
    np.testing.assert_array_equal(np.asarray(results[1]["indices"]), [3, 4, 5])


def test_run_chunks_rejects_bad_settings() -> None:
    chunks = make_chunks(range(3), chunk_size=1, base_seed=0)
    with pytest.raises(ValueError):
        run_chunks(seeded_job, chunks, workers=0)
    with pytest.raises(ValueError):
        run_chunks(seeded_job, [chunks[0], chunks[0]])
