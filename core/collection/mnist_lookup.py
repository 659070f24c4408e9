"""The MNIST digit an item was made from: its pixels and label, looked up by split and index."""

from __future__ import annotations

import functools

import numpy as np

from core.collection.schema import SPLITS
from core.data import load_mnist
from core.errors import CollectionError


@functools.lru_cache(maxsize=2)
def _mnist(split: str) -> tuple[np.ndarray, np.ndarray]:
    images, labels = load_mnist("train" if split == "train" else "test")
    images.setflags(write=False)
    labels.setflags(write=False)
    return images, labels


def mnist_source(split: str, index: int) -> tuple[np.ndarray, int]:
    """(uint8 (28, 28) image, label) of MNIST ``split`` at ``index``; CollectionError when out of range."""
    if split not in SPLITS:
        raise CollectionError(f"unknown MNIST split {split!r}")
    images, labels = _mnist(split)
    if not 0 <= index < len(labels):
        raise CollectionError(f"MNIST {split} index {index} is out of range (0..{len(labels) - 1})")
    return images[index], int(labels[index])
