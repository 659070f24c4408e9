"""Small GenInv fixtures: a tiny scorer and a tiny judge trained on a few thousand digits, a 300-digit pool."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from core.data import load_mnist
from core.geninv import CandidateBank, Judge, Scorer, load_judge, load_scorer
from core.geninv.judge import train_judge
from core.geninv.scorer import clear_cache, train_scorer
from core.images import to_float

POOL = 300


@pytest.fixture(scope="session")
def scorer_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("geninv-scorer")
    train_scorer(epochs=1, seed=0, folder=folder, limit=1500, command="tests")
    clear_cache()
    return folder


@pytest.fixture(scope="session")
def tiny_scorer(scorer_dir: Path) -> Scorer:
    return load_scorer("cpu", folder=scorer_dir)


@pytest.fixture(scope="session")
def pool_arrays() -> tuple[np.ndarray, np.ndarray]:
    images, labels = load_mnist("train")
    return to_float(images[:POOL]), labels[:POOL].copy()


@pytest.fixture(scope="session")
def pool_bank(pool_arrays: tuple[np.ndarray, np.ndarray]) -> CandidateBank:
    return CandidateBank.from_arrays(*pool_arrays, device="cpu")


@pytest.fixture(scope="session")
def queries() -> tuple[np.ndarray, np.ndarray]:
    images, labels = load_mnist("test")
    return to_float(images[:4]), labels[:4].copy()


@pytest.fixture(scope="session")
def judge_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A one-member judge trained for 2 epochs on 3,000 digits (~10 s)."""
    folder = tmp_path_factory.mktemp("geninv-judge")
    train_judge(members=1, epochs=2, seed=0, folder=folder, limit=3000, command="tests")
    return folder


@pytest.fixture(scope="session")
def tiny_judge(judge_dir: Path) -> Judge:
    return load_judge("cpu", folder=judge_dir)


class FixedJudge(Judge):
    """A judge that always sees digit ``label`` (to test what GenInv does with a given verdict)."""

    def __init__(self, label: int) -> None:
        super().__init__((), torch.device("cpu"), "stub")
        object.__setattr__(self, "label", label)

    def probs(self, images: torch.Tensor, batch: int = 1024) -> torch.Tensor:
        out = torch.full((images.reshape(-1, 28, 28).shape[0], 10), 0.01)
        out[:, self.label] = 0.91  # type: ignore[attr-defined]
        return out
