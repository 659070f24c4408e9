"""The model zoo: registry, architectures, checkpoints with model cards, and loading.

>>> from core.zoo import load, available_models
>>> model = load("undefended")          # eval mode, (N, 1, 28, 28) in [0, 1] -> logits (N, 10)
"""

from __future__ import annotations

import torch
from torch import nn

from core.device import resolve_device
from core.errors import ModelError
from core.zoo.architectures import build
from core.zoo.cards import ModelCard, card_path, checkpoint_dir, load_weights, read_card, weights_path
from core.zoo.registry import ZOO, ZooEntry, get_entry, list_models

__all__ = [
    "ZOO",
    "ModelCard",
    "ZooEntry",
    "available_models",
    "checkpoint_dir",
    "get_entry",
    "list_models",
    "load",
    "load_card",
]


def load_card(name: str) -> ModelCard:
    """The model card of ``name``; raises :class:`ModelError` for an unknown name or a missing card."""
    get_entry(name)
    return read_card(name)


def available_models() -> list[str]:
    """Registry names whose checkpoint and card are both present, in display order."""
    return [name for name in ZOO if weights_path(name).exists() and card_path(name).exists()]


def load(name: str, device: str | torch.device | None = None) -> nn.Module:
    """The trained model ``name`` in eval mode on ``device`` (auto: CUDA if available), gradients off.

    Maps (N, 1, 28, 28) float32 in [0, 1] to logits (N, 10). The checkpoint's sha256 is checked against its card.
    """
    entry = get_entry(name)
    card = read_card(name)
    model = build(entry.architecture)
    state = load_weights(name, card.checkpoint_sha256)
    try:
        model.load_state_dict(state)
    except RuntimeError as error:
        first_line = str(error).splitlines()[0]
        raise ModelError(
            f"{weights_path(name)}: weights do not fit architecture {entry.architecture} ({first_line})"
        ) from None
    model.eval().requires_grad_(False)
    return model.to(resolve_device(device))
