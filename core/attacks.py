"""Sensitivity attacks, shared by adversarial training and evaluation, all through one base class.

:class:`Attack` is the base (foolbox's model): a subclass only proposes candidates; the base projects every
candidate onto the budget with :func:`core.budget.project` (the exact projection: an attack's own steps are never
trusted to respect it) and re-classifies the projected images once, which gives the per-example success flag
(the model's prediction differs from the label). Every attack of the product goes through it:

- ``pgd``: projected gradient descent for ``"linf"``, ``"l2"`` and ``"l1"`` (for ℓ1 the step is the Sparse ℓ1
  Descent of Tramèr & Boneh 2019: move only the top ``100 - sparsity`` percent of gradient coordinates);
- ``spatial``: the worst of a set of rotations + translations, optionally followed by ℓ∞ PGD.

- the reference AutoAttack's components (``core.zoo.autoattack``).

Images are (N, 1, 28, 28) float tensors in [0, 1]. Inside PGD every step is also projected with the norm's
:meth:`core.budget.Norm.project_fast`. Each norm's step direction, random start and step sizes live on its
:class:`core.budget.Norm`.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import TypedDict, Unpack

import torch
import torch.nn.functional as F
from torch import nn

from core.budget import NORMS, Norm, get_norm, project
from core.errors import BudgetError

ATTACK_NORMS: tuple[str, ...] = tuple(name for name, norm in NORMS.items() if norm.attack_label is not None)
"""The norms with a gradient attack (every norm but ℓ0)."""


@dataclass(frozen=True)
class AttackResult:
    """``adversarial``: (N, 1, 28, 28) in budget; ``success``: (N,) bool, prediction != label."""

    adversarial: torch.Tensor
    success: torch.Tensor


@dataclass(frozen=True)
class Proposal:
    """What an attack found: ``candidate`` (N, 1, 28, 28), to be projected onto the ball around ``center``
    (the original images, or for the spatial attack the transformed ones)."""

    candidate: torch.Tensor
    center: torch.Tensor


class Attack(ABC):
    """The base of every attack: budget enforced and success re-checked here, once, for every attack.

    Hyperparameters are keyword-only constructor arguments; data goes to ``__call__(model, images, labels)``,
    which returns an :class:`AttackResult` whose ``adversarial`` is within ``eps`` of the center in ``norm``
    (and in [0, 1]) and whose ``success`` is the re-classification of exactly those images.
    """

    def __init__(self, *, norm: str, eps: float) -> None:
        chosen = get_norm(norm)
        if not math.isfinite(eps) or eps < 0:
            raise BudgetError(f"ε must be a finite number >= 0, got {eps}")
        self.norm = chosen.name
        self.eps = float(eps)

    @abstractmethod
    def propose(self, model: nn.Module, images: torch.Tensor, labels: torch.Tensor) -> torch.Tensor | Proposal:
        """Candidates for ``images`` (a tensor: centered on ``images``), not yet trusted to be in budget."""

    def __call__(self, model: nn.Module, images: torch.Tensor, labels: torch.Tensor) -> AttackResult:
        proposal = self.propose(model, images, labels)
        if isinstance(proposal, torch.Tensor):
            proposal = Proposal(proposal, images)
        center = proposal.center.detach().clamp(0.0, 1.0)
        adversarial = project(center, proposal.candidate.detach(), self.norm, self.eps).to(images.dtype)
        with torch.no_grad():
            success = model(adversarial).argmax(1) != labels
        return AttackResult(adversarial, success)


class _UnfoldConv2d(nn.Module):
    """A one-input-channel Conv2d computed as unfold + matmul, sharing the original layer's parameters.

    oneDNN computes the *input* gradient of such a layer 5-7x slower than its forward pass, and every attack step
    needs exactly that gradient: through this view a gradient step on the zoo's CNNs takes about 20% less time.
    """

    def __init__(self, conv: nn.Conv2d) -> None:
        super().__init__()
        if isinstance(conv.padding, str):
            raise ValueError("_UnfoldConv2d needs numeric padding")
        self.conv = conv
        self.padding: tuple[int, ...] = tuple(conv.padding)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        conv = self.conv
        columns = F.unfold(x, conv.kernel_size, dilation=conv.dilation, padding=self.padding, stride=conv.stride)
        out = torch.matmul(conv.weight.flatten(1), columns)
        if conv.bias is not None:
            out = out + conv.bias.view(1, -1, 1)
        height, width = (
            (size + 2 * pad - dilation * (kernel - 1) - 1) // stride + 1
            for size, pad, dilation, kernel, stride in zip(
                x.shape[-2:], self.padding, conv.dilation, conv.kernel_size, conv.stride, strict=True
            )
        )
        return out.view(len(x), conv.out_channels, height, width)


def input_gradient_view(model: nn.Module) -> nn.Module:
    """``model`` with a faster input gradient: an ``nn.Sequential`` whose first layer is a plain one-channel
    Conv2d gets it as :class:`_UnfoldConv2d` (same parameters, same function); any other model is returned as is.
    """
    if not isinstance(model, nn.Sequential) or len(model) == 0:
        return model
    first, *rest = list(model)
    if (
        type(first) is not nn.Conv2d
        or first.in_channels != 1
        or first.groups != 1
        or first.padding_mode != "zeros"
        or isinstance(first.padding, str)
    ):
        return model
    return nn.Sequential(_UnfoldConv2d(first), *rest)


class PGD(Attack):
    """Untargeted PGD maximising cross-entropy; restarts re-attack only the examples not yet broken.

    For each example the proposal is the first successful point found, else the last restart's.
    ``early_stop``: within a restart, an example leaves the batch at the first iterate the model misclassifies
    (that iterate is its result). Evaluation uses it: it counts a success at any iterate, not only the last,
    and saves the work on broken examples. Training leaves it off, so every example gets the full attack.
    """

    def __init__(
        self,
        *,
        norm: str,
        eps: float,
        steps: int,
        step_size: float | None = None,
        restarts: int = 1,
        random_start: bool = True,
        sparsity: float = 99.0,
        generator: torch.Generator | None = None,
        early_stop: bool = False,
    ) -> None:
        if norm not in ATTACK_NORMS:
            raise BudgetError(f"PGD supports {', '.join(ATTACK_NORMS)}, not {norm!r}")
        super().__init__(norm=norm, eps=eps)
        self.steps = steps
        self.step_size = step_size
        self.restarts = restarts
        self.random_start = random_start
        self.sparsity = sparsity
        self.generator = generator
        self.early_stop = early_stop

    def propose(self, model: nn.Module, images: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        chosen = get_norm(self.norm)
        steps = self.steps
        schedule = chosen.step_sizes(self.eps, steps) if self.step_size is None else [self.step_size] * steps
        model = input_gradient_view(model)
        best = images.detach().clone()
        success = torch.zeros(len(images), dtype=torch.bool, device=images.device)
        for restart in range(max(1, self.restarts)):
            todo = (~success).nonzero().squeeze(1)
            if len(todo) == 0:
                break
            start = self.random_start and (restart > 0 or chosen.random_first_start)
            candidate = _pgd_once(
                model,
                images[todo],
                labels[todo],
                chosen,
                self.eps,
                schedule,
                start,
                self.sparsity,
                self.generator,
                self.early_stop,
            )
            with torch.no_grad():
                fooled = model(candidate).argmax(1) != labels[todo]
            best[todo] = candidate
            success[todo] = fooled
        return best


class PGDSettings(TypedDict, total=False):
    """The optional keywords of :class:`PGD` (defaults there)."""

    step_size: float | None
    restarts: int
    random_start: bool
    sparsity: float
    generator: torch.Generator | None
    early_stop: bool


def pgd(
    model: nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    *,
    norm: str,
    eps: float,
    steps: int,
    **settings: Unpack[PGDSettings],
) -> AttackResult:
    """:class:`PGD` with these settings on one batch (see the class)."""
    return PGD(norm=norm, eps=eps, steps=steps, **settings)(model, images, labels)


def _pgd_once(
    model: nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    norm: Norm,
    eps: float,
    schedule: list[float],
    random_start: bool,
    sparsity: float,
    generator: torch.Generator | None,
    early_stop: bool = False,
) -> torch.Tensor:
    start = norm.random_start(images, eps, generator) if random_start else images.clone()
    result = start.detach().clone()
    alive = torch.arange(len(images), device=images.device)  # examples still attacked (all without early_stop)
    adversarial, originals, targets = start, images, labels
    for step in schedule:
        adversarial.requires_grad_(True)
        logits = model(adversarial)
        keep = None
        if early_stop:
            fooled = logits.detach().argmax(1) != targets
            if bool(fooled.any()):
                result[alive[fooled]] = adversarial.detach()[fooled]
                keep = ~fooled
                alive, originals, targets, logits = alive[keep], originals[keep], targets[keep], logits[keep]
                if len(alive) == 0:
                    return result
        (gradient,) = torch.autograd.grad(F.cross_entropy(logits, targets), adversarial)
        with torch.no_grad():
            current = adversarial.detach()
            if keep is not None:  # the gradient was taken through the whole batch; step only the kept examples
                current, gradient = current[keep], gradient[keep]
            adversarial = current + step * norm.steepest_ascent(gradient, current, sparsity=sparsity)
            adversarial = norm.project_fast(originals, adversarial, eps)
    result[alive] = adversarial.detach()
    return result


def affine_transform(
    images: torch.Tensor, degrees: torch.Tensor, shift_x: torch.Tensor, shift_y: torch.Tensor
) -> torch.Tensor:
    """Rotate by ``degrees`` and translate by whole/fractional pixels; (N,) parameters, zeros padding."""
    theta = torch.deg2rad(degrees.to(images.dtype))
    cos, sin = torch.cos(theta), torch.sin(theta)
    size = images.shape[-1]
    matrix = torch.stack(
        [
            torch.stack([cos, -sin, -2 * shift_x.to(images.dtype) / size], 1),
            torch.stack([sin, cos, -2 * shift_y.to(images.dtype) / size], 1),
        ],
        1,
    )
    grid = F.affine_grid(matrix, list(images.shape), align_corners=False)
    return F.grid_sample(images, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def spatial_grid(max_degrees: float = 30.0, max_shift: int = 3, rotations: int = 7, shifts: int = 7) -> torch.Tensor:
    """(T, 3) grid of (degrees, shift_x, shift_y): Engstrom et al.'s MNIST ranges by default."""
    angles = torch.linspace(-max_degrees, max_degrees, rotations)
    offsets = torch.linspace(-max_shift, max_shift, shifts)
    return torch.cartesian_prod(angles, offsets, offsets)


def random_spatial(
    count: int, max_degrees: float = 30.0, max_shift: float = 3.0, generator: torch.Generator | None = None
) -> torch.Tensor:
    """(count, 3) random (degrees, shift_x, shift_y), integer shifts."""
    uniform = torch.rand(count, 3, generator=generator)
    degrees = (2 * uniform[:, 0] - 1) * max_degrees
    shifts = torch.round((2 * uniform[:, 1:] - 1) * max_shift)
    return torch.cat([degrees[:, None], shifts], 1)


def random_moves(
    images: torch.Tensor,
    max_degrees: float = 30.0,
    max_shift: float = 3.0,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Each image rotated and shifted by its own draw of :func:`random_spatial` (augmentation, curricula)."""
    params = random_spatial(len(images), max_degrees, max_shift, generator).to(images.device)
    return affine_transform(images, *params.unbind(1))


def worst_transform(
    model: nn.Module, images: torch.Tensor, labels: torch.Tensor, transforms: torch.Tensor
) -> torch.Tensor:
    """For each image, the transform of ``transforms`` (T, 3) with the highest loss applied to it."""
    best_loss = torch.full((len(images),), -math.inf, device=images.device)
    best = images.clone()
    with torch.no_grad():
        for degrees, shift_x, shift_y in transforms.tolist():
            params = [torch.full((len(images),), value, device=images.device) for value in (degrees, shift_x, shift_y)]
            moved = affine_transform(images, *params)
            loss = F.cross_entropy(model(moved), labels, reduction="none")
            better = loss > best_loss
            best[better] = moved[better]
            best_loss = torch.where(better, loss, best_loss)
    return best


class Spatial(Attack):
    """The worst transform of ``transforms`` (T, 3), then (if ``eps`` > 0 and ``steps`` > 0) ℓ∞ PGD within ε of
    the transformed image: the budget is the ℓ∞ ball around the transformed image."""

    def __init__(
        self,
        *,
        transforms: torch.Tensor,
        eps: float = 0.0,
        steps: int = 0,
        restarts: int = 1,
        generator: torch.Generator | None = None,
        early_stop: bool = False,
    ) -> None:
        super().__init__(norm="linf", eps=eps)
        self.transforms = transforms
        self.steps = steps
        self.restarts = restarts
        self.generator = generator
        self.early_stop = early_stop

    def propose(self, model: nn.Module, images: torch.Tensor, labels: torch.Tensor) -> Proposal:
        moved = worst_transform(model, images, labels, self.transforms)
        if self.eps > 0 and self.steps > 0:
            attack = PGD(
                norm="linf",
                eps=self.eps,
                steps=self.steps,
                restarts=self.restarts,
                generator=self.generator,
                early_stop=self.early_stop,
            )
            return Proposal(attack.propose(model, moved, labels), moved)
        return Proposal(moved, moved)


class SpatialSettings(TypedDict, total=False):
    """The optional keywords of :class:`Spatial` (defaults there)."""

    eps: float
    steps: int
    restarts: int
    generator: torch.Generator | None
    early_stop: bool


def spatial(
    model: nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    *,
    transforms: torch.Tensor,
    **settings: Unpack[SpatialSettings],
) -> AttackResult:
    """:class:`Spatial` with these settings on one batch (see the class)."""
    return Spatial(transforms=transforms, **settings)(model, images, labels)
