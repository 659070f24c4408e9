"""GenInv's own trained networks (the judge, the scorer): one description of each checkpoint, and one way to read
its training data and to write its weights and card.

A :class:`HelperCheckpoint` names the files (``checkpoints/<name>.safetensors`` and ``<name>.json``), the card's
format, and the training defaults its ``invariance geninv --train-…`` command starts from. The training itself is
``core.training.loop``'s, and the card goes through ``core.zoo.cards``' one card writer.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from core.zoo import cards


@dataclass(frozen=True)
class HelperCheckpoint:
    """One of GenInv's networks: checkpoint ``name``, what its errors call it, and its training defaults."""

    name: str
    what: str
    epochs: int
    batch_size: int
    lr: float
    format_version: int = 1

    def paths(self, folder: Path | None = None) -> tuple[Path, Path]:
        """(weights ``.safetensors``, model card ``.json``) in ``folder`` (default: the checkpoints)."""
        return cards.checkpoint_files(self.name, folder)

    def read_card(self, folder: Path | None = None) -> dict[str, Any]:
        """The card; raises :class:`ModelError` if missing or malformed."""
        return cards.read_card_file(self.paths(folder)[1], self.what, self.format_version)

    def save(
        self, folder: Path | None, tensors: dict[str, torch.Tensor], card: dict[str, Any], files: dict[str, Any]
    ) -> dict[str, Any]:
        """Write ``tensors`` as the weights, then the card: ``card``'s fields between the header (format, name) and
        the files (the weights' name and ``files``) with the weights' sha256. Returns the card written."""
        weights, card_path = self.paths(folder)
        checkpoint_sha256 = cards.save_tensors(weights, tensors)
        written = {
            "format_version": self.format_version,
            "name": self.name,
            **card,
            "files": {"weights": weights.name, **files},
            "checkpoint_sha256": checkpoint_sha256,
        }
        cards.write_card_file(card_path, written)
        return written


def training_digits(limit: int | None) -> tuple[np.ndarray, torch.Tensor, str]:
    """MNIST train (the first ``limit`` digits when given): images uint8 (N, 28, 28), labels int64 (N,), and the
    card's line for that data."""
    from core.data import load_mnist

    images_u8, labels = load_mnist("train")
    if limit is not None:
        images_u8, labels = images_u8[:limit], labels[:limit]
        return images_u8, torch.from_numpy(labels.astype(np.int64)), f"MNIST train, first {len(labels)} images"
    return images_u8, torch.from_numpy(labels.astype(np.int64)), "MNIST train (60000 images)"
