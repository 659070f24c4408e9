"""The one training loop: epochs of shuffled mini-batches, one optimiser step per batch, per-epoch figures.

Every trainer in the product runs through :func:`train_epochs`: the zoo's recipes
(``core.training.recipes``), GenInv's judge (``core.geninv.judge``) and its scorer (``core.geninv.scorer``). What
differs between them is passed in: where the batches come from (:func:`shuffled_batches`, or
``TrainContext.batches`` with its progress bar), the loss of one batch (``step``), the learning rate of each epoch
(``lr_at``) or a per-step ``scheduler``, and what happens after each epoch (``after_epoch``: held-out figures,
logging, resumable state; it returns True to stop early).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field

import torch
from torch import nn

Batch = tuple[torch.Tensor, torch.Tensor]
"""(inputs, labels) of one mini-batch, on the training device."""
Step = Callable[[torch.Tensor, torch.Tensor, int, int], tuple[torch.Tensor, Mapping[str, float]]]
"""``step(x, y, epoch, index) -> (loss, sums)``: the loss to minimise on one batch (a scalar tensor) and figures
to add up over the epoch (e.g. the number of correct predictions); the loop adds ``loss · len(y)`` itself."""


@dataclass(frozen=True)
class EpochResult:
    """What one epoch added up: ``sums`` (``"loss"`` is the sum of loss · batch size) over ``seen`` images in
    ``steps`` batches, at learning rate ``lr`` (its value at the epoch's start)."""

    epoch: int
    lr: float
    seen: int
    steps: int
    sums: Mapping[str, float] = field(default_factory=dict)

    def mean(self, key: str) -> float:
        """``sums[key]`` per image seen (0 when nothing was seen or the key was never added)."""
        return self.sums.get(key, 0.0) / max(self.seen, 1)


def shuffled_batches(
    images: torch.Tensor, labels: torch.Tensor, batch_size: int, generator: torch.Generator, device: torch.device
) -> Iterator[Batch]:
    """One pass over ``images``/``labels`` (first dimension N, on the CPU) in the order of a permutation drawn from
    ``generator`` (drawn when iteration starts), ``batch_size`` at a time (the last batch may be smaller), moved to
    ``device``."""
    order = torch.randperm(len(labels), generator=generator)
    for start in range(0, len(order), batch_size):
        index = order[start : start + batch_size]
        yield images[index].to(device), labels[index].to(device)


def reshuffled(
    images: torch.Tensor, labels: torch.Tensor, batch_size: int, generator: torch.Generator, device: torch.device
) -> Callable[[int], Iterator[Batch]]:
    """``batches`` for :func:`train_epochs`: every epoch, :func:`shuffled_batches` in a new order from ``generator``."""
    return lambda _epoch: shuffled_batches(images, labels, batch_size, generator, device)


def set_lr(optimizer: torch.optim.Optimizer, lr: float) -> None:
    """Set the learning rate of every parameter group of ``optimizer``."""
    for group in optimizer.param_groups:
        group["lr"] = lr


def step_decay(lr: float, epoch: int, drop_epoch: int | None) -> float:
    """The learning rate of 0-based ``epoch``: ``lr``, times 0.1 from ``drop_epoch`` on (None: never)."""
    return lr * (0.1 if drop_epoch is not None and epoch >= drop_epoch else 1.0)


def train_epochs(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    *,
    epochs: int,
    batches: Callable[[int], Iterable[Batch]],
    step: Step,
    start_epoch: int = 0,
    lr_at: Callable[[int], float] | None = None,
    scheduler: torch.optim.lr_scheduler.LRScheduler | None = None,
    after_epoch: Callable[[EpochResult], bool | None] | None = None,
) -> EpochResult | None:
    """Train ``model`` for epochs ``start_epoch`` … ``epochs - 1``; returns the last epoch's result (None if none ran).

    Per epoch: the learning rate is set to ``lr_at(epoch)`` (if given), the model is put in training mode, and for
    each batch of ``batches(epoch)`` the loss from ``step`` is back-propagated and ``optimizer`` (then
    ``scheduler``, if given) steps. The model is then put in eval mode and ``after_epoch(result)`` is called; a
    True return ends training after that epoch.
    """
    result: EpochResult | None = None
    for epoch in range(start_epoch, epochs):
        if lr_at is not None:
            set_lr(optimizer, lr_at(epoch))
        lr = float(optimizer.param_groups[0]["lr"])
        model.train()
        sums: dict[str, float] = {"loss": 0.0}
        seen = steps = 0
        for index, (x, y) in enumerate(batches(epoch)):
            loss, figures = step(x, y, epoch, index)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            if scheduler is not None:
                scheduler.step()
            sums["loss"] += float(loss.detach()) * len(y)
            for key, value in figures.items():
                sums[key] = sums.get(key, 0.0) + value
            seen += len(y)
            steps += 1
        model.eval()
        result = EpochResult(epoch, lr, seen, steps, sums)
        if after_epoch is not None and after_epoch(result):
            break
    return result
