"""Where the editor's models come from (no Qt): the zoo, or an injected table of modules (tests, benchmarks).

A model maps (N, 1, 28, 28) float in [0, 1] to logits (N, 10). What the editor shows about a model is its
:class:`core.zoo.ZooEntry`. ``certify`` answers "is the ORIGINAL digit certified at ε", i.e. the model provably
cannot change its answer within that budget.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import torch
from torch import nn

from core.errors import ModelError
from core.zoo import ZooEntry


class ModelSource(Protocol):
    """The editor's view of a model zoo."""

    def available(self) -> list[str]:
        """Names of the models that can be loaded, in display order."""
        ...

    def info(self, name: str) -> ZooEntry: ...

    def load(self, name: str, device: torch.device) -> nn.Module:
        """The model in eval mode on ``device``; raises :class:`ModelError` when it cannot be loaded."""
        ...

    def certify(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor, eps: float) -> torch.Tensor:
        """Bool (N,): is each x (N, 1, 28, 28) certified to keep label y (N,) within ε."""
        ...


class ZooSource:
    """Models from ``core.zoo`` (checkpoints in ``checkpoints/``), certification from ``core.certify``."""

    def available(self) -> list[str]:
        from core import zoo

        return zoo.available()

    def info(self, name: str) -> ZooEntry:
        from core import zoo

        return zoo.entry(name)  # zoo or user model; ModelError when unknown

    def load(self, name: str, device: torch.device) -> nn.Module:
        from core import zoo

        return zoo.load(name, device=device).eval()

    def certify(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor, eps: float) -> torch.Tensor:
        from core.certify import certified

        return certified(model, x, y, eps)


Certifier = Callable[[nn.Module, torch.Tensor, torch.Tensor, float], torch.Tensor]


class StaticSource:
    """A fixed table of in-memory models, for tests and benchmarks.

    ``models`` maps a name to ``(entry, module)``; ``certifier`` answers certification queries for models
    whose entry says ``certified`` (default: none are certified).
    """

    def __init__(self, models: dict[str, tuple[ZooEntry, nn.Module]], certifier: Certifier | None = None) -> None:
        self._models = dict(models)
        self._certifier = certifier

    def available(self) -> list[str]:
        return list(self._models)

    def info(self, name: str) -> ZooEntry:
        try:
            return self._models[name][0]
        except KeyError:
            raise ModelError(f"unknown model {name!r}") from None

    def load(self, name: str, device: torch.device) -> nn.Module:
        try:
            return self._models[name][1].to(device).eval()
        except KeyError:
            raise ModelError(f"unknown model {name!r}") from None

    def certify(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor, eps: float) -> torch.Tensor:
        if self._certifier is None:
            raise ModelError("this model source has no certifier")
        return self._certifier(model, x, y, eps)
