"""Certified training with interval bound propagation (Gowal et al., 2018; schedule as in CROWN-IBP, no CROWN).

The loss mixes clean and worst-case cross-entropy::

    loss = κ_t · CE(model(x), y) + (1 − κ_t) · IBP-CE(model, x, y, ε_t)

where IBP-CE is :func:`core.certify.ibp_loss` (cross-entropy on the worst-case logits of the ε_t box; computed
together with the clean logits by :func:`core.certify.forward_and_ibp_loss`, one clean pass for both). The first
``warmup_epochs`` epochs are clean (ε_t = 0, κ_t = 1); then, per step, ε_t grows linearly from 0 to ``train_eps``
and κ_t falls linearly from 1 to ``kappa_end`` over ``ramp_epochs``; both then stay put. Adam with ``lr``, times
0.1 from ``lr_drop_epoch`` (default: the last ~20% of the epochs).

Hyper-parameters (``ctx.hyper``): ``epochs``, ``batch_size``, ``lr``, ``train_eps``, ``warmup_epochs``,
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
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from core.certify import certified, fold_batchnorm, forward_and_ibp_loss
from core.errors import ModelError
from core.training.context import TrainContext

HELD_OUT = 500


def schedule(hyper: Mapping[str, Any], epoch: int, fraction: float) -> tuple[float, float]:
    """(ε_t, κ_t) at ``fraction`` ∈ [0, 1) of the way through 0-based ``epoch``; see the module docstring."""
    warmup = float(hyper.get("warmup_epochs", 0))
    ramp = max(float(hyper.get("ramp_epochs", 1)), 1e-9)
    progress = min(1.0, max(0.0, (epoch + fraction - warmup) / ramp))
    kappa_end = float(hyper.get("kappa_end", 0.5))
    return progress * float(hyper["train_eps"]), 1.0 - progress * (1.0 - kappa_end)


def lr_at(hyper: Mapping[str, Any], epoch: int) -> float:
    """Learning rate of 0-based ``epoch``: ``lr``, times 0.1 from ``lr_drop_epoch`` (default ⌈0.8·epochs⌉)."""
    epochs = int(hyper["epochs"])
    drop = int(hyper.get("lr_drop_epoch", math.ceil(0.8 * epochs)))
    return float(hyper["lr"]) * (0.1 if epoch >= drop else 1.0)


def train_ibp(ctx: TrainContext, model: nn.Module) -> nn.Module:
    """Train ``model`` (a certifiable ``nn.Sequential``) with IBP; returns it (last epoch's weights)."""
    hyper = ctx.hyper
    for key in ("epochs", "lr", "train_eps"):
        if key not in hyper:
            raise ModelError(f"model {ctx.entry.name!r}: the ibp recipe needs hyper-parameter {key!r}")
    epochs = int(hyper["epochs"])
    verify_eps = float(hyper.get("verify_eps", ctx.entry.eps if ctx.entry.eps is not None else 0.4))
    held = min(HELD_OUT, len(ctx.labels) // 10)
    if held < 1:
        raise ModelError(f"model {ctx.entry.name!r}: {len(ctx.labels)} training images are too few for IBP training")
    held_x, held_y = ctx.images[-held:].to(ctx.device), ctx.labels[-held:].to(ctx.device)
    ctx.images, ctx.labels = ctx.images[:-held], ctx.labels[:-held]
    if not isinstance(model, nn.Sequential):
        raise ModelError(f"model {ctx.entry.name!r}: the ibp recipe needs an nn.Sequential network")
    if hyper.get("ibp_init"):
        ibp_initialise(model)
    if hyper.get("batchnorm"):
        model = with_batchnorm(model).to(ctx.device)

    optimizer = torch.optim.Adam(model.parameters(), lr=float(hyper["lr"]))
    start_epoch, _ = ctx.load_state(model, optimizer)
    steps_per_epoch = max(1, math.ceil(len(ctx.labels) / int(hyper.get("batch_size", 100))))
    ctx.logger.info("IBP training: %d images, %d held out, verify at eps=%.3f", len(ctx.labels), held, verify_eps)
    for epoch in range(start_epoch, epochs):
        lr = lr_at(hyper, epoch)
        for group in optimizer.param_groups:
            group["lr"] = lr
        model.train()
        total_loss = robust_loss_sum = 0.0
        correct = seen = 0
        eps_t, kappa = schedule(hyper, epoch, 0.0)
        for step, (x, y) in enumerate(ctx.batches(epoch)):
            eps_t, kappa = schedule(hyper, epoch, step / steps_per_epoch)
            if eps_t > 0:
                logits, robust = forward_and_ibp_loss(model, x, y, eps_t)
                loss = kappa * F.cross_entropy(logits, y) + (1.0 - kappa) * robust
                robust_loss_sum += float(robust.detach()) * len(y)
            else:
                logits = model(x)
                loss = F.cross_entropy(logits, y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total_loss += float(loss.detach()) * len(y)
            correct += int((logits.detach().argmax(1) == y).sum())
            seen += len(y)
        clean, verified = heldout_figures(model, held_x, held_y, verify_eps)
        ctx.log_epoch(
            epoch,
            loss=total_loss / max(seen, 1),
            ibp_loss=robust_loss_sum / max(seen, 1),
            train_acc=correct / max(seen, 1),
            heldout_clean=clean,
            heldout_verified=verified,
            eps=eps_t,
            kappa=kappa,
            lr=lr,
        )
        if ctx.end_epoch(model, optimizer, epoch):
            break
    model.eval()
    return fold_batchnorm(model) if hyper.get("batchnorm") else model


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
