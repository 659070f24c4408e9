"""What a training recipe gets from the driver (``core.training.run``): the entry, its typed hyper-parameters, the
data, the device, the clock.

A :class:`Recipe` pairs the dataclass of its hyper-parameters (a :class:`core.training.hyperparameters.
Hyperparameters`) with a function ``train(ctx, model) -> model`` that trains ``model`` (freshly built for the entry's
architecture) with ``ctx.hyper``; ``core.training.recipes.RECIPES`` names them.
"""

from __future__ import annotations

import logging
import math
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import torch
from torch import nn
from tqdm import tqdm

from core.errors import ModelError
from core.training.hyperparameters import Hyperparameters
from core.training.loop import Batch, EpochResult, Step, shuffled_batches, train_epochs
from core.zoo.registry import ZooEntry

Settings = TypeVar("Settings", bound=Hyperparameters)


@dataclass(frozen=True)
class Recipe:
    """A training recipe: the dataclass of its hyper-parameters and ``train(ctx, model) -> model``."""

    hyperparameters: type[Hyperparameters]
    train: Callable[[TrainContext, nn.Module], nn.Module]

    def settings(self, entry: ZooEntry) -> Hyperparameters:
        """``entry.hyper`` read into :attr:`hyperparameters`; one :class:`ModelError` line if it does not fit."""
        return self.hyperparameters.parse(entry.hyper, f"model {entry.name!r} (recipe {entry.recipe!r})")


@dataclass
class TrainContext:
    """Everything a recipe needs; images are float32 (N, 1, 28, 28) in [0, 1] on the CPU."""

    entry: ZooEntry
    hyper: Hyperparameters
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

    def settings(self, kind: type[Settings]) -> Settings:
        """:attr:`hyper` as the recipe's own dataclass ``kind`` (the one its :class:`Recipe` names)."""
        if not isinstance(self.hyper, kind):
            raise ModelError(
                f"model {self.entry.name!r}: the recipe expects {kind.__name__}, got {type(self.hyper).__name__}"
            )
        return self.hyper

    def batches(self, epoch: int) -> Iterator[Batch]:
        """Shuffled mini-batches for ``epoch`` (deterministic given the seed), on ``self.device``, with a bar."""
        size = self.hyper.batch_size
        generator = torch.Generator().manual_seed(self.seed * 1000 + epoch)
        yield from tqdm(
            shuffled_batches(self.images, self.labels, size, generator, self.device),
            total=math.ceil(len(self.labels) / size),
            desc=f"{self.entry.name} epoch {epoch + 1}",
            leave=False,
            disable=not self.progress_enabled,
            file=sys.stderr,
        )

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

    def run_epochs(
        self,
        model: nn.Module,
        optimizer: torch.optim.Optimizer,
        epochs: range,
        step: Step,
        *,
        lr_at: Callable[[int], float],
        figures: Callable[[EpochResult], Mapping[str, float]],
        saved: Callable[[], Mapping[str, Any]] = dict,
    ) -> None:
        """The shared loop (:func:`core.training.loop.train_epochs`) over :meth:`batches` for ``epochs`` (a range:
        from the first epoch still to run, e.g. after :meth:`load_state`, to the total). After each epoch it logs
        ``figures(result)``, saves resumable state with ``saved()`` added, and stops when the time budget is spent."""

        def after_epoch(result: EpochResult) -> bool:
            self.log_epoch(result.epoch, epochs.stop, **figures(result))
            return self.end_epoch(model, optimizer, result.epoch, **saved())

        train_epochs(
            model,
            optimizer,
            epochs=epochs.stop,
            start_epoch=epochs.start,
            batches=self.batches,
            step=step,
            lr_at=lr_at,
            after_epoch=after_epoch,
        )

    def log_epoch(self, epoch: int, epochs: int, /, **figures: float) -> None:
        """One log line for 0-based ``epoch`` of ``epochs``: ``figures`` and the seconds since the start."""
        shown = "  ".join(f"{key} {value:.4f}" for key, value in figures.items())
        self.logger.info("epoch %d/%d  %s  (%.0f s)", epoch + 1, epochs, shown, time.monotonic() - self.started)
