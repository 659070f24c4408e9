"""Checkpoints and model cards on disk.

``checkpoints/<name>.safetensors`` holds the weights (a model that shares another's weights has no file of its
own, see :func:`weights_owner`); ``checkpoints/<name>.json`` is the model card: what the
model is, how it was trained (exact command, time, device, seed) and what it scores (with the command that
measured each figure). The card records the checkpoint's sha256, which is checked on every load.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Final

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from core.errors import ModelError
from core.files import atomic_output, atomic_write_text
from core.zoo.registry import ZOO

CARD_FORMAT_VERSION: Final = 1
_REPO_CHECKPOINTS: Final = Path(__file__).resolve().parents[2] / "checkpoints"


def checkpoint_dir() -> Path:
    """``$INVARIANCE_CHECKPOINTS`` or the repository's ``checkpoints/`` folder."""
    override = os.environ.get("INVARIANCE_CHECKPOINTS")
    return Path(override) if override else _REPO_CHECKPOINTS


def run_dir(name: str) -> Path:
    """Where training ``name`` keeps its resumable state and, when run as a child, its console output."""
    return checkpoint_dir().parent / "runs" / name


@dataclass
class ModelCard:
    """The JSON model card; ``evaluation`` maps a figure name to ``{"value", "n", "attack"?, "command"}``."""

    name: str
    family: str
    description: str
    threat_model: dict[str, Any]
    architecture: str
    recipe: dict[str, Any]
    command: str
    training: dict[str, Any] = field(default_factory=dict)
    evaluation: dict[str, dict[str, Any]] = field(default_factory=dict)
    checkpoint_sha256: str = ""
    format_version: int = CARD_FORMAT_VERSION

    def figure(self, key: str) -> float | None:
        entry = self.evaluation.get(key)
        return None if entry is None else float(entry["value"])


def card_path(name: str) -> Path:
    return checkpoint_dir() / f"{name}.json"


def weights_owner(name: str) -> str:
    """The model whose ``.safetensors`` file holds ``name``'s weights: itself, or for a zoo model that shares
    another's weights (Binary ABS uses ABS's), that model, so the shipped tree holds no copy of a checkpoint."""
    entry = ZOO.get(name)
    shared = entry.hyper.get("share_weights_with") if entry is not None else None
    return str(shared) if shared else name


def weights_path(name: str) -> Path:
    return checkpoint_dir() / f"{weights_owner(name)}.safetensors"


def read_card(name: str) -> ModelCard:
    path = card_path(name)
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ModelError(f"{path}: no model card for {name!r} (train it with 'invariance train {name}')") from None
    except (OSError, json.JSONDecodeError) as error:
        raise ModelError(f"{path}: unreadable model card ({error})") from None
    if not isinstance(raw, dict) or raw.get("format_version") != CARD_FORMAT_VERSION:
        raise ModelError(f"{path}: unsupported model card format_version {raw.get('format_version')!r}")
    try:
        return ModelCard(**raw)
    except TypeError as error:
        raise ModelError(f"{path}: malformed model card ({error})") from None


def write_card(card: ModelCard) -> Path:
    path = card_path(card.name)
    atomic_write_text(path, json.dumps(asdict(card), indent=2, sort_keys=False) + "\n")
    return path


def save_weights(name: str, model: torch.nn.Module) -> str:
    """Write the model's state dict atomically as safetensors; returns the file's sha256."""
    path = weights_path(name)
    tensors = {key: value.detach().cpu().contiguous() for key, value in model.state_dict().items()}
    with atomic_output(path) as temporary:
        save_file(tensors, str(temporary))
    return file_sha256(path)


def load_weights(name: str, expected_sha256: str | None) -> dict[str, torch.Tensor]:
    path = weights_path(name)
    if not path.exists():
        raise ModelError(f"{path}: checkpoint for {name!r} is missing (train it with 'invariance train {name}')")
    if expected_sha256 and file_sha256(path) != expected_sha256:
        raise ModelError(f"{path}: checkpoint sha256 does not match its model card; the file is corrupt or replaced")
    try:
        return load_file(str(path))
    except (SafetensorError, OSError) as error:
        raise ModelError(f"{path}: unreadable checkpoint ({error})") from None


def file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()
