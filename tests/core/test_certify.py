"""Interval bound propagation (core.certify) and the IBP training recipe (core.training.recipes.ibp)."""

from __future__ import annotations

import copy
import dataclasses
import json
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from torch import nn

from core.certify import (
    _crown_margins,
    _prepared_layers,
    certified,
    certified_radius,
    fold_batchnorm,
    forward_and_ibp_loss,
    ibp_loss,
    input_box,
    interval_bounds,
    margin_lower_bounds,
)
from core.data import load_mnist
from core.errors import ModelError
from core.images import to_float
from core.training.recipes.ibp import ibp_initialise, lr_at, schedule, with_batchnorm
from core.training.run import training_log

TOL = 1e-4


def small_conv(seed: int, channels: int = 3, hidden: int = 16) -> nn.Sequential:
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Conv2d(1, channels, 4, stride=2, padding=1),
        nn.ReLU(),
        nn.Conv2d(channels, 2 * channels, 4, stride=2, padding=1),
        nn.ReLU(),
        nn.Flatten(),
        nn.Linear(2 * channels * 49, hidden),
        nn.ReLU(),
        nn.Linear(hidden, 10),
    )


def small_mlp(seed: int, hidden: int = 24) -> nn.Sequential:
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Flatten(), nn.Linear(784, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, 10)
    )


def mnist_slice(n: int, offset: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    images, labels = load_mnist("train")
    x = torch.from_numpy(to_float(images[offset : offset + n])).unsqueeze(1)
    return x, torch.from_numpy(labels[offset : offset + n])


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), eps=st.floats(0.0, 0.3), conv=st.booleans(), n=st.integers(1, 4))
def test_bounds_are_sound(seed: int, eps: float, conv: bool, n: int) -> None:
    model = small_conv(seed) if conv else small_mlp(seed)
    generator = torch.Generator().manual_seed(seed)
    x = torch.rand(n, 1, 28, 28, generator=generator)
    y = torch.randint(0, 10, (n,), generator=generator)
    lower, upper = input_box(x, eps)
    low_logits, high_logits = interval_bounds(model, lower, upper)
    margins = margin_lower_bounds(model, x, y, eps)
    with torch.no_grad():
        for _ in range(40):
            point = lower + (upper - lower) * torch.rand(x.shape, generator=generator)
            logits = model(point)
            assert bool((logits >= low_logits - TOL).all()) and bool((logits <= high_logits + TOL).all())
            true_margins = logits.gather(1, y[:, None]) - logits
            assert bool((true_margins >= margins - TOL).all())
        # the corners of the box are the extreme points: test them too
        corner = torch.where(torch.rand(x.shape, generator=generator) < 0.5, lower, upper)
        logits = model(corner)
        assert bool((logits >= low_logits - TOL).all()) and bool((logits <= high_logits + TOL).all())


def odd_conv(seed: int) -> nn.Sequential:
    """Stride 2 without padding on an odd size: the backward pass needs an output_padding."""
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Conv2d(1, 3, 3, padding=1),
        nn.ReLU(),
        nn.Conv2d(3, 4, 5, stride=2),
        nn.ReLU(),
        nn.Flatten(),
        nn.Linear(4 * 12 * 12, 10),
    )


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), eps=st.floats(0.0, 0.1), kind=st.sampled_from(["conv", "mlp", "odd"]))
def test_crown_ibp_bounds_are_sound_and_never_looser_than_ibp(seed: int, eps: float, kind: str) -> None:
    builders: dict[str, Callable[[int], nn.Sequential]] = {"conv": small_conv, "mlp": small_mlp, "odd": odd_conv}
    model = builders[kind](seed)
    generator = torch.Generator().manual_seed(seed)
    x = torch.rand(3, 1, 28, 28, generator=generator)
    y = torch.randint(0, 10, (3,), generator=generator)
    lower, upper = input_box(x, eps)
    with torch.no_grad():
        ibp = margin_lower_bounds(model, x, y, eps)
        crown = margin_lower_bounds(model, x, y, eps, method="crown-ibp")
        pure = _crown_margins(_prepared_layers(model), lower, upper, y)
        assert bool((crown >= ibp - 1e-6).all())
        for _ in range(40):
            uniform = torch.rand(x.shape, generator=generator)
            corner = torch.where(torch.rand(x.shape, generator=generator) < 0.5, lower, upper)
            for point in (lower + (upper - lower) * uniform, corner):
                logits = model(point)
                true_margins = logits.gather(1, y[:, None]) - logits
                assert bool((true_margins >= crown - TOL).all()) and bool((true_margins >= pure - TOL).all())


def test_crown_ibp_is_exact_at_eps_zero_and_tighter_on_random_nets() -> None:
    model = odd_conv(8)
    x, y = torch.rand(4, 1, 28, 28), torch.randint(0, 10, (4,))
    with torch.no_grad():
        logits = model(x)
        exact = _crown_margins(_prepared_layers(model), x, x, y)
        assert torch.allclose(exact, logits.gather(1, y[:, None]) - logits, atol=1e-4)
        ibp = margin_lower_bounds(model, x, y, 0.02)
        crown = _crown_margins(_prepared_layers(model), *input_box(x, 0.02), y)
    others = torch.ones_like(ibp, dtype=torch.bool).scatter(1, y[:, None], False)
    assert float((crown - ibp)[others].mean()) > 0  # the linear relaxation is tighter on average here
    assert torch.equal(certified(model, x, y, 0.0, method="crown-ibp"), certified(model, x, y, 0.0))


def test_input_box_is_clipped_to_unit_interval() -> None:
    x = torch.tensor([0.0, 0.05, 0.5, 0.97, 1.0]).reshape(1, 1, 1, 5)
    lower, upper = input_box(x, 0.1)
    assert torch.allclose(lower.flatten(), torch.tensor([0.0, 0.0, 0.4, 0.87, 0.9]))
    assert torch.allclose(upper.flatten(), torch.tensor([0.1, 0.15, 0.6, 1.0, 1.0]))


def test_exact_at_eps_zero() -> None:
    model = small_conv(1)
    x, y = torch.rand(6, 1, 28, 28), torch.randint(0, 10, (6,))
    with torch.no_grad():
        logits = model(x)
        low, high = interval_bounds(model, x, x)
        margins = margin_lower_bounds(model, x, y, 0.0)
    assert torch.allclose(low, logits, atol=1e-5) and torch.allclose(high, logits, atol=1e-5)
    assert torch.allclose(margins, logits.gather(1, y[:, None]) - logits, atol=1e-5)
    assert torch.equal(certified(model, x, y, 0.0), (logits.gather(1, y[:, None]) > logits).sum(1) == 9)


def test_elision_is_at_least_as_tight_as_logit_intervals() -> None:
    model = small_mlp(3)
    x, y = torch.rand(8, 1, 28, 28), torch.randint(0, 10, (8,))
    with torch.no_grad():
        low, high = interval_bounds(model, *input_box(x, 0.05))
        naive = low.gather(1, y[:, None]) - high
        elided = margin_lower_bounds(model, x, y, 0.05)
    others = torch.ones_like(elided, dtype=torch.bool).scatter(1, y[:, None], False)
    assert bool((elided[others] >= naive[others] - 1e-5).all())
    assert bool((elided[others] > naive[others] + 1e-3).any())  # strictly tighter somewhere
    assert torch.equal(elided.gather(1, y[:, None]), torch.zeros(8, 1))


def test_network_not_ending_in_linear_uses_logit_intervals() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(784, 10), nn.ReLU())
    x, y = torch.rand(4, 1, 28, 28), torch.randint(0, 10, (4,))
    with torch.no_grad():
        low, high = interval_bounds(model, *input_box(x, 0.02))
        margins = margin_lower_bounds(model, x, y, 0.02)
    expected = (low.gather(1, y[:, None]) - high).scatter(1, y[:, None], 0.0)
    assert torch.allclose(margins, expected)


def test_batchnorm_folding_preserves_outputs_and_bounds() -> None:
    torch.manual_seed(4)
    model = nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1),
        nn.BatchNorm2d(4),
        nn.ReLU(),
        nn.Flatten(),
        nn.Linear(4 * 784, 12, bias=False),
        nn.BatchNorm1d(12),
        nn.ReLU(),
        nn.Linear(12, 10),
    )
    for layer in model:
        if isinstance(layer, nn.BatchNorm1d | nn.BatchNorm2d):
            assert layer.running_mean is not None and layer.running_var is not None
            layer.running_mean.uniform_(-0.5, 0.5)
            layer.running_var.uniform_(0.5, 2.0)
            layer.weight.data.uniform_(0.5, 1.5)
            layer.bias.data.uniform_(-0.2, 0.2)
    model.eval()
    folded = fold_batchnorm(model)
    assert not any(isinstance(layer, nn.BatchNorm1d | nn.BatchNorm2d) for layer in folded)
    x = torch.rand(5, 1, 28, 28)
    with torch.no_grad():
        assert torch.allclose(folded(x), model(x), atol=1e-5)
        low, high = interval_bounds(model, x, x)  # BatchNorm folded on the fly
        assert torch.allclose(low, model(x), atol=1e-4) and torch.allclose(high, model(x), atol=1e-4)
    assert any(isinstance(layer, nn.BatchNorm2d) for layer in model)  # the original is untouched


def training_batchnorm_net(seed: int) -> nn.Sequential:
    model = with_batchnorm(small_conv(seed))
    for layer in model:
        if isinstance(layer, nn.BatchNorm1d | nn.BatchNorm2d):
            layer.weight.data.uniform_(-1.5, 1.5)  # negative scales too: radii go through |scale|
            layer.bias.data.normal_()
    return model.train()


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_training_mode_batchnorm_bounds_use_the_clean_batch_statistics_and_are_sound(seed: int) -> None:
    model = training_batchnorm_net(seed)
    torch.manual_seed(100 + seed)
    x, y, eps = torch.rand(12, 1, 28, 28), torch.randint(0, 10, (12,)), 0.05
    margins = margin_lower_bounds(model, x, y, eps)
    as_affine = nn.Sequential(*_prepared_layers(model, x))  # BatchNorms as the affine maps of x's statistics
    assert torch.allclose(as_affine(x), model(x), atol=1e-5)  # the same function as the training forward pass
    lower, upper = input_box(x, eps)
    with torch.no_grad():
        for _ in range(100):
            logits = as_affine(lower + (upper - lower) * torch.rand_like(x))
            assert bool((margins <= logits.gather(1, y[:, None]) - logits + TOL).all())
    margins.sum().backward()
    batchnorm = model[1]
    assert isinstance(batchnorm, nn.BatchNorm2d) and batchnorm.weight.grad is not None
    assert float(batchnorm.weight.grad.abs().sum()) > 0


@pytest.mark.parametrize("batchnorm", [False, True])
def test_forward_and_ibp_loss_matches_the_two_separate_calls_with_one_statistics_update(batchnorm: bool) -> None:
    model = training_batchnorm_net(4) if batchnorm else small_conv(4)
    twin = copy.deepcopy(model)
    torch.manual_seed(7)
    x, y = torch.rand(10, 1, 28, 28), torch.randint(0, 10, (10,))
    logits, robust = forward_and_ibp_loss(model, x, y, 0.1)
    expected_robust = ibp_loss(twin, x, y, 0.1)  # statistics from its own clean pass, running ones untouched
    expected_logits = twin(x)  # one update of the running statistics
    assert torch.allclose(logits, expected_logits, atol=1e-5)
    assert float(robust.detach()) == pytest.approx(float(expected_robust.detach()), rel=1e-5)
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), twin.state_dict().values(), strict=True))


def test_training_mode_batchnorm_needs_the_batch_and_plain_ibp() -> None:
    model = training_batchnorm_net(3)
    x, y = torch.rand(4, 1, 28, 28), torch.randint(0, 10, (4,))
    with pytest.raises(ModelError, match="clean batch"):
        interval_bounds(model, x, x)
    with pytest.raises(ModelError, match="eval mode"):
        margin_lower_bounds(model, x, y, 0.1, method="crown-ibp")
    model.eval()
    assert margin_lower_bounds(model, x, y, 0.1, method="crown-ibp").shape == (4, 10)


def test_ibp_initialisation_keeps_bound_widths_of_the_order_of_the_input_box() -> None:
    x = torch.rand(8, 1, 28, 28)
    widths = {}
    for initialisation in ("default", "ibp"):
        model = small_conv(5, channels=16, hidden=64)
        if initialisation == "ibp":
            ibp_initialise(model)
            assert all(not layer.bias.detach().any() for layer in model if isinstance(layer, nn.Conv2d | nn.Linear))
        with torch.no_grad():
            low, high = interval_bounds(model[:-1], *input_box(x, 0.1))  # up to the last hidden layer
        widths[initialisation] = float((high - low).mean())
    box = float((input_box(x, 0.1)[1] - input_box(x, 0.1)[0]).mean())
    assert box / 3 < widths["ibp"] < 3 * box  # the default initialisation widens the box about 30-fold
    assert widths["default"] > 10 * box


def test_batchnorm_without_preceding_affine_layer_is_rejected() -> None:
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.BatchNorm2d(2), nn.Flatten(), nn.Linear(1352, 10))
    with pytest.raises(ModelError, match="BatchNorm2d"):
        fold_batchnorm(model)


@pytest.mark.parametrize(
    ("model", "name"),
    [
        (nn.Sequential(nn.Conv2d(1, 2, 3), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(338, 10)), "MaxPool2d"),
        (nn.Sequential(nn.Flatten(), nn.Linear(784, 10), nn.Tanh()), "Tanh"),
        (
            nn.Sequential(nn.Conv2d(1, 2, 3, padding=1, padding_mode="reflect"), nn.Flatten(), nn.Linear(1568, 10)),
            "padding_mode",
        ),
        (nn.Linear(784, 10), "Sequential"),
    ],
)
def test_unsupported_layers_raise_model_error(model: nn.Module, name: str) -> None:
    x, y = torch.rand(2, 1, 28, 28), torch.zeros(2, dtype=torch.long)
    with pytest.raises(ModelError, match=name):
        certified(model, x, y, 0.1)


def test_bad_eps_raises_model_error() -> None:
    model = small_mlp(0)
    x, y = torch.rand(3, 1, 28, 28), torch.zeros(3, dtype=torch.long)
    with pytest.raises(ModelError, match="non-negative"):
        certified(model, x, y, -0.1)
    with pytest.raises(ModelError, match="N=3"):
        certified(model, x, y, torch.tensor([0.1, 0.2]))
    with pytest.raises(ModelError, match="method"):
        certified(model, x, y, 0.1, method="magic")


def test_ibp_loss_equals_clean_cross_entropy_at_eps_zero_and_grows_with_eps() -> None:
    model = small_conv(5)
    x, y = torch.rand(8, 1, 28, 28), torch.randint(0, 10, (8,))
    with torch.no_grad():
        clean = F.cross_entropy(model(x), y)
        assert torch.allclose(ibp_loss(model, x, y, 0.0), clean, atol=1e-5)
        losses = [float(ibp_loss(model, x, y, eps)) for eps in (0.0, 0.01, 0.05, 0.2)]
    assert losses == sorted(losses) and losses[-1] > losses[0]
    loss = ibp_loss(model, x, y, 0.1)
    loss.backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters())


@pytest.fixture(scope="module")
def trained_tiny() -> tuple[nn.Sequential, torch.Tensor, torch.Tensor]:
    """A small MLP trained for a few seconds with IBP at eps 0.1 on 300 MNIST images; 100 more to test on."""
    model = small_mlp(7, hidden=32)
    x, y = mnist_slice(300)
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    for step in range(150):
        index = torch.arange(step * 50, step * 50 + 50) % 300
        eps = 0.1 * min(1.0, step / 75)
        loss = 0.5 * F.cross_entropy(model(x[index]), y[index]) + 0.5 * ibp_loss(model, x[index], y[index], eps)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    model.eval()
    test_x, test_y = mnist_slice(100, offset=1000)
    return model, test_x, test_y


def test_certified_is_monotone_in_eps_on_a_trained_model(
    trained_tiny: tuple[nn.Sequential, torch.Tensor, torch.Tensor],
) -> None:
    model, x, y = trained_tiny
    previous = None
    counts = []
    for eps in (0.0, 0.01, 0.03, 0.06, 0.1, 0.2, 0.4):
        now = certified(model, x, y, eps)
        counts.append(int(now.sum()))
        if previous is not None:
            assert not bool((now & ~previous).any())  # certified at a larger eps implies certified at a smaller one
        previous = now
    assert counts[0] >= 50  # it learned something
    assert counts[1] > 0 and counts[-1] < counts[0]


def test_per_example_eps_matches_scalar_calls(trained_tiny: tuple[nn.Sequential, torch.Tensor, torch.Tensor]) -> None:
    model, x, y = trained_tiny
    x, y = x[:20], y[:20]
    eps = torch.linspace(0.0, 0.2, 20)
    together = certified(model, x, y, eps)
    alone = torch.cat([certified(model, x[i : i + 1], y[i : i + 1], float(eps[i])) for i in range(20)])
    assert torch.equal(together, alone)


def test_certified_radius_brackets_the_boundary(trained_tiny: tuple[nn.Sequential, torch.Tensor, torch.Tensor]) -> None:
    model, x, y = trained_tiny
    high, steps = 0.5, 10
    radius = certified_radius(model, x, y, high=high, steps=steps)
    assert radius.shape == (len(y),) and bool((radius >= 0).all()) and bool((radius <= high).all())
    positive = radius > 0
    assert bool(positive.any())
    assert bool(certified(model, x[positive], y[positive], radius[positive]).all())
    below_high = radius < high
    beyond = (radius + high / 2**steps + 1e-6).clamp(max=high)
    assert not bool(certified(model, x[below_high], y[below_high], beyond[below_high]).any())
    with torch.no_grad():
        wrong = model(x).argmax(1) != y
    assert bool((radius[wrong] == 0).all())
    crown = certified_radius(model, x, y, high=high, steps=steps, method="crown-ibp")
    assert bool((crown >= radius - high / 2**steps).all())  # never looser than IBP by more than the resolution
    found = crown > 0
    assert bool(certified(model, x[found], y[found], crown[found], method="crown-ibp").all())


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_matches_cpu() -> None:
    model = small_conv(2)
    x, y = torch.rand(4, 1, 28, 28), torch.randint(0, 10, (4,))
    cpu = margin_lower_bounds(model, x, y, 0.05).detach()
    gpu = margin_lower_bounds(model.cuda(), x.cuda(), y.cuda(), 0.05).detach().cpu()
    assert torch.allclose(cpu, gpu, atol=1e-4)


def test_schedule_warmup_ramp_and_lr_drop() -> None:
    hyper = {"epochs": 10, "lr": 1e-3, "train_eps": 0.4, "warmup_epochs": 2, "ramp_epochs": 4, "kappa_end": 0.5}
    assert schedule(hyper, 0, 0.5) == (0.0, 1.0)
    assert schedule(hyper, 2, 0.0) == (0.0, 1.0)
    eps, kappa = schedule(hyper, 4, 0.0)
    assert eps == pytest.approx(0.2) and kappa == pytest.approx(0.75)
    assert schedule(hyper, 6, 0.0) == pytest.approx((0.4, 0.5))
    assert schedule(hyper, 9, 0.9) == pytest.approx((0.4, 0.5))
    assert [lr_at(hyper, epoch) for epoch in (0, 7, 8, 9)] == pytest.approx([1e-3, 1e-3, 1e-4, 1e-4])


@pytest.mark.parametrize("options", [{}, {"batchnorm": True, "ibp_init": True}], ids=["plain", "batchnorm"])
def test_train_ibp_end_to_end_writes_checkpoint_and_card(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, options: dict[str, bool]
) -> None:
    import core.zoo.evaluation as evaluation
    import core.zoo.registry as registry
    from core.training.run import train_model
    from core.zoo import load

    entry = dataclasses.replace(
        registry.ZOO["ibp-0.4"],
        architecture="cnn-s2-small",
        hyper={
            "epochs": 4,
            "batch_size": 50,
            "lr": 1e-3,
            "train_eps": 0.05,
            "warmup_epochs": 2,
            "ramp_epochs": 2,
            "kappa_end": 0.5,
            **options,
        },
    )
    monkeypatch.setitem(registry.ZOO, "ibp-0.4", entry)
    monkeypatch.setattr(evaluation, "CLEAN_N", 200)
    monkeypatch.setenv("INVARIANCE_CHECKPOINTS", str(tmp_path / "checkpoints"))
    card = train_model("ibp-0.4", device="cpu", train_subset=1200, evaluate_n=20, progress=False)
    assert (tmp_path / "checkpoints" / "ibp-0.4.safetensors").exists()
    saved = json.loads((tmp_path / "checkpoints" / "ibp-0.4.json").read_text())
    assert saved["format_version"] == 1 and saved["recipe"]["name"] == "ibp"
    clean, certified_03 = card.figure("clean_accuracy"), card.figure("certified_accuracy_0.3")
    assert clean is not None and certified_03 is not None and 0.0 <= certified_03 <= clean <= 1.0
    log_text = training_log("ibp-0.4").read_text()
    assert "heldout_verified" in log_text and "epoch 4/4" in log_text
    model = load("ibp-0.4", "cpu")
    x, y = mnist_slice(50, offset=2000)
    with torch.no_grad():
        accuracy = float((model(x).argmax(1) == y).float().mean())
    assert certified(model, x, y, 0.0).float().mean() == pytest.approx(accuracy)
