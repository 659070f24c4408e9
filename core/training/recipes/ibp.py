"""Certified training with interval bound propagation (Gowal et al., 2018; schedule as in CROWN-IBP, no CROWN).

The loss mixes clean and worst-case cross-entropy::

    loss = κ_t · CE(model(x), y) + (1 − κ_t) · IBP-CE(model, x, y, ε_t)

where IBP-CE is :func:`core.certify.ibp_loss` (cross-entropy on the worst-case logits of the ε_t box; computed
together with the clean logits by :func:`core.certify.forward_and_ibp_loss`, one clean pass for both). The first
``warmup_epochs`` epochs are clean (ε_t = 0, κ_t = 1); then, per step, ε_t grows linearly from 0 to ``train_eps``
and κ_t falls linearly from 1 to ``kappa_end`` over ``ramp_epochs``; both then stay put. Adam with ``lr``, times
0.1 from ``lr_drop_epoch`` (default: the last ~20% of the epochs).

Hyper-parameters (:class:`IBPHyperparameters`): ``epochs``, ``batch_size``, ``lr``, ``train_eps``, ``warmup_epochs``,
``ramp_epochs``, ``kappa_end``, optional ``lr_drop_epoch`` and ``verify_eps`` (default: the entry's ε, else 0.4),
and two options from Shi et al. (2021), "Fast certified robust training with short warmup":

- ``batchnorm``: train with a BatchNorm after every Conv2d/Linear but the last (bounds through it use the clean
  batch's statistics, see :mod:`core.certify`); the returned network has them folded in, so the checkpoint is
  the plain architecture and anyone can re-verify it;
- ``ibp_init``: draw every weight from N(0, σ²) with σ = √(2π) / fan-in and zero the biases, which keeps the
  width of interval bounds about constant from layer to layer at initialisation.

After every epoch the recipe logs clean and IBP-verified accuracy (at ``verify_eps``) on a fixed held-out slice
of the *training* images (the last 500, never trained on; the test set is not touched) and saves resumable state.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from core.certify import certified, fold_batchnorm, forward_and_ibp_loss
from core.errors import ModelError
from core.training.context import TrainContext
from core.training.hyperparameters import Hyperparameters, setting
from core.training.loop import EpochResult, step_decay

HELD_OUT = 500


@dataclass(frozen=True, kw_only=True)
class IBPHyperparameters(Hyperparameters):
    """The ``ibp`` recipe's hyper-parameters (see the module docstring); ``lr_drop_epoch`` None: ⌈0.8·epochs⌉,
    ``verify_eps`` None: the entry's ε, else 0.4."""

    epochs: int = setting(minimum=0)
    lr: float = setting(above=0)
    train_eps: float = setting(minimum=0)
    warmup_epochs: float = setting(0.0, minimum=0)
    ramp_epochs: float = setting(1.0, minimum=0)
    kappa_end: float = setting(0.5, minimum=0, maximum=1)
    lr_drop_epoch: int | None = setting(None, minimum=0)
    verify_eps: float | None = setting(None, minimum=0)
    batchnorm: bool = False
    ibp_init: bool = False


def _ibp_settings(hyper: IBPHyperparameters | Mapping[str, Any]) -> IBPHyperparameters:
    return hyper if isinstance(hyper, IBPHyperparameters) else IBPHyperparameters.parse(hyper, "IBP hyper-parameters")


def schedule(hyper: IBPHyperparameters | Mapping[str, Any], epoch: int, fraction: float) -> tuple[float, float]:
    """(ε_t, κ_t) at ``fraction`` ∈ [0, 1) of the way through 0-based ``epoch``; see the module docstring.

    ``hyper``: the recipe's settings, or a mapping that is read (and checked) as them."""
    settings = _ibp_settings(hyper)
    ramp = max(settings.ramp_epochs, 1e-9)
    progress = min(1.0, max(0.0, (epoch + fraction - settings.warmup_epochs) / ramp))
    return progress * settings.train_eps, 1.0 - progress * (1.0 - settings.kappa_end)


def lr_at(hyper: IBPHyperparameters | Mapping[str, Any], epoch: int) -> float:
    """Learning rate of 0-based ``epoch``: ``lr``, times 0.1 from ``lr_drop_epoch`` (default ⌈0.8·epochs⌉)."""
    settings = _ibp_settings(hyper)
    drop = settings.lr_drop_epoch if settings.lr_drop_epoch is not None else math.ceil(0.8 * settings.epochs)
    return step_decay(settings.lr, epoch, drop)


def train_ibp(ctx: TrainContext, model: nn.Module) -> nn.Module:
    """Train ``model`` (a certifiable ``nn.Sequential``) with IBP; returns it (last epoch's weights)."""
    hyper = ctx.settings(IBPHyperparameters)
    verify_eps = (
        hyper.verify_eps if hyper.verify_eps is not None else (ctx.entry.eps if ctx.entry.eps is not None else 0.4)
    )
    held = min(HELD_OUT, len(ctx.labels) // 10)
    if held < 1:
        raise ModelError(f"model {ctx.entry.name!r}: {len(ctx.labels)} training images are too few for IBP training")
    held_x, held_y = ctx.images[-held:].to(ctx.device), ctx.labels[-held:].to(ctx.device)
    ctx.images, ctx.labels = ctx.images[:-held], ctx.labels[:-held]
    if not isinstance(model, nn.Sequential):
        raise ModelError(f"model {ctx.entry.name!r}: the ibp recipe needs an nn.Sequential network")
    if hyper.ibp_init:
        ibp_initialise(model)
    if hyper.batchnorm:
        model = with_batchnorm(model).to(ctx.device)

    optimizer = torch.optim.Adam(model.parameters(), lr=hyper.lr)
    start_epoch, _ = ctx.load_state(model, optimizer)
    steps_per_epoch = max(1, math.ceil(len(ctx.labels) / hyper.batch_size))
    ctx.logger.info("IBP training: %d images, %d held out, verify at eps=%.3f", len(ctx.labels), held, verify_eps)

    def step(x: torch.Tensor, y: torch.Tensor, epoch: int, index: int) -> tuple[torch.Tensor, dict[str, float]]:
        eps_t, kappa = schedule(hyper, epoch, index / steps_per_epoch)
        if eps_t <= 0:
            logits = model(x)
            return F.cross_entropy(logits, y), {"correct": float((logits.detach().argmax(1) == y).sum())}
        logits, robust = forward_and_ibp_loss(model, x, y, eps_t)
        loss = kappa * F.cross_entropy(logits, y) + (1.0 - kappa) * robust
        figures = {
            "ibp_loss": float(robust.detach()) * len(y),
            "correct": float((logits.detach().argmax(1) == y).sum()),
        }
        return loss, figures

    def figures(result: EpochResult) -> dict[str, float]:
        eps_t, kappa = schedule(hyper, result.epoch, max(result.steps - 1, 0) / steps_per_epoch)  # the last step's
        clean, verified = heldout_figures(model, held_x, held_y, verify_eps)
        return {
            "loss": result.mean("loss"),
            "ibp_loss": result.mean("ibp_loss"),
            "train_acc": result.mean("correct"),
            "heldout_clean": clean,
            "heldout_verified": verified,
            "eps": eps_t,
            "kappa": kappa,
            "lr": result.lr,
        }

    epochs_left = range(start_epoch, hyper.epochs)
    ctx.run_epochs(model, optimizer, epochs_left, step, lr_at=lambda epoch: lr_at(hyper, epoch), figures=figures)
    model.eval()
    return fold_batchnorm(model) if hyper.batchnorm else model


def with_batchnorm(model: nn.Sequential) -> nn.Sequential:
    """A copy of ``model`` with a BatchNorm after every Conv2d / Linear except the last layer (same weights)."""
    layers = list(model)
    augmented: list[nn.Module] = []
    for index, layer in enumerate(layers):
        augmented.append(layer)
        if index == len(layers) - 1:
            break
        if isinstance(layer, nn.Conv2d):
            augmented.append(nn.BatchNorm2d(layer.out_channels))
        elif isinstance(layer, nn.Linear):
            augmented.append(nn.BatchNorm1d(layer.out_features))
    return nn.Sequential(*augmented)


def ibp_initialise(model: nn.Module) -> None:
    """IBP initialisation (Shi et al., 2021): weights ~ N(0, (√(2π) / fan-in)²), zero biases, in place."""
    with torch.no_grad():
        for layer in model.modules():
            if isinstance(layer, (nn.Conv2d, nn.Linear)):
                fan_in = layer.weight[0].numel()
                layer.weight.normal_(0.0, math.sqrt(2 * math.pi) / fan_in)
                if layer.bias is not None:
                    layer.bias.zero_()


def heldout_figures(
    model: nn.Module, x: torch.Tensor, y: torch.Tensor, eps: float, batch_size: int = 500
) -> tuple[float, float]:
    """(clean accuracy, IBP-verified accuracy at ``eps``) of ``model`` on ``x`` (N, 1, 28, 28), ``y`` (N,)."""
    model.eval()
    clean = verified = 0
    with torch.no_grad():
        for start in range(0, len(y), batch_size):
            xb, yb = x[start : start + batch_size], y[start : start + batch_size]
            right = model(xb).argmax(1) == yb
            clean += int(right.sum())
            verified += int((right & certified(model, xb, yb, eps)).sum())
    model.train()
    return clean / max(len(y), 1), verified / max(len(y), 1)
