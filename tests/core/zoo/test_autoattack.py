"""AutoAttack (standard, torchattacks) through core.zoo.autoattack: checked against figures we can reproduce."""

from __future__ import annotations

import pytest
import torch

from core import attacks
from core.zoo import autoattack, load
from tests.fixtures_user_models import mnist_test_digits

CPU = torch.device("cpu")


def test_autoattack_breaks_the_undefended_model_at_linf_0_3() -> None:
    figure = autoattack.measure(load("undefended", CPU), "linf", 0.3, 100, CPU)
    assert figure.value == 0.0 and figure.n == 100 and figure.key == "autoattack_linf_0.3"


@pytest.mark.slow
def test_autoattack_is_at_least_as_strong_as_our_pgd_and_stays_in_budget() -> None:
    model = load("linf-pgd-0.1", CPU)
    x, y = mnist_test_digits(40)
    robust = autoattack.robust_correct(model, x, y, norm="linf", eps=0.1)
    ours = ~attacks.pgd(model, x, y, norm="linf", eps=0.1, steps=100, restarts=1,
                        generator=torch.Generator().manual_seed(0), early_stop=True).success  # fmt: skip
    assert int(robust.sum()) <= int(ours.sum()) + 1  # one image of noise out of 40
    assert int(robust.sum()) >= 30  # the model is robust at its own ε: AutoAttack does not break everything
