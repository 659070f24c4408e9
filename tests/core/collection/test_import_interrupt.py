"""``invariance import`` writes item by item: Ctrl-C, SIGTERM and kill -9 keep what was written, and the same
command again adds the rest, skipping the items it has, with no duplicates."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from core.cli import main
from core.collection import Collection

ROOT = Path(__file__).resolve().parents[3]
COUNT = 120

SLOW_IMPORT = textwrap.dedent(
    """
    import signal, sys, time
    from pathlib import Path
    from core.collection import store

    signal.signal(signal.SIGINT, signal.default_int_handler)  # even where a background shell ignores SIGINT

    written = [0]

    def slow_step(name):
        if name == "append journal line":
            written[0] += 1
            if written[0] == 10:  # wait here for the parent's signal, however loaded the machine is
                Path(sys.argv[1]).write_text("10 items")
                time.sleep(30)

    store.write_step_hook = slow_step
    from core.cli import main
    sys.exit(main(sys.argv[2:]))
    """
)


def write_source(path: Path) -> Path:
    rng = np.random.default_rng(7)
    images = rng.integers(0, 256, (COUNT, 28, 28)).astype(np.uint8)
    np.savez(path, images=images, labels=rng.integers(0, 10, COUNT))
    return path


def interrupt_import(tmp_path: Path, signum: signal.Signals) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    """Run ``invariance import`` in a child, send ``signum`` while it waits at its 10th item; (result, command)."""
    source, out, ready = write_source(tmp_path / "digits.npz"), tmp_path / "coll", tmp_path / "ready"
    command = ["import", str(source), "--out", str(out)]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    child = subprocess.Popen(
        [sys.executable, "-c", SLOW_IMPORT, str(ready), *command],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while not ready.exists() and child.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    child.send_signal(signum)
    stdout, stderr = child.communicate(timeout=60)
    return subprocess.CompletedProcess(child.args, child.returncode, stdout, stderr), command


@pytest.mark.parametrize(
    ("signum", "code"),
    [
        (signal.SIGINT, 130),
        pytest.param(signal.SIGTERM, 143, marks=pytest.mark.slow),
        (signal.SIGKILL, -9),
    ],
)
def test_an_interrupted_import_keeps_its_items_and_the_same_command_resumes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], signum: signal.Signals, code: int
) -> None:
    result, command = interrupt_import(tmp_path, signum)
    assert result.returncode == code, result.stderr
    out = tmp_path / "coll"
    with Collection.open(out, read_only=True) as collection:  # consistent after any of the three
        kept = len(collection)
    assert 9 <= kept < COUNT  # kill -9 may lose the 10th, in flight when the signal came
    if signum != signal.SIGKILL:
        assert f"interrupted: {kept} of {COUNT} items kept" in result.stderr

    assert main(command) == 0
    assert f"skipped {kept} item(s) already in" in capsys.readouterr().out
    with Collection.open(out, read_only=True) as collection:
        ids = [item.id for item in collection.items]
        labels = [item.original_label for item in collection.items]
    assert len(ids) == len(set(ids)) == COUNT
    expected = np.load(tmp_path / "digits.npz")["labels"]
    assert labels == [int(label) for label in expected]  # every row once, in the source's order
