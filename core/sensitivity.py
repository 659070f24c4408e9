"""The sensitivity check: can each model's answer on an image be flipped within a budget around it?

This is the other failure mode beside invariance (the paper's tradeoff): a *sensitivity* example changes the
model's label while a person would keep theirs. For every model the check runs our PGD (ℓ∞, ℓ2) or SLIDE (ℓ1),
both from :func:`core.attacks.pgd`, untargeted against the label the model gives the image now, inside the ball
{x' : dist(image, x') <= ε} ∩ [0, 1] around that image. Every returned point is projected by ``core.budget``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Final

import numpy as np
import torch
from torch import nn

from core.attacks import ATTACK_NORMS, pgd
from core.budget import NORMS, get_norm
from core.errors import BudgetError, InvarianceError

STEPS: Final = 40
RESTARTS: Final = 2
ATTACK_NAMES: Final = {name: norm.attack_label for name, norm in NORMS.items() if norm.attack_label is not None}
"""The attack the check runs per norm, as the editor names it ("PGD ℓ∞", "SLIDE ℓ1", ...)."""


class SensitivityCancelledError(InvarianceError):
    """The caller's ``cancelled`` hook stopped the check."""


@dataclass(frozen=True)
class Flip:
    """The check's outcome for one model on one image.

    ``label``: the model's answer on the image; ``flipped``: the attack found a point in budget with another
    answer, ``to_label`` (else ``to_label == label``); ``adversarial``: that point, float32 (28, 28) in [0, 1].
    """

    label: int
    flipped: bool
    to_label: int
    adversarial: np.ndarray


def check(
    models: Mapping[str, nn.Module],
    image: np.ndarray,
    norm: str,
    eps: float,
    *,
    steps: int = STEPS,
    restarts: int = RESTARTS,
    seed: int = 0,
    device: torch.device | str = "cpu",
    cancelled: Callable[[], bool] = lambda: False,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Flip]:
    """Attack each of ``models`` on ``image`` (float (28, 28) in [0, 1]) within ``norm`` ε; name -> :class:`Flip`.

    Raises :class:`BudgetError` for ℓ0 (no gradient attack here) or a bad image/ε, and
    :class:`SensitivityCancelledError` when ``cancelled()`` turns True between models.
    """
    if norm not in ATTACK_NORMS:
        raise BudgetError(f"the sensitivity check attacks {', '.join(ATTACK_NORMS)} budgets, not {norm!r}")
    array = np.asarray(image, dtype=np.float32)
    if array.shape != (28, 28) or not np.isfinite(array).all() or array.min() < 0 or array.max() > 1:
        raise BudgetError(f"the sensitivity check needs a finite (28, 28) image in [0, 1], got shape {array.shape}")
    eps = get_norm(norm).validate_eps(eps, where="the sensitivity check's ε")
    x = torch.from_numpy(np.ascontiguousarray(array)).to(device)[None, None]
    results: dict[str, Flip] = {}
    for done, (name, model) in enumerate(models.items()):
        if cancelled():
            raise SensitivityCancelledError("sensitivity check cancelled")
        with torch.no_grad():
            label = model(x).argmax(1)
        generator = torch.Generator(device="cpu").manual_seed(seed)
        if eps == 0:
            adversarial, success = x, torch.zeros(1, dtype=torch.bool)
        else:
            attack = pgd(
                model, x, label, norm=norm, eps=float(eps), steps=steps, restarts=restarts,
                generator=generator, early_stop=True,
            )  # fmt: skip
            adversarial, success = attack.adversarial, attack.success
        with torch.no_grad():
            to_label = int(model(adversarial).argmax(1)[0])
        results[name] = Flip(
            label=int(label[0]),
            flipped=bool(success[0]) and to_label != int(label[0]),
            to_label=to_label,
            adversarial=adversarial[0, 0].detach().cpu().numpy().astype(np.float32),
        )
        if progress is not None:
            progress(done + 1, len(models))
    return results
