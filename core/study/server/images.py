"""The pictures a rater is shown: items' PNGs (stored in the study database) and the control digits' PNGs."""

from __future__ import annotations

import functools

import numpy as np

from core.collection.png import encode_png
from core.data import load_mnist


@functools.cache
def _mnist_test() -> tuple[np.ndarray, np.ndarray]:
    return load_mnist("test")


def test_labels() -> np.ndarray:
    """The MNIST test labels (int64, (10000,)): the expected answers of control digits."""
    return _mnist_test()[1]


@functools.lru_cache(maxsize=10_000)
def clean_png(index: int) -> bytes:
    """PNG of MNIST test digit ``index`` (28x28, 8-bit gray), as shown for a control trial."""
    return encode_png(_mnist_test()[0][index])
