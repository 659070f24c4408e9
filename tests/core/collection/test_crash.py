"""Kill a process in the middle of a burst of saves: every save it reported must survive, bit for bit."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np

from core.collection import Collection

CHILD = textwrap.dedent(
    """
    import sys
    import numpy as np
    from core.collection import Collection

    path, start = sys.argv[1], int(sys.argv[2])
    coll = Collection.open(path, compact_every=4)
    print("ready", flush=True)
    i = start
    while True:
        image = np.random.default_rng(i).integers(0, 256, (28, 28)).astype(np.uint8)
        original = np.random.default_rng(10_000 + i).integers(0, 256, (28, 28)).astype(np.uint8)
        item = coll.add(image, original=original, intended_label=i % 10, notes=str(i), set_name="burst")
        if i % 3 == 0:
            coll.set_human_label(item.id, "rater", (i + 1) % 10)
        print(item.id, i, flush=True)
        i += 1
    """
)


def burst_pixels(i: int) -> tuple[np.ndarray, np.ndarray]:
    image = np.random.default_rng(i).integers(0, 256, (28, 28)).astype(np.uint8)
    original = np.random.default_rng(10_000 + i).integers(0, 256, (28, 28)).astype(np.uint8)
    return image, original


def run_burst_and_kill(path: Path, start: int, saves_before_kill: int) -> dict[str, int]:
    """Start the child, SIGKILL it after it reported ``saves_before_kill`` saves; return every reported save."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(path), str(start)], stdout=subprocess.PIPE, text=True, env=env
    )
    assert child.stdout is not None
    reported: dict[str, int] = {}
    try:
        assert child.stdout.readline().strip() == "ready"
        while len(reported) < saves_before_kill:
            line = child.stdout.readline()
            assert line, "child stopped before being killed"
            item_id, index = line.split()
            reported[item_id] = int(index)
    finally:
        child.send_signal(signal.SIGKILL)
    rest, _ = child.communicate(timeout=60)
    for line in rest.splitlines():  # saves reported between our last read and the kill
        item_id, index = line.split()
        reported[item_id] = int(index)
    assert child.returncode == -signal.SIGKILL
    return reported


def check(path: Path, reported: dict[str, int]) -> None:
    with Collection.open(path) as coll:
        for item_id, index in reported.items():
            item = coll.get(item_id)
            image, original = burst_pixels(index)
            assert item.image.tobytes() == image.tobytes()
            assert item.original is not None and item.original.tobytes() == original.tobytes()
            assert item.intended_label == index % 10 and item.notes == str(index)
            if index % 3 == 0:  # the label was saved before the id was printed
                assert item.human_labels == {"rater": (index + 1) % 10}


def test_sigkill_mid_burst_loses_nothing_reported(tmp_path: Path) -> None:
    path = tmp_path / "burst"
    Collection.create(path, "burst").close()
    first = run_burst_and_kill(path, 0, 23)
    check(path, first)
    second = run_burst_and_kill(path, 1000, 17)  # recovery left a collection that takes more writes
    check(path, {**first, **second})
