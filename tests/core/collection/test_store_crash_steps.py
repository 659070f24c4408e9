"""End the process at every write step of a save sequence in turn: the collection is always one of the states
the sequence passed through, never a mix (deterministic, unlike killing a process at a random moment)."""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from core.collection import Collection, store

pytestmark = pytest.mark.skipif(not hasattr(os, "fork") or sys.platform == "darwin", reason="needs os.fork")

IDS = [f"{k:032x}" for k in range(1, 5)]
CRASHED = 99


def pixels(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (28, 28)).astype(np.uint8)


def operations() -> list[Callable[[Collection], object]]:
    """Adds (own and shared originals), label changes, a pixel update and a delete: every kind of save."""
    return [
        lambda c: c.add(pixels(1), original=pixels(100), intended_label=1, item_id=IDS[0]),
        lambda c: c.add(pixels(2), original=pixels(100), intended_label=2, item_id=IDS[1]),
        lambda c: c.set_human_label(IDS[0], "r1", 7),
        lambda c: c.update(IDS[1], notes="changed", intended_label=3),
        lambda c: c.add(pixels(3), intended_label=4, item_id=IDS[2]),
        lambda c: c.delete(IDS[0]),
        lambda c: c.update(IDS[2], image=pixels(4)),
        lambda c: c.add(pixels(5), original=pixels(101), human_label=5, item_id=IDS[3]),
    ]


def state(coll: Collection) -> list[tuple[object, ...]]:
    return [
        (
            item.id,
            item.image.tobytes(),
            None if item.original is None else item.original.tobytes(),
            item.intended_label,
            item.human_label,
            tuple(sorted(item.human_labels.items())),
            item.notes,
        )
        for item in coll.items
    ]


def run_sequence(path: Path, hook: Callable[[str], None] | None) -> None:
    store.write_step_hook = hook
    try:
        with Collection.open(path, compact_every=3) as coll:
            for operation in operations():
                operation(coll)
    finally:
        store.write_step_hook = None


@pytest.fixture
def blank(tmp_path: Path) -> Path:
    path = tmp_path / "blank"
    Collection.create(path, "crash steps").close()
    return path


def expected_states(blank: Path, tmp_path: Path) -> tuple[list[list[tuple[object, ...]]], list[str]]:
    """The state after each prefix of the sequence, and the names of every write step it makes."""
    path = tmp_path / "reference"
    shutil.copytree(blank, path)
    steps: list[str] = []
    states = []
    store.write_step_hook = steps.append
    try:
        with Collection.open(path, compact_every=3) as coll:
            states.append(state(coll))
            for operation in operations():
                operation(coll)
                states.append(state(coll))
    finally:
        store.write_step_hook = None
    return states, steps


def crash_at(path: Path, k: int) -> int:
    """Run the sequence in a child process that ends itself (os._exit, no clean-up) at write step ``k``."""
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child never returns
        code = 0
        try:
            count = 0

            def hook(name: str) -> None:
                nonlocal count
                if count == k:
                    os._exit(CRASHED)
                count += 1

            run_sequence(path, hook)
        except BaseException:
            code = 98
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


def test_every_write_step_leaves_a_state_the_sequence_passed_through(blank: Path, tmp_path: Path) -> None:
    states, steps = expected_states(blank, tmp_path)
    assert len(steps) > 20 and any(name.startswith("write images/") for name in steps)
    assert {"append journal line", "fsync journal", "write manifest", "truncate journal"} <= set(steps)
    reached: list[int] = []
    for k in range(len(steps) + 1):
        path = tmp_path / f"crash-{k}"
        shutil.copytree(blank, path)
        code = crash_at(path, k)
        assert code == (CRASHED if k < len(steps) else 0), f"step {k} ({steps[k] if k < len(steps) else 'end'})"
        where = f"crash at step {k} ({steps[k] if k < len(steps) else 'none'})"
        with Collection.open(path) as coll:  # opens (and recovers) without error
            now = state(coll)
        assert now in states, where
        position = states.index(now)
        assert not reached or position >= reached[-1], f"{where}: a later crash lost a change an earlier one kept"
        reached.append(position)
        with Collection.open(path, read_only=True) as coll:  # recovery left a clean, readable collection
            assert state(coll) == now
            leftovers = [p for p in path.rglob("*") if p.name.endswith(".tmp")]
            assert not leftovers, where
    assert set(reached) == set(range(len(states))), "every intermediate state should be reachable by some crash"


def test_journal_line_never_refers_to_an_image_not_yet_written(blank: Path, tmp_path: Path) -> None:
    _, steps = expected_states(blank, tmp_path)
    first_add = steps[: steps.index("append journal line") + 1]
    assert [name for name in first_add if name.startswith("write ")] == [
        name for name in first_add if name.startswith("write images/") or name.startswith("write originals/")
    ]
    assert first_add[-1] == "append journal line" and len(first_add) == 3  # image, original, then the line
