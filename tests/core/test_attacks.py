"""Every attack goes through the one base: results within budget, success flags equal to a re-classification."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch
from torch import nn

from core.attacks import PGD, Attack, AttackResult, Spatial, spatial_grid
from core.budget import within_budget
from core.zoo.autoattack import ReferenceAutoAttack


def linear_model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Flatten(), nn.Linear(784, 10)).eval().requires_grad_(False)


def conv_model() -> nn.Module:
    torch.manual_seed(1)
    return (
        nn.Sequential(nn.Conv2d(1, 4, 5, stride=2), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 12 * 12, 10))
        .eval()
        .requires_grad_(False)
    )


class Reckless(Attack):
    """An attack that ignores its budget: noise ten times ε away and outside [0, 1]. The base must project it."""

    def propose(self, model: nn.Module, images: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        generator = torch.Generator().manual_seed(0)
        return images + 10 * self.eps * torch.randn(images.shape, generator=generator) + 0.5


MODELS: dict[str, Callable[[], nn.Module]] = {"linear": linear_model, "conv": conv_model}
ATTACKS: dict[str, Callable[[], Attack]] = {
    "pgd-linf": lambda: PGD(norm="linf", eps=0.1, steps=10, generator=torch.Generator().manual_seed(0)),
    "pgd-l2": lambda: PGD(norm="l2", eps=1.5, steps=10, generator=torch.Generator().manual_seed(0)),
    "slide-l1": lambda: PGD(norm="l1", eps=8.0, steps=10, restarts=2, generator=torch.Generator().manual_seed(0)),
    "pgd-linf-early-stop": lambda: PGD(norm="linf", eps=0.2, steps=10, early_stop=True),
    "reckless-linf": lambda: Reckless(norm="linf", eps=0.1),
    "reckless-l2": lambda: Reckless(norm="l2", eps=1.0),
    "reckless-l1": lambda: Reckless(norm="l1", eps=5.0),
    "reckless-l0": lambda: Reckless(norm="l0", eps=20),
    "autoattack-linf": lambda: ReferenceAutoAttack(norm="linf", eps=0.5),
    "autoattack-l2": lambda: ReferenceAutoAttack(norm="l2", eps=8.0),
    "autoattack-l1": lambda: ReferenceAutoAttack(norm="l1", eps=60.0),
}


def digits() -> torch.Tensor:
    generator = torch.Generator().manual_seed(2)
    return (torch.rand(6, 1, 28, 28, generator=generator) > 0.7).float() * 0.9


@pytest.mark.parametrize("model_name", MODELS)
@pytest.mark.parametrize("attack_name", ATTACKS)
def test_attack_results_are_in_budget_and_success_is_the_reclassification(model_name: str, attack_name: str) -> None:
    model, attack = MODELS[model_name](), ATTACKS[attack_name]()
    images = digits()
    labels = model(images).argmax(1)  # every image starts classified "correctly"
    result = attack(model, images, labels)
    assert isinstance(result, AttackResult)
    assert result.adversarial.shape == images.shape and result.adversarial.dtype == images.dtype
    assert within_budget(images, result.adversarial, attack.norm, attack.eps)
    assert torch.equal(result.success, model(result.adversarial).argmax(1) != labels)
    if attack_name.startswith(("autoattack", "pgd-linf-early")):
        assert bool(result.success.all()), "a large budget breaks every image of a stand-in model"


def test_spatial_result_is_in_the_linf_ball_of_the_transformed_image_and_rechecked() -> None:
    model, images = conv_model(), digits()
    labels = model(images).argmax(1)
    attack = Spatial(transforms=spatial_grid(rotations=3, shifts=3), eps=0.1, steps=5)
    result = attack(model, images, labels)
    assert bool(((result.adversarial >= 0) & (result.adversarial <= 1)).all())
    assert torch.equal(result.success, model(result.adversarial).argmax(1) != labels)
    without_pgd = Spatial(transforms=spatial_grid(rotations=3, shifts=3))(model, images, labels)
    assert float((result.adversarial - without_pgd.adversarial).abs().max()) <= 0.1 + 1e-6


def test_a_budget_is_validated_once_in_the_base() -> None:
    with pytest.raises(Exception, match="finite"):
        Reckless(norm="linf", eps=float("nan"))
    with pytest.raises(Exception, match="unknown norm"):
        Reckless(norm="l3", eps=1.0)
    with pytest.raises(Exception, match="PGD supports"):
        PGD(norm="l0", eps=3, steps=1)
