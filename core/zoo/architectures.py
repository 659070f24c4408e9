"""Network architectures of the zoo, by name.

Every classifier maps (N, 1, 28, 28) floats in [0, 1] to logits (N, 10). The convolutional ones are plain
``nn.Sequential`` stacks of Conv2d / ReLU / Flatten / Linear, so interval bound propagation
(``core.certify``) can verify any of them.
"""

from __future__ import annotations

from collections.abc import Callable

from torch import nn

from core.errors import ModelError
from core.zoo.abs import build_abs


def cnn_s2(channels: tuple[int, int], hidden: int) -> nn.Sequential:
    """Two stride-2 4x4 convolutions and two linear layers (the "Wong & Kolter" shape, widened)."""
    first, second = channels
    return nn.Sequential(
        nn.Conv2d(1, first, 4, stride=2, padding=1),
        nn.ReLU(),
        nn.Conv2d(first, second, 4, stride=2, padding=1),
        nn.ReLU(),
        nn.Flatten(),
        nn.Linear(second * 7 * 7, hidden),
        nn.ReLU(),
        nn.Linear(hidden, 10),
    )


ARCHITECTURES: dict[str, Callable[[], nn.Module]] = {
    "cnn-s2-large": lambda: cnn_s2((32, 64), 256),
    "cnn-s2-small": lambda: cnn_s2((16, 32), 100),
    "abs-vae8": lambda: build_abs(binary=False),
    "binary-abs-vae8": lambda: build_abs(binary=True),
}


def build(architecture: str) -> nn.Module:
    """A freshly initialised network of the named architecture."""
    try:
        factory = ARCHITECTURES[architecture]
    except KeyError:
        raise ModelError(f"unknown architecture {architecture!r}; known: {', '.join(ARCHITECTURES)}") from None
    return factory()
