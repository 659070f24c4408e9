"""Choosing where tensors live: CUDA when present, else CPU, always overridable."""

from __future__ import annotations

import os
import platform
from pathlib import Path
from typing import Any, Final

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


THREADS_ENV: Final = "INVARIANCE_THREADS"
"""Torch CPU threads for every command; unset or 0: the command's own default (see :func:`requested_threads`)."""


def usable_cores() -> int:
    """The CPUs this process may run on."""
    return len(os.sched_getaffinity(0))


def requested_threads(threads: int | None = None, *, fallback: int | None = None) -> int:
    """How many torch threads to use: ``threads`` (an option such as ``--threads``), else ``$INVARIANCE_THREADS``
    (unset or 0: not set), else ``fallback``, else every usable core.

    The zoo's training and evaluation use every core by default; GenInv, which works on many small tensors,
    passes ``fallback=1``. The one place that reads ``$INVARIANCE_THREADS``; a value that is not a whole number
    >= 0, or a ``threads`` below 1, raises :class:`InvarianceError`.
    """
    if threads is not None:
        if threads < 1:
            raise InvarianceError(f"--threads must be >= 1, got {threads}")
        return threads
    raw = os.environ.get(THREADS_ENV, "").strip() or "0"
    try:
        from_environment = int(raw)
    except ValueError:
        from_environment = -1
    if from_environment < 0:
        raise InvarianceError(f"${THREADS_ENV}={raw!r}: use a whole number of threads (0 or unset: the default)")
    return from_environment or fallback or usable_cores()


def configure_threads(threads: int | None = None, *, fallback: int | None = None) -> int:
    """Set torch's intra-op threads to :func:`requested_threads` (``threads``, ``$INVARIANCE_THREADS``,
    ``fallback``, or the number of usable cores); returns the number torch now uses."""
    torch.set_num_threads(requested_threads(threads, fallback=fallback))
    return torch.get_num_threads()


def cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo`` on Linux), else what ``platform`` knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def describe_machine(device: torch.device) -> dict[str, Any]:
    """The machine a figure was measured on, for benchmark outputs and model cards.

    Keys: ``cpu`` (model name), ``usable_cores`` (CPUs this process may run on), ``torch_threads``, ``torch`` and
    ``python`` (versions), ``device`` (``str(device)``) and, on CUDA, ``gpu`` (the device's name).
    """
    machine: dict[str, Any] = {
        "cpu": cpu_model(),
        "usable_cores": usable_cores(),
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "device": str(device),
    }
    if device.type == "cuda":
        machine["gpu"] = torch.cuda.get_device_name(device)
    return machine


def machine_line(device: torch.device) -> str:
    """:func:`describe_machine` in one line: ``"cpu (AMD EPYC 7B13, 2 cores, 1 torch threads)"``; on CUDA the
    GPU's name comes first (``"cuda:0 (NVIDIA H200; AMD EPYC 7B13, 16 cores, 1 torch threads)"``)."""
    machine = describe_machine(device)
    gpu = f"{machine['gpu']}; " if "gpu" in machine else ""
    return (
        f"{machine['device']} ({gpu}{machine['cpu']}, {machine['usable_cores']} cores, "
        f"{machine['torch_threads']} torch threads)"
    )
