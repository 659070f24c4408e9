"""A user model's input and output convention, wrapped so that every caller sees the zoo's one contract:
(N, 1, 28, 28) float in [0, 1] -> logits (N, 10).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Final

import torch
from torch import nn

from core.errors import ModelError

RANGES: Final = ("0-1", "0-255", "standardize")
SHAPES: Final = ("1x28x28", "784")
OUTPUTS: Final = ("logits", "probs", "logprobs")
MNIST_MEAN: Final = 0.1307
MNIST_STD: Final = 0.3081
"""The usual torchvision normalisation of MNIST, tried when a model scores badly on [0, 1] inputs."""
_PROBABILITY_FLOOR: Final = 1e-12


@dataclass(frozen=True)
class Convention:
    """What the wrapped network expects and returns.

    ``input_range``: ``"0-1"``, ``"0-255"`` (pixels times 255) or ``"standardize"`` (``(x - mean) / std`` on
    [0, 1] pixels); ``input_shape``: ``"1x28x28"`` or ``"784"`` (flattened, row-major); ``outputs``:
    ``"logits"``, ``"probs"`` (softmax output; log taken) or ``"logprobs"`` (log-softmax, already logits).
    """

    input_range: str = "0-1"
    input_shape: str = "1x28x28"
    outputs: str = "logits"
    mean: float | None = None
    std: float | None = None

    def __post_init__(self) -> None:
        if self.input_range not in RANGES:
            raise ModelError(f"unknown input range {self.input_range!r}; choose {', '.join(RANGES)}")
        if self.input_shape not in SHAPES:
            raise ModelError(f"unknown input shape {self.input_shape!r}; choose {', '.join(SHAPES)}")
        if self.outputs not in OUTPUTS:
            raise ModelError(f"unknown outputs {self.outputs!r}; choose {', '.join(OUTPUTS)}")
        if self.input_range == "standardize":
            if self.mean is None or self.std is None:
                raise ModelError("--mean and --std go together")
            if not (abs(self.mean) < 1e6 and 0 < self.std < 1e6):
                raise ModelError(f"--std must be positive and --mean finite (got mean {self.mean}, std {self.std})")

    def options(self) -> str:
        """The ``invariance models add`` options that declare this convention."""
        shown = (
            f"--mean {self.mean} --std {self.std}"
            if self.input_range == "standardize"
            else f"--input-range {self.input_range}"
        )
        return f"{shown} --input-shape {self.input_shape} --outputs {self.outputs}"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, raw: Any, where: str) -> Convention:
        if not isinstance(raw, dict):
            raise ModelError(f"{where}: the card's source.convention must be an object")
        try:
            return cls(**raw)
        except TypeError as error:
            raise ModelError(f"{where}: malformed convention ({error})") from None

    def alternatives(self) -> list[Convention]:
        """Other input conventions to try when a model scores badly (outputs do not change the argmax)."""
        ranges = [
            candidate
            for shape in SHAPES
            for candidate in (
                Convention("0-1", shape, self.outputs),
                Convention("0-255", shape, self.outputs),
                Convention("standardize", shape, self.outputs, MNIST_MEAN, MNIST_STD),
            )
        ]
        return [candidate for candidate in ranges if candidate != self]


class ConventionWrapper(nn.Module):
    """``inner`` with its convention wrapped: (N, 1, 28, 28) float in [0, 1] -> float logits (N, 10)."""

    def __init__(self, inner: nn.Module, convention: Convention) -> None:
        super().__init__()
        self.inner = inner
        self.convention = convention

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        convention = self.convention
        if convention.input_range == "0-255":
            x = x * 255.0
        elif convention.input_range == "standardize":
            x = (x - float(convention.mean or 0.0)) / float(convention.std or 1.0)
        if convention.input_shape == "784":
            x = x.reshape(x.shape[0], 784)
        out = self.inner(x)
        if isinstance(out, (tuple, list)):  # exporters sometimes return a 1-tuple
            out = out[0]
        if not isinstance(out, torch.Tensor):
            raise ModelError(f"the model returned {type(out).__name__}, not a tensor")
        out = out.float()
        if convention.outputs == "probs":
            out = out.clamp_min(_PROBABILITY_FLOOR).log()
        return out
