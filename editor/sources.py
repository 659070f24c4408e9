"""Where the editor's models come from (no Qt): the zoo, or an injected table of modules (tests, benchmarks).

A model maps (N, 1, 28, 28) float in [0, 1] to logits (N, 10). ``certify`` answers "is the ORIGINAL
digit certified at ε", i.e. the model provably cannot change its answer within that budget.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import torch
from torch import nn

from core.errors import ModelError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ModelInfo:
    """What the editor shows about a model (mirrors ``core.zoo.ZooEntry``)."""

    name: str
    family: str = ""
    norm: str | None = None
    eps: float | None = None
    certified: bool = False
    slow: bool = False
    description: str = ""
    origin: str = "zoo"  # "zoo" (shipped checkpoint) or "user" (a model the user added)


class ModelSource(Protocol):
    """The editor's view of a model zoo."""

    def available(self) -> list[str]:
        """Names of the models that can be loaded, in display order."""
        ...

    def info(self, name: str) -> ModelInfo: ...

    def load(self, name: str, device: torch.device) -> nn.Module:
        """The model in eval mode on ``device``; raises :class:`ModelError` when it cannot be loaded."""
        ...

    def certify(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor, eps: float) -> torch.Tensor:
        """Bool (N,): is each x (N, 1, 28, 28) certified to keep label y (N,) within ε."""
        ...


class ZooSource:
    """Models from ``core.zoo`` (checkpoints in ``checkpoints/``), certification from ``core.certify``."""

    def available(self) -> list[str]:
        try:
            from core import zoo
        except ImportError as error:
            log.warning("model zoo unavailable: %s", error)
            return []
        return list(zoo.available_models())

    def info(self, name: str) -> ModelInfo:
        from core import zoo

        entry = zoo.entry(name)  # zoo or user model; ModelError when unknown
        return ModelInfo(
            name=entry.name,
            family=entry.family,
            norm=entry.norm,
            eps=entry.eps,
            certified=entry.certified,
            slow=entry.slow,
            description=entry.description,
            origin=entry.origin,
        )

    def load(self, name: str, device: torch.device) -> nn.Module:
        from core import zoo

        return zoo.load(name, device=device).eval()

    def certify(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor, eps: float) -> torch.Tensor:
        try:
            from core.certify import certified
        except ImportError as error:
            raise ModelError(f"certification unavailable (core.certify: {error})") from None
        return certified(model, x, y, eps)


Certifier = Callable[[nn.Module, torch.Tensor, torch.Tensor, float], torch.Tensor]


class StaticSource:
    """A fixed table of in-memory models, for tests and benchmarks.

    ``models`` maps a name to ``(info, module)``; ``certifier`` answers certification queries for models
    whose info says ``certified`` (default: none are certified).
    """

    def __init__(self, models: dict[str, tuple[ModelInfo, nn.Module]], certifier: Certifier | None = None) -> None:
        self._models = dict(models)
        self._certifier = certifier

    def available(self) -> list[str]:
        return list(self._models)

    def info(self, name: str) -> ModelInfo:
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
