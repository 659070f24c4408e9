"""Robust accuracy under AutoAttack (Croce & Hein 2020), the standard figure of published MNIST tables.

We do not implement AutoAttack: ``torchattacks`` (3.5, maintained, pure Python on top of torch, no torch pin
of its own) provides the *standard* version, APGD-CE → APGD-T → FAB-T → Square, each run only on the images
still classified correctly. Its gradient attacks take 10 steps (torchattacks' defaults; the reference
implementation, fra31/auto-attack, takes 100), so a figure here is an upper bound that a longer run could only
lower; its Square attack takes the reference's 5,000 queries. Each result is projected onto the budget here
(the attack is not trusted to stay in the ball), and every image is attacked once with a fixed seed, so a
figure is reproducible.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Final

import torch
from torch import nn

from core.budget import project
from core.data import load_mnist
from core.errors import ModelError
from core.images import to_float

AUTOATTACK_N: Final = 1_000
FIRST_N: Final = 500
"""AutoAttack figures also record their value on the first FIRST_N images: the cards' PGD figures use those."""
_TORCHATTACKS_NORMS: Final = {"linf": "Linf", "l2": "L2"}


def supports(norm: str | None) -> bool:
    """Whether AutoAttack (standard) exists for this threat model: ℓ∞ and ℓ2 only."""
    return norm in _TORCHATTACKS_NORMS


def attack_name(norm: str, eps: float) -> str:
    import torchattacks

    return (
        f"AutoAttack standard (torchattacks {torchattacks.__version__}: APGD-CE, APGD-T 9 targets, FAB-T 9 targets, "
        f"10 steps each, then Square 5000 queries), {norm} ε={eps}, seed 0"
    )


def robust_correct(
    model: nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    *,
    norm: str,
    eps: float,
    batch_size: int = 250,
    seed: int = 0,
) -> torch.Tensor:
    """Bool (N,): is each image still classified correctly after AutoAttack (standard) at (``norm``, ``eps``).

    ``images`` (N, 1, 28, 28) float in [0, 1] on the model's device, ``labels`` (N,) int64.
    """
    import torchattacks

    if not supports(norm):
        raise ModelError(f"AutoAttack has no {norm} version (only linf and l2)")
    attack = torchattacks.AutoAttack(
        model, norm=_TORCHATTACKS_NORMS[norm], eps=eps, version="standard", n_classes=10, seed=seed
    )
    parts = []
    for start in range(0, len(labels), batch_size):
        x = images[start : start + batch_size]
        y = labels[start : start + batch_size]
        adversarial = project(x, attack(x, y), norm, eps)  # the budget is enforced here, not trusted
        with torch.no_grad():
            parts.append((model(adversarial).argmax(1) == y).cpu())
    return torch.cat(parts)


@dataclass(frozen=True)
class AutoAttackFigure:
    norm: str
    eps: float
    n: int
    value: float
    value_first: float | None
    seconds: float

    @property
    def key(self) -> str:
        return figure_key(self.norm, self.eps)


def figure_key(norm: str, eps: float) -> str:
    return f"autoattack_{norm}_{eps}"


def measure(model: nn.Module, norm: str, eps: float, n: int, device: torch.device) -> AutoAttackFigure:
    """AutoAttack robust accuracy of ``model`` on the first ``n`` MNIST test images."""
    images_u8, labels_np = load_mnist("test")
    images = torch.from_numpy(to_float(images_u8[:n])).unsqueeze(1).to(device)
    labels = torch.from_numpy(labels_np[:n]).long().to(device)
    started = time.monotonic()
    correct = robust_correct(model, images, labels, norm=norm, eps=eps)
    seconds = time.monotonic() - started
    first = float(correct[:FIRST_N].float().mean()) if n > FIRST_N else None
    return AutoAttackFigure(norm, eps, n, float(correct.float().mean()), first, seconds)


def card_entry(figure: AutoAttackFigure, command: str) -> dict[str, Any]:
    """The card's record of an AutoAttack figure (same fields as the other figures)."""
    entry: dict[str, Any] = {
        "value": round(figure.value, 4),
        "n": figure.n,
        "attack": attack_name(figure.norm, figure.eps),
        "seconds": round(figure.seconds, 1),
        "command": command,
    }
    if figure.value_first is not None:
        entry[f"value_first_{FIRST_N}"] = round(figure.value_first, 4)
    return entry
