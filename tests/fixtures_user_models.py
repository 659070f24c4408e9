"""Small user models for the ``invariance models`` tests: a tiny trained classifier and its exports."""

from __future__ import annotations

import functools
import warnings
from pathlib import Path

import torch
from torch import nn

from core.data import load_mnist
from core.images import to_float


class Scaled(nn.Module):
    """``inner`` behind a fixed rescaling: a model that expects another input convention than [0, 1]."""

    def __init__(self, inner: nn.Module, factor: float, flat: bool) -> None:
        super().__init__()
        self.inner = inner
        self.factor = factor
        self.flat = flat

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.flat:
            x = x.reshape(-1, 1, 28, 28)
        return torch.softmax(self.inner(x * self.factor), dim=1)


@functools.cache
def tiny_classifier() -> nn.Sequential:
    """Logistic regression trained for one pass over 6,000 training digits (~88% test accuracy, ~1 s)."""
    generator = torch.Generator().manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(784, 10))
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.copy_(torch.randn(parameter.shape, generator=generator) * 0.01)
    images_u8, labels = load_mnist("train")
    x = torch.from_numpy(to_float(images_u8[:6000])).unsqueeze(1)
    y = torch.from_numpy(labels[:6000]).long()
    optimiser = torch.optim.Adam(model.parameters(), lr=0.01)
    for start in range(0, 6000, 100):
        optimiser.zero_grad()
        nn.functional.cross_entropy(model(x[start : start + 100]), y[start : start + 100]).backward()
        optimiser.step()
    return model.eval().requires_grad_(False)


def export_onnx(model: nn.Module, path: Path, *, flat: bool = False) -> Path:
    example = torch.rand(2, 784) if flat else torch.rand(2, 1, 28, 28)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch's notice about the legacy (TorchScript-based) exporter
        torch.onnx.export(
            model,
            (example,),
            str(path),
            dynamo=False,
            opset_version=17,
            input_names=["x"],
            output_names=["logits"],
            dynamic_axes={"x": {0: "batch"}, "logits": {0: "batch"}},
        )
    return path


def mnist_test_digits(n: int) -> tuple[torch.Tensor, torch.Tensor]:
    images_u8, labels = load_mnist("test")
    return torch.from_numpy(to_float(images_u8[:n])).unsqueeze(1), torch.from_numpy(labels[:n]).long()
