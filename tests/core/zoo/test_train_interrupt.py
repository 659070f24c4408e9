"""``invariance train``: Ctrl-C or kill -9 keeps the last completed epoch, and the same command resumes from it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]

TRAIN = textwrap.dedent(
    """
    import dataclasses, functools, os, sys, time
    from pathlib import Path
    import core.training.run as run
    from core.training.context import TrainContext
    from core.zoo import registry

    entry = registry.ZOO["undefended"]
    registry.ZOO["undefended"] = dataclasses.replace(entry, hyper={**entry.hyper, "epochs": 2})
    run.train_model = functools.partial(run.train_model, train_subset=1100, evaluate_n=5, progress=False)
    import core.zoo.evaluation
    core.zoo.evaluation.CLEAN_N = 50

    if os.environ.get("HANG_AFTER_EPOCH"):
        end_epoch = TrainContext.end_epoch

        def end_epoch_then_hang(self, model, optimizer, epoch, **extra):
            stop = end_epoch(self, model, optimizer, epoch, **extra)
            if epoch == 0:
                Path(os.environ["HANG_AFTER_EPOCH"]).write_text("epoch 1 saved")
                time.sleep(120)
            return stop

        TrainContext.end_epoch = end_epoch_then_hang
    from core.cli import main
    sys.exit(main(["train", "undefended"]))
    """
)


@pytest.mark.slow  # two trainings in child processes: 15-35 s each on a shared 2-core machine
@pytest.mark.parametrize(("signum", "code"), [(signal.SIGINT, 130), (signal.SIGKILL, -9)])
def test_an_interrupted_training_resumes_from_its_last_epoch(tmp_path: Path, signum: signal.Signals, code: int) -> None:
    ready = tmp_path / "ready"
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "INVARIANCE_CHECKPOINTS": str(tmp_path / "checkpoints"),
        "INVARIANCE_RUNS": str(tmp_path / "runs"),
        "INVARIANCE_THREADS": "1",
    }
    child = subprocess.Popen(
        [sys.executable, "-c", TRAIN],
        env={**env, "HANG_AFTER_EPOCH": str(ready)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 120
    while not ready.exists() and child.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    child.send_signal(signum)
    _, stderr = child.communicate(timeout=60)
    assert child.returncode == code, stderr
    state = tmp_path / "runs" / "undefended" / "state.pt"
    assert state.is_file() and not (tmp_path / "checkpoints" / "undefended.json").exists()
    if signum == signal.SIGINT:
        assert f"interrupted: 0 of 1 models kept; undefended: 1 of 2 epochs in {state}" in stderr

    again = subprocess.run([sys.executable, "-c", TRAIN], env=env, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    log = (tmp_path / "runs" / "undefended" / "train.log").read_text()
    assert "resumed from" in log and "after epoch 1" in log
    assert "epoch 1/2" not in log.split("resumed from")[1]  # the kept epoch is not trained again
    assert "epoch 2/2" in log
    assert (tmp_path / "checkpoints" / "undefended.json").exists() and not state.exists()
