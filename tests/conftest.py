"""Shared test set-up: headless Qt, one torch thread, small deterministic data."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("INVARIANCE_THREADS", "1")

import torch

torch.set_num_threads(1)

pytest_plugins = ["tests.fixtures_geninv"]
