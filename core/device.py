"""Choosing where tensors live: CUDA when present, else CPU, always overridable."""

from __future__ import annotations

import os

import torch

from core.errors import InvarianceError

DEVICE_CHOICES = ("auto", "cpu", "cuda")


def resolve_device(name: str | torch.device | None = None) -> torch.device:
    """``None``/``"auto"`` -> CUDA if available else CPU; ``"cpu"``, ``"cuda"``, ``"cuda:1"`` as given.

    Raises :class:`InvarianceError` when CUDA is asked for but not available.
    """
    if isinstance(name, torch.device):
        return name
    if name is None or name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise InvarianceError(f"unknown device {name!r}; use auto, cpu or cuda") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise InvarianceError(f"device {name!r} requested but CUDA is not available on this machine")
    return device


def configure_threads(threads: int | None = None) -> int:
    """Set torch's intra-op threads: ``threads``, ``$INVARIANCE_THREADS``, or the number of usable cores."""
    if threads is None:
        threads = int(os.environ.get("INVARIANCE_THREADS", "0")) or len(os.sched_getaffinity(0))
    torch.set_num_threads(max(1, threads))
    return torch.get_num_threads()
