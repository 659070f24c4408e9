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
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from core import attacks
from core.budget import get_norm
from core.training.context import TrainContext
from core.training.hyperparameters import Hyperparameters, setting
from core.training.loop import EpochResult, step_decay

HELD_OUT = 1000
LINF = get_norm("linf")
"""FGSM-RS is an ℓ∞ attack: its random start, step and projection are ℓ∞'s."""


@dataclass(frozen=True, kw_only=True)
class FitHyperparameters(Hyperparameters):
    """What every recipe of this module takes (see the module docstring): ``epochs`` and ``lr`` (Adam) are
    required; ``lr_drop_epoch`` (× 0.1 from that 0-based epoch on; None: never), ``train_eps`` (None: the entry's
    ε), the ε ramp (``ramp_epochs``, ``ramp_start``) and ``clean_weight``."""

    epochs: int = setting(minimum=0)
    lr: float = setting(above=0)
    lr_drop_epoch: int | None = setting(None, minimum=0)
    train_eps: float | None = setting(None, minimum=0)
    ramp_epochs: int = setting(1, minimum=0)
    ramp_start: float = setting(1 / 3, minimum=0, maximum=1)
    clean_weight: float = setting(0.0, minimum=0, maximum=1)


@dataclass(frozen=True, kw_only=True)
class StandardHyperparameters(FitHyperparameters):
    """``standard``: a random rotation of up to ``augment_degrees`` and a shift of up to ``augment_shift`` pixels
    per image (0: no augmentation)."""

    augment_degrees: float = setting(0.0, minimum=0)
    augment_shift: float = setting(0.0, minimum=0)


@dataclass(frozen=True, kw_only=True)
class FgsmHyperparameters(FitHyperparameters):
    """``fgsm-rs``: FGSM step ``alpha_factor``·ε; from 0-based epoch ``pgd_from_epoch`` on (None: never), PGD with
    ``pgd_steps`` steps."""

    alpha_factor: float = setting(1.25, above=0)
    pgd_from_epoch: int | None = setting(None, minimum=0)
    pgd_steps: int = setting(5, minimum=1)


@dataclass(frozen=True, kw_only=True)
class PgdHyperparameters(FitHyperparameters):
    """``pgd`` and ``slide``: ``steps`` attack iterations (required); SLIDE's ``sparsity`` percentile (ℓ1 only)."""

    steps: int = setting(minimum=1)
    sparsity: float = setting(99.0, minimum=0, maximum=100)


@dataclass(frozen=True, kw_only=True)
class SpatialHyperparameters(FitHyperparameters):
    """``spatial``: the worst of ``transforms`` random moves, then FGSM-RS (step ``alpha_factor``·ε) or, with
    ``pgd_steps`` > 0, PGD; the first ``augment_epochs`` use one random move per image instead."""

    alpha_factor: float = setting(1.25, above=0)
    transforms: int = setting(10, minimum=1)
    augment_epochs: int = setting(0, minimum=0)
    pgd_steps: int = setting(0, minimum=0)


def train_standard(ctx: TrainContext, model: nn.Module) -> nn.Module:
    """Cross-entropy on clean images, each moved by a random rotation of up to ``augment_degrees`` and a whole-
    pixel shift of up to ``augment_shift`` (both default 0: no augmentation)."""
    hyper = ctx.settings(StandardHyperparameters)
    degrees, shift = hyper.augment_degrees, hyper.augment_shift
    if degrees == 0 and shift == 0:
        return _fit(ctx, hyper, model, perturb=None)

    def augment(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        return attacks.random_moves(x, max_degrees=degrees, max_shift=shift, generator=generator)

    return _fit(ctx, hyper, model, perturb=None, augment=augment)


def train_fgsm_rs(ctx: TrainContext, model: nn.Module) -> nn.Module:
    """FGSM-RS; from epoch ``pgd_from_epoch`` on (if set), PGD with ``pgd_steps`` steps, which repairs the
    catastrophic overfitting FGSM training shows late in training (held-out PGD accuracy collapsing)."""
    hyper = ctx.settings(FgsmHyperparameters)
    pgd_from = hyper.pgd_from_epoch

    def perturb(x: torch.Tensor, y: torch.Tensor, eps: float, generator: torch.Generator, epoch: int) -> torch.Tensor:
        if pgd_from is not None and epoch >= pgd_from:
            return attacks.pgd(
                model, x, y, norm="linf", eps=eps, steps=hyper.pgd_steps, generator=generator
            ).adversarial
        return _fgsm_random_start(model, x, y, eps, hyper.alpha_factor, generator)

    return _fit(ctx, hyper, model, perturb)


def train_pgd(ctx: TrainContext, model: nn.Module) -> nn.Module:
    hyper = ctx.settings(PgdHyperparameters)
    norm = str(ctx.entry.norm)

    def perturb(x: torch.Tensor, y: torch.Tensor, eps: float, generator: torch.Generator, epoch: int) -> torch.Tensor:
        return attacks.pgd(
            model,
            x,
            y,
            norm=norm,
            eps=eps,
            steps=hyper.steps,
            sparsity=hyper.sparsity,
            generator=generator,
        ).adversarial

    return _fit(ctx, hyper, model, perturb)


def train_spatial(ctx: TrainContext, model: nn.Module) -> nn.Module:
    hyper = ctx.settings(SpatialHyperparameters)

    def perturb(x: torch.Tensor, y: torch.Tensor, eps: float, generator: torch.Generator, epoch: int) -> torch.Tensor:
        if epoch < hyper.augment_epochs:  # curriculum: a random transform per image before the worst-of-k adversary
            return attacks.random_moves(x, generator=generator)
        moved = attacks.worst_transform(model, x, y, attacks.random_spatial(hyper.transforms, generator=generator))
        if hyper.pgd_steps > 0:
            return attacks.pgd(
                model, moved, y, norm="linf", eps=eps, steps=hyper.pgd_steps, generator=generator
            ).adversarial
        return _fgsm_random_start(model, moved, y, eps, hyper.alpha_factor, generator)

    return _fit(ctx, hyper, model, perturb)


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


def _fit(
    ctx: TrainContext,
    hyper: FitHyperparameters,
    model: nn.Module,
    perturb: Perturb | None,
    augment: Augment | None = None,
) -> nn.Module:
    epochs = hyper.epochs
    eps_final = float(ctx.entry.eps or 0.0)  # the threat model: the held-out check attacks at this ε
    eps_train = hyper.train_eps if hyper.train_eps is not None else eps_final
    ramp = max(1, hyper.ramp_epochs)
    ramp_start, clean_weight = hyper.ramp_start, hyper.clean_weight
    check_norm = "linf" if ctx.entry.recipe in ("fgsm-rs", "spatial") else str(ctx.entry.norm)
    held_x, held_y = ctx.images[-HELD_OUT:].to(ctx.device), ctx.labels[-HELD_OUT:].to(ctx.device)
    ctx.images, ctx.labels = ctx.images[:-HELD_OUT], ctx.labels[:-HELD_OUT]

    optimizer = torch.optim.Adam(model.parameters(), lr=hyper.lr)
    start_epoch, extra = ctx.load_state(model, optimizer)
    best_score = float(extra.get("best_score", -1.0))
    best_state = copy.deepcopy(model.state_dict())
    generator = torch.Generator().manual_seed(ctx.seed)
    steps_per_epoch = -(-len(ctx.labels) // hyper.batch_size)
    attacked = perturb is not None and eps_final > 0

    def step(x: torch.Tensor, y: torch.Tensor, epoch: int, index: int) -> tuple[torch.Tensor, dict[str, float]]:
        progress = (epoch + index / steps_per_epoch) / ramp
        eps = eps_train * min(1.0, ramp_start + (1 - ramp_start) * progress)
        if augment is not None:
            x = augment(x, generator)
        inputs = perturb(x, y, eps, generator, epoch) if perturb is not None and eps_final > 0 else x
        logits = model(inputs)
        loss = F.cross_entropy(logits, y)
        if clean_weight > 0 and inputs is not x:
            loss = (1 - clean_weight) * loss + clean_weight * F.cross_entropy(model(x), y)
        return loss, {"correct": float((logits.argmax(1) == y).sum())}

    def figures(result: EpochResult) -> dict[str, float]:
        nonlocal best_score, best_state
        clean = _accuracy(model, held_x, held_y)
        robust = _heldout_pgd10(model, held_x, held_y, check_norm, eps_final) if attacked else clean
        score = robust if perturb is not None else clean
        if result.epoch + 1 >= ramp and score >= best_score:
            best_score, best_state = score, copy.deepcopy(model.state_dict())
        return {"train_acc": result.mean("correct"), "heldout_clean": clean, "heldout_pgd10": robust, "lr": result.lr}

    def lr_at(epoch: int) -> float:
        return step_decay(hyper.lr, epoch, hyper.lr_drop_epoch)

    def saved() -> dict[str, float]:  # kept with the resumable state, so a resumed run keeps the best epoch
        return {"best_score": best_score}

    ctx.run_epochs(model, optimizer, range(start_epoch, epochs), step, lr_at=lr_at, figures=figures, saved=saved)
    if best_score >= 0:
        model.load_state_dict(best_state)
        ctx.logger.info("kept the epoch with the best held-out score %.4f", best_score)
    return model


def _heldout_pgd10(model: nn.Module, x: torch.Tensor, y: torch.Tensor, norm: str, eps: float) -> float:
    """Accuracy under PGD-10 (seed 0) at the threat model: the per-epoch held-out check."""
    generator = torch.Generator().manual_seed(0)
    return 1.0 - float(
        attacks.pgd(model, x, y, norm=norm, eps=eps, steps=10, generator=generator).success.float().mean()
    )


def _accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    with torch.no_grad():
        return float((model(x).argmax(1) == y).float().mean())
