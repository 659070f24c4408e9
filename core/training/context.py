"""What a training recipe gets from the driver (``core.training.run``): the entry, the data, the device, the clock.

A *recipe* is a function ``recipe(ctx, model) -> model`` that trains ``model`` (freshly built for the entry's
architecture) with the entry's hyper-parameters in ``ctx.hyper``; ``core.recipes.RECIPES`` names them.
"""

from __future__ import annotations

import logging
import math
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn
from tqdm import tqdm

from core.zoo.registry import ZooEntry

Recipe = Callable[["TrainContext", nn.Module], nn.Module]


@dataclass
class TrainContext:
    """Everything a recipe needs; images are float32 (N, 1, 28, 28) in [0, 1] on the CPU."""

    entry: ZooEntry
    images: torch.Tensor
    labels: torch.Tensor
    device: torch.device
    seed: int
    logger: logging.Logger
    state_path: Path
    time_budget_s: float | None = None
    started: float = field(default_factory=time.monotonic)
    progress_enabled: bool = True
    seconds_before_resume: float = 0.0
    fingerprint: str = ""
    """The settings the state was saved under (:func:`core.training.run.settings_fingerprint`): a rerun resumes
    only a state with the same one."""

    @property
    def hyper(self) -> dict[str, Any]:
        return self.entry.hyper

    def batches(self, epoch: int, batch_size: int | None = None) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """Shuffled mini-batches for ``epoch`` (deterministic given the seed), on ``self.device``, with a bar."""
        size = batch_size or int(self.hyper.get("batch_size", 100))
        generator = torch.Generator().manual_seed(self.seed * 1000 + epoch)
        order = torch.randperm(len(self.labels), generator=generator)
        steps = math.ceil(len(order) / size)
        bar = tqdm(
            range(steps),
            desc=f"{self.entry.name} epoch {epoch + 1}",
            leave=False,
            disable=not self.progress_enabled,
            file=sys.stderr,
        )
        for step in bar:
            index = order[step * size : (step + 1) * size]
            yield self.images[index].to(self.device), self.labels[index].to(self.device)

    def out_of_time(self) -> bool:
        return self.time_budget_s is not None and time.monotonic() - self.started > self.time_budget_s

    def save_state(self, model: nn.Module, optimizer: torch.optim.Optimizer, epoch: int, **extra: Any) -> None:
        """Resumable state after ``epoch`` (0-based, completed); plain tensors only (loaded with weights_only)."""
        self.state_path.parent.mkdir(parents=True, exist_ok=True)
        temp = self.state_path.with_suffix(".tmp")
        elapsed = self.seconds_before_resume + time.monotonic() - self.started
        state = {
            "model": model.state_dict(),
            "optimizer": optimizer.state_dict(),
            "epoch": epoch,
            "fingerprint": self.fingerprint,
            **extra,
        }
        torch.save({**state, "elapsed_s": elapsed}, temp)
        temp.replace(self.state_path)

    def end_epoch(self, model: nn.Module, optimizer: torch.optim.Optimizer, epoch: int, **extra: Any) -> bool:
        """Save resumable state after ``epoch``; True when the time budget says to stop (and log that)."""
        self.save_state(model, optimizer, epoch, **extra)
        if self.out_of_time():
            self.logger.info("time budget reached after epoch %d", epoch + 1)
            return True
        return False

    def load_state(self, model: nn.Module, optimizer: torch.optim.Optimizer) -> tuple[int, dict[str, Any]]:
        """Restore the last saved state if any; returns (first epoch to run, extra values saved)."""
        if not self.state_path.exists():
            return 0, {}
        state = torch.load(self.state_path, map_location="cpu", weights_only=True)
        model.load_state_dict(state.pop("model"))
        optimizer.load_state_dict(state.pop("optimizer"))
        epoch = int(state.pop("epoch"))
        state.pop("fingerprint", None)
        self.seconds_before_resume = float(state.pop("elapsed_s", 0.0))
        self.logger.info("resumed from %s after epoch %d", self.state_path, epoch + 1)
        return epoch + 1, state

    def log_epoch(self, epoch: int, **figures: float) -> None:
        shown = "  ".join(f"{key} {value:.4f}" for key, value in figures.items())
        self.logger.info(
            "epoch %d/%s  %s  (%.0f s)",
            epoch + 1,
            self.hyper.get("epochs", "?"),
            shown,
            time.monotonic() - self.started,
        )
