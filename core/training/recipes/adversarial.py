"""Standard and adversarial training recipes (Madry et al. 2018; Wong et al. 2020; Tramèr & Boneh 2019).

- ``standard``: cross-entropy on clean images, optionally moved by small random rotations and shifts.
- ``fgsm-rs``: ℓ∞ training on FGSM with a random start ("fast is better than free"), step ``alpha_factor·ε``.
- ``pgd``: PGD training (``steps`` iterations, random start) for ``entry.norm``.
- ``slide``: ℓ1 training with Sparse ℓ1 Descent (``steps``, ``sparsity`` percentile).
- ``spatial``: the worst of ``transforms`` random rotations + translations per input, then ℓ∞ FGSM-RS (or PGD
  with ``pgd_steps`` steps); the first ``augment_epochs`` use one random transform per image instead (from
  scratch, the worst-of-k adversary leaves the small network near chance).

Any recipe may start from another zoo model's weights (``init_from``, same architecture; see ``core.training.run``).

Every adversarial recipe ramps ε linearly from ``ramp_start``·ε (default 1/3, the paper's weaker first epoch;
0 for the spatial model, which otherwise collapses to chance) to ε over ``ramp_epochs`` and,
after each epoch, measures PGD-10 robust accuracy on 1,000 held-out training images (never trained on): the
best such epoch after the ramp is kept, which guards against catastrophic overfitting of FGSM training.
``train_eps`` (default: the entry's ε) trains against a larger ball than the one the model is checked and
evaluated at, as IBP training does. With ``clean_weight`` w > 0 the loss is
(1 − w)·CE(adversarial) + w·CE(clean), which trades some robustness for clean accuracy (default 0: adversarial
examples only, as Madry et al.).
"""

from __future__ import annotations

import copy
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from core import attacks
from core.budget import get_norm
from core.training.context import TrainContext

HELD_OUT = 1000
LINF = get_norm("linf")
"""FGSM-RS is an ℓ∞ attack: its random start, step and projection are ℓ∞'s."""


def train_standard(ctx: TrainContext, model: nn.Module) -> nn.Module:
    """Cross-entropy on clean images, each moved by a random rotation of up to ``augment_degrees`` and a whole-
    pixel shift of up to ``augment_shift`` (both default 0: no augmentation)."""
    degrees = float(ctx.hyper.get("augment_degrees", 0.0))
    shift = float(ctx.hyper.get("augment_shift", 0.0))
    if degrees == 0 and shift == 0:
        return _fit(ctx, model, perturb=None)

    def augment(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        return attacks.random_moves(x, max_degrees=degrees, max_shift=shift, generator=generator)

    return _fit(ctx, model, perturb=None, augment=augment)


def train_fgsm_rs(ctx: TrainContext, model: nn.Module) -> nn.Module:
    """FGSM-RS; from epoch ``pgd_from_epoch`` on (if set), PGD with ``pgd_steps`` steps, which repairs the
    catastrophic overfitting FGSM training shows late in training (held-out PGD accuracy collapsing)."""
    alpha = float(ctx.hyper.get("alpha_factor", 1.25))
    pgd_from = int(ctx.hyper.get("pgd_from_epoch", 10**9))
    pgd_steps = int(ctx.hyper.get("pgd_steps", 5))

    def perturb(x: torch.Tensor, y: torch.Tensor, eps: float, generator: torch.Generator, epoch: int) -> torch.Tensor:
        if epoch >= pgd_from:
            return attacks.pgd(model, x, y, norm="linf", eps=eps, steps=pgd_steps, generator=generator).adversarial
        return _fgsm_random_start(model, x, y, eps, alpha, generator)

    return _fit(ctx, model, perturb)


def train_pgd(ctx: TrainContext, model: nn.Module) -> nn.Module:
    norm, steps = str(ctx.entry.norm), int(ctx.hyper["steps"])
    sparsity = float(ctx.hyper.get("sparsity", 99.0))

    def perturb(x: torch.Tensor, y: torch.Tensor, eps: float, generator: torch.Generator, epoch: int) -> torch.Tensor:
        return attacks.pgd(
            model,
            x,
            y,
            norm=norm,
            eps=eps,
            steps=steps,
            sparsity=sparsity,
            generator=generator,
        ).adversarial

    return _fit(ctx, model, perturb)


def train_spatial(ctx: TrainContext, model: nn.Module) -> nn.Module:
    alpha = float(ctx.hyper.get("alpha_factor", 1.25))
    count = int(ctx.hyper.get("transforms", 10))
    augment_epochs = int(ctx.hyper.get("augment_epochs", 0))
    pgd_steps = int(ctx.hyper.get("pgd_steps", 0))

    def perturb(x: torch.Tensor, y: torch.Tensor, eps: float, generator: torch.Generator, epoch: int) -> torch.Tensor:
        if epoch < augment_epochs:  # curriculum: a random transform per image before the worst-of-k adversary
            return attacks.random_moves(x, generator=generator)
        moved = attacks.worst_transform(model, x, y, attacks.random_spatial(count, generator=generator))
        if pgd_steps > 0:
            return attacks.pgd(model, moved, y, norm="linf", eps=eps, steps=pgd_steps, generator=generator).adversarial
        return _fgsm_random_start(model, moved, y, eps, alpha, generator)

    return _fit(ctx, model, perturb)


def _fgsm_random_start(
    model: nn.Module, x: torch.Tensor, y: torch.Tensor, eps: float, alpha: float, generator: torch.Generator
) -> torch.Tensor:
    start = LINF.random_start(x, eps, generator).requires_grad_(True)
    (gradient,) = torch.autograd.grad(F.cross_entropy(attacks.input_gradient_view(model)(start), y), start)
    stepped = start.detach() + alpha * eps * LINF.steepest_ascent(gradient, start)
    return LINF.project_fast(x, stepped, eps)


Perturb = Callable[[torch.Tensor, torch.Tensor, float, torch.Generator, int], torch.Tensor]
"""(images, labels, ε, generator, epoch) -> the images the model trains on."""
Augment = Callable[[torch.Tensor, torch.Generator], torch.Tensor]


def _fit(ctx: TrainContext, model: nn.Module, perturb: Perturb | None, augment: Augment | None = None) -> nn.Module:
    hyper = ctx.hyper
    epochs = int(hyper["epochs"])
    eps_final = float(ctx.entry.eps or 0.0)  # the threat model: the held-out check attacks at this ε
    eps_train = float(hyper.get("train_eps", eps_final))
    ramp = max(1, int(hyper.get("ramp_epochs", 1)))
    ramp_start = float(hyper.get("ramp_start", 1 / 3))
    clean_weight = float(hyper.get("clean_weight", 0.0))
    check_norm = "linf" if ctx.entry.recipe in ("fgsm-rs", "spatial") else str(ctx.entry.norm)
    held_x, held_y = ctx.images[-HELD_OUT:].to(ctx.device), ctx.labels[-HELD_OUT:].to(ctx.device)
    ctx.images, ctx.labels = ctx.images[:-HELD_OUT], ctx.labels[:-HELD_OUT]

    optimizer = torch.optim.Adam(model.parameters(), lr=float(hyper["lr"]))
    start_epoch, extra = ctx.load_state(model, optimizer)
    best_score = float(extra.get("best_score", -1.0))
    best_state = copy.deepcopy(model.state_dict())
    generator = torch.Generator().manual_seed(ctx.seed)
    steps_per_epoch = -(-len(ctx.labels) // int(hyper.get("batch_size", 100)))
    for epoch in range(start_epoch, epochs):
        lr = float(hyper["lr"]) * (0.1 if epoch >= int(hyper.get("lr_drop_epoch", epochs)) else 1.0)
        for group in optimizer.param_groups:
            group["lr"] = lr
        model.train()
        correct = seen = 0
        for step, (x, y) in enumerate(ctx.batches(epoch)):
            progress = (epoch + step / steps_per_epoch) / ramp
            eps = eps_train * min(1.0, ramp_start + (1 - ramp_start) * progress)
            if augment is not None:
                x = augment(x, generator)
            inputs = perturb(x, y, eps, generator, epoch) if perturb is not None and eps_final > 0 else x
            logits = model(inputs)
            loss = F.cross_entropy(logits, y)
            if clean_weight > 0 and inputs is not x:
                loss = (1 - clean_weight) * loss + clean_weight * F.cross_entropy(model(x), y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            correct += int((logits.argmax(1) == y).sum())
            seen += len(y)
        model.eval()
        clean = _accuracy(model, held_x, held_y)
        robust = clean
        if perturb is not None and eps_final > 0:
            robust = 1.0 - float(
                attacks.pgd(
                    model,
                    held_x,
                    held_y,
                    norm=check_norm,
                    eps=eps_final,
                    steps=10,
                    generator=torch.Generator().manual_seed(0),
                )
                .success.float()
                .mean()
            )
        score = robust if perturb is not None else clean
        if epoch + 1 >= ramp and score >= best_score:
            best_score, best_state = score, copy.deepcopy(model.state_dict())
        ctx.log_epoch(epoch, train_acc=correct / max(seen, 1), heldout_clean=clean, heldout_pgd10=robust, lr=lr)
        if ctx.end_epoch(model, optimizer, epoch, best_score=best_score):
            break
    if best_score >= 0:
        model.load_state_dict(best_state)
        ctx.logger.info("kept the epoch with the best held-out score %.4f", best_score)
    return model


def _accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    with torch.no_grad():
        return float((model(x).argmax(1) == y).float().mean())
