"""The model zoo: registry, architectures, checkpoints with model cards, loading, and user models.

One resolver covers the shipped models (``checkpoints/``) and the user's (``invariance models add``):

>>> from core.zoo import available, entry, load
>>> available()                          # trained zoo models, then user models
>>> entry("undefended").origin           # "zoo" | "user"
>>> model = load("undefended")           # eval mode, (N, 1, 28, 28) in [0, 1] -> logits (N, 10)
"""

from __future__ import annotations

import torch
from torch import nn

from core.device import resolve_device
from core.errors import ModelError
from core.paths import checkpoints_dir
from core.zoo import user
from core.zoo.architectures import build
from core.zoo.cards import ModelCard, card_path, load_state, load_weights, read_card, weights_path
from core.zoo.registry import ZOO, ZooEntry, get_entry, list_models

__all__ = [
    "ZOO",
    "ModelCard",
    "ZooEntry",
    "available",
    "available_models",
    "checkpoints_dir",
    "entry",
    "find_entry",
    "get_entry",
    "list_models",
    "load",
    "load_card",
]


def entry(name: str) -> ZooEntry:
    """The registry entry of a zoo model or a user model (``origin`` says which); :class:`ModelError` if neither."""
    if name in ZOO:
        return ZOO[name]
    if user.is_user_model(name):
        return user.user_entry(name)
    known = ", ".join([*ZOO, *user.user_names()])
    raise ModelError(f"unknown model {name!r}; known models: {known}")


def find_entry(name: str) -> ZooEntry | None:
    """Like :func:`entry`, but ``None`` for an unknown name (or an unreadable user card)."""
    try:
        return entry(name)
    except ModelError:
        return None


def load_card(name: str) -> ModelCard:
    """The model card of a zoo or user model; raises :class:`ModelError` for an unknown name or a bad card."""
    if name not in ZOO and user.is_user_model(name):
        return user.read_user_card(name)
    get_entry(name)
    return read_card(name)


def available() -> list[str]:
    """Every loadable model: zoo models whose checkpoint and card are present (display order), then user models."""
    shipped = [name for name in ZOO if weights_path(name).exists() and card_path(name).exists()]
    return shipped + user.user_names()


available_models = available
"""The same list; the older name, kept for callers."""


def load(name: str, device: str | torch.device | None = None) -> nn.Module:
    """Model ``name`` (zoo or user) in eval mode on ``device`` (auto: CUDA if available), gradients off.

    Maps (N, 1, 28, 28) float32 in [0, 1] to logits (N, 10). The weights are checked against the card's sha256
    (the bytes checked are the bytes loaded); a user model's input/output convention is wrapped.
    """
    chosen = resolve_device(device)
    if name not in ZOO and user.is_user_model(name):
        return user.load_user(name, chosen)
    zoo_entry = get_entry(name)
    card = read_card(name)
    model = build(zoo_entry.architecture)
    state = load_weights(name, card.checkpoint_sha256)
    load_state(model, state, weights_path(name), f"architecture {zoo_entry.architecture}")
    model.eval().requires_grad_(False)
    return model.to(chosen)
