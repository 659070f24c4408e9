"""Shared test set-up: headless Qt, one torch thread, small deterministic data."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("INVARIANCE_THREADS", "1")

from pathlib import Path

import pytest
import torch

torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def _runs_in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Training state, logs and evaluation chunks go to the test's own folder, never the user's."""
    monkeypatch.setenv("INVARIANCE_RUNS", str(tmp_path / "runs"))
    monkeypatch.setenv("INVARIANCE_CHUNKS", str(tmp_path / "chunks"))


pytest_plugins = ["tests.fixtures_geninv"]
