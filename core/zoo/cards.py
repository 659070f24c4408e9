"""Checkpoints and model cards on disk.

``checkpoints/<name>.safetensors`` holds the weights (a model that shares another's weights has no file of its
own, see :func:`weights_owner`); ``checkpoints/<name>.json`` is the model card: what the
model is, how it was trained (exact command, time, device, seed) and what it scores (with the command that
measured each figure). The card records the checkpoint's sha256, which is checked on every load.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Final

import torch
from safetensors import SafetensorError
from safetensors.torch import load as load_safetensors
from safetensors.torch import save_file

from core.errors import ModelError
from core.files import atomic_output, atomic_write_text
from core.paths import checkpoints_dir
from core.zoo.registry import ZOO

CARD_FORMAT_VERSION: Final = 1


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
    origin: str = "zoo"
    """``"zoo"`` (shipped in ``checkpoints/``) or ``"user"`` (added with ``invariance models add``)."""
    source: dict[str, Any] = field(default_factory=dict)
    """User models: the file format, file name, factory, and input/output convention (see ``core.zoo.user``)."""

    def figure(self, key: str) -> float | None:
        entry = self.evaluation.get(key)
        return None if entry is None else float(entry["value"])


def card_path(name: str) -> Path:
    return checkpoint_files(name)[1]


def weights_owner(name: str) -> str:
    """The model whose ``.safetensors`` file holds ``name``'s weights: itself, or for a zoo model that shares
    another's weights (Binary ABS uses ABS's), that model, so the shipped tree holds no copy of a checkpoint."""
    entry = ZOO.get(name)
    shared = entry.share_weights_with if entry is not None else None
    return shared or name


def weights_path(name: str) -> Path:
    return checkpoints_dir() / f"{weights_owner(name)}.safetensors"


def read_card(name: str) -> ModelCard:
    return parse_card(card_path(name), name)


def parse_card(path: Path, name: str) -> ModelCard:
    """The model card at ``path``; a missing, non-UTF-8, non-JSON, non-object or malformed card, or one without
    ``checkpoint_sha256``, raises :class:`ModelError` naming the file."""
    try:
        raw = json.loads(path.read_bytes().decode("utf-8"))
    except FileNotFoundError:
        raise ModelError(f"{path}: no model card for {name!r} (train it with 'invariance train {name}')") from None
    except UnicodeDecodeError:
        raise ModelError(f"{path}: model card is not UTF-8 text") from None
    except (OSError, ValueError, RecursionError) as error:
        raise ModelError(f"{path}: unreadable model card ({type(error).__name__}: {error})") from None
    if not isinstance(raw, dict):
        raise ModelError(f"{path}: a model card must be a JSON object, not {type(raw).__name__}")
    if raw.get("format_version") != CARD_FORMAT_VERSION:
        raise ModelError(f"{path}: unsupported model card format_version {raw.get('format_version')!r}")
    try:
        card = ModelCard(**raw)
    except TypeError as error:
        raise ModelError(f"{path}: malformed model card ({error})") from None
    if not isinstance(card.checkpoint_sha256, str) or len(card.checkpoint_sha256) != 64:
        raise ModelError(f"{path}: model card has no checkpoint_sha256; its weights cannot be verified")
    if not isinstance(card.evaluation, dict) or not isinstance(card.source, dict):
        raise ModelError(f"{path}: malformed model card (evaluation and source must be objects)")
    return card


def checkpoint_files(name: str, folder: Path | None = None) -> tuple[Path, Path]:
    """(weights ``<name>.safetensors``, card ``<name>.json``) in ``folder`` (default: the checkpoints)."""
    folder = checkpoints_dir() if folder is None else folder
    return folder / f"{name}.safetensors", folder / f"{name}.json"


def card_text(card: Mapping[str, Any]) -> str:
    """A card as the text of its ``.json`` file: indented JSON, keys in their given order, a final newline."""
    return json.dumps(card, indent=2, sort_keys=False) + "\n"


def card_json(card: ModelCard) -> str:
    return card_text(asdict(card))


def write_card_file(path: Path, card: Mapping[str, Any]) -> Path:
    """The one card writer: ``card`` (a zoo :class:`ModelCard` as a dict, or the card of GenInv's judge or scorer)
    written atomically to ``path`` as :func:`card_text`."""
    atomic_write_text(path, card_text(card))
    return path


def read_card_file(path: Path, what: str, format_version: int) -> dict[str, Any]:
    """The JSON object in card ``path`` whose ``format_version`` is ``format_version``; a missing, unreadable or
    malformed card raises one :class:`ModelError` line naming ``path`` and ``what`` the card is of."""
    try:
        card = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError) as error:  # ValueError: bad JSON or not UTF-8
        raise ModelError(f"{path}: cannot read {what} card ({error})") from None
    if not isinstance(card, dict) or card.get("format_version") != format_version:
        raise ModelError(f"{path}: unsupported {what} card format")
    return card


def write_card(card: ModelCard, path: Path | None = None) -> Path:
    """Write ``card`` (atomically) to ``path``, by default the zoo's ``checkpoints/<name>.json``."""
    return write_card_file(card_path(card.name) if path is None else path, asdict(card))


def save_tensors(path: Path, tensors: Mapping[str, torch.Tensor]) -> str:
    """Write ``tensors`` atomically as a safetensors file at ``path`` (its folder is created); returns its sha256."""
    with atomic_output(path) as temporary:
        save_file({key: value.detach().cpu().contiguous() for key, value in tensors.items()}, str(temporary))
    return file_sha256(path)


def save_weights(name: str, model: torch.nn.Module) -> str:
    """Write the model's state dict atomically as safetensors; returns the file's sha256."""
    return save_tensors(weights_path(name), model.state_dict())


def load_weights(name: str, expected_sha256: str) -> dict[str, torch.Tensor]:
    path = weights_path(name)
    if not path.exists():
        raise ModelError(f"{path}: checkpoint for {name!r} is missing (train it with 'invariance train {name}')")
    return load_safetensors_verified(path, expected_sha256)


def read_verified(path: Path, expected_sha256: str) -> bytes:
    """The bytes of ``path``, read once and checked against ``expected_sha256``: the caller deserialises exactly
    the bytes that were checked (never the file reopened by name). Raises :class:`ModelError`."""
    if not expected_sha256:
        raise ModelError(f"{path}: no sha256 recorded for this file; refusing to load unverified weights")
    try:
        data = path.read_bytes()
    except OSError as error:
        raise ModelError(f"{path}: cannot read ({error.strerror or error})") from None
    if hashlib.sha256(data).hexdigest() != expected_sha256:
        raise ModelError(f"{path}: sha256 does not match its model card; the file is corrupt or replaced")
    return data


def load_safetensors_verified(path: Path, expected_sha256: str) -> dict[str, torch.Tensor]:
    """The tensors of a safetensors file whose sha256 is ``expected_sha256`` (see :func:`read_verified`)."""
    data = read_verified(path, expected_sha256)
    try:
        return load_safetensors(data)
    except (SafetensorError, ValueError, OSError) as error:
        raise ModelError(f"{path}: unreadable checkpoint ({error})") from None


def load_state(module: torch.nn.Module, state: Mapping[str, torch.Tensor], path: Path | str, fits: str) -> None:
    """``module.load_state_dict(state)``; a mismatch is one :class:`ModelError` line naming ``path`` and ``fits``."""
    try:
        module.load_state_dict(state)
    except RuntimeError as error:
        first_line = str(error).splitlines()[0]
        raise ModelError(f"{path}: weights do not fit {fits} ({first_line})") from None


def file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()
