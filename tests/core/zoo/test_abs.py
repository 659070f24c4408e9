"""The ABS classifier (core.zoo.abs) and its training recipe (core.training.recipes.abs)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from core.data import load_mnist
from core.errors import ModelError
from core.images import to_float
from core.training.recipes.abs import calibrate, class_scores, contrastive_loss, vae_losses
from core.training.run import training_log
from core.zoo.abs import CLASSES, PIXELS, ABSClassifier, build_abs


def mnist_slice(n: int, offset: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    images, labels = load_mnist("train")
    x = torch.from_numpy(to_float(images[offset : offset + n])).unsqueeze(1)
    return x, torch.from_numpy(labels[offset : offset + n])


def quick(binary: bool = False, seed: int = 0) -> ABSClassifier:
    torch.manual_seed(seed)
    return ABSClassifier(binary=binary, samples=3, steps=4)


def test_shapes_size_and_logits() -> None:
    model = build_abs(binary=False).eval()
    size_mb = sum(p.numel() * p.element_size() for p in model.parameters()) / 1e6
    assert size_mb <= 3.0
    x = torch.rand(3, 1, 28, 28)
    with torch.no_grad():
        scores = model.class_elbo(x)
        logits = model(x)
    assert scores.shape == (3, CLASSES) and logits.shape == (3, CLASSES)
    assert bool((scores <= 0).all())  # a negative reconstruction error minus a non-negative prior term
    assert torch.allclose(logits, model.temperature * scores + model.class_offset)


def test_forward_is_deterministic_and_batch_independent() -> None:
    model = quick().eval().requires_grad_(False)  # as core.zoo.load leaves a model
    x = torch.rand(5, 1, 28, 28)
    with torch.no_grad():
        first, second = model(x), model(x)
        single = torch.cat([model(x[i : i + 1]) for i in range(5)])
    assert torch.equal(first, second)
    assert torch.allclose(first, single, rtol=1e-4, atol=1e-3)


def test_works_under_inference_mode_and_with_grad_enabled() -> None:
    model = quick().eval()
    x = torch.rand(2, 1, 28, 28)
    with torch.no_grad():
        reference = model(x)
    with torch.inference_mode():
        assert torch.allclose(model(x), reference)
    assert torch.allclose(model(x).detach(), reference)
    assert all(p.grad is None for p in model.parameters())  # the latent search does not touch weight gradients


def test_gradient_with_respect_to_input_exists() -> None:
    model = quick().eval().requires_grad_(False)
    x = torch.rand(2, 1, 28, 28, requires_grad=True)
    loss = F.cross_entropy(model(x), torch.tensor([3, 7]))
    (gradient,) = torch.autograd.grad(loss, x)
    assert gradient.shape == x.shape and bool(torch.isfinite(gradient).all()) and float(gradient.abs().sum()) > 0


def test_latent_search_never_does_worse_than_the_encoder_mean() -> None:
    model = quick(seed=3).eval()
    x = torch.rand(4, PIXELS)
    with torch.no_grad():
        start = model.bound(x, model.encode(x)[0])
        found = model.bound(x, model.latent_search(x))
    assert bool((found >= start - 1e-4).all()) and bool((found > start + 1e-3).any())


def test_binary_variant_binarises_with_the_same_weights() -> None:
    plain, binary = quick(seed=1).eval(), quick(binary=True, seed=1).eval()
    binary.load_state_dict(plain.state_dict())
    x = torch.rand(4, 1, 28, 28)
    hard = (x > 0.5).float()
    with torch.no_grad():
        assert torch.equal(binary(x), binary(hard))
        assert torch.allclose(binary(x), plain(hard))
        assert not torch.allclose(plain(x), plain(hard))
        nudged = (x + 0.01 * torch.randn_like(x)).clamp(0, 1)
        same_side = ((nudged > 0.5) == (x > 0.5)).all()
        if bool(same_side):
            assert torch.equal(binary(nudged), binary(x))


def test_padded_vae_loss_matches_per_class_sums(monkeypatch: pytest.MonkeyPatch) -> None:
    model = quick(seed=2)
    x, y = mnist_slice(30)
    monkeypatch.setattr(torch, "randn_like", torch.zeros_like)  # z = posterior mean: deterministic
    reconstruction, kl = vae_losses(model, x, y)
    expected_rec = expected_kl = 0.0
    with torch.no_grad():
        for cls in range(CLASSES):
            images = x[y == cls].reshape(-1, PIXELS)
            if len(images) == 0:
                continue
            mean, log_var = model.encode(images)
            decoded = model.decode(mean)[cls]
            expected_rec += float((decoded - images).square().sum() / (2 * model.sigma**2))
            expected_kl += float(0.5 * (mean[cls].square() + log_var[cls].exp() - 1 - log_var[cls]).sum())
    assert float(reconstruction.detach()) == pytest.approx(expected_rec, rel=1e-4)
    assert float(kl.detach()) == pytest.approx(expected_kl, rel=1e-4)


def test_reconstruction_nll_gaussian_and_bernoulli() -> None:
    model = quick(seed=4)
    x = torch.rand(3, PIXELS)
    logits = torch.randn(CLASSES, 3, PIXELS)
    probabilities = torch.sigmoid(logits)
    with torch.no_grad():
        model.sigma.fill_(0.25)
        gaussian = model.reconstruction_nll(x, logits)
        model.bernoulli.fill_(True)
        bernoulli = model.reconstruction_nll(x, logits)
    assert torch.allclose(gaussian, (probabilities - x).square().sum(-1) / (2 * 0.25**2), rtol=1e-5)
    manual = -(x * probabilities.log() + (1 - x) * (1 - probabilities).log()).sum(-1)
    assert torch.allclose(bernoulli, manual, rtol=1e-4)


def test_contrastive_loss_is_cross_entropy_of_amortised_bounds() -> None:
    model = quick(seed=5)
    x, y = mnist_slice(12)
    loss = contrastive_loss(model, x, y, 0.05)
    flat = x.reshape(12, -1)
    with torch.no_grad():
        bounds = torch.stack([model.bound(flat, model.encode(flat)[0])[c] for c in range(CLASSES)], 1)
    assert float(loss.detach()) == pytest.approx(float(F.cross_entropy(0.05 * bounds, y)), rel=1e-5)
    loss.backward()
    assert model.dec1_w.grad is not None and float(model.dec1_w.grad.abs().sum()) > 0


def test_tiny_abs_trained_briefly_beats_chance() -> None:
    torch.manual_seed(0)
    model = ABSClassifier(samples=2, steps=5)
    with torch.no_grad():
        model.sigma.fill_(0.2)
    x, y = mnist_slice(200)
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    for step in range(60):
        index = torch.arange(step * 50, step * 50 + 50) % 200
        reconstruction, kl = vae_losses(model, x[index], y[index])
        loss = (reconstruction + kl) / 50
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    model.eval()
    test_x, test_y = mnist_slice(100, offset=5000)
    with torch.no_grad():
        accuracy = float((model(test_x).argmax(1) == test_y).float().mean())
    assert accuracy > 0.4  # chance is 0.1
    before = F.cross_entropy(model(test_x).detach(), test_y)
    calibrate(model, x[:100], y[:100])
    assert float(model.temperature) > 0
    after = F.cross_entropy(model.temperature * class_scores(model, test_x) + model.class_offset, test_y)
    assert float(after) < float(before)


def test_train_abs_and_share_weights_end_to_end(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import core.zoo.evaluation as evaluation
    import core.zoo.registry as registry
    from core.training.run import train_model
    from core.zoo import load

    monkeypatch.setenv("INVARIANCE_CHECKPOINTS", str(tmp_path / "checkpoints"))
    monkeypatch.setattr(evaluation, "CLEAN_N", 40)
    with pytest.raises(ModelError, match="abs"):  # binary-abs needs the trained abs checkpoint
        train_model("binary-abs", device="cpu", train_subset=100, progress=False)
    entry = dataclasses.replace(
        registry.ZOO["abs"],
        hyper={
            "epochs": 2,
            "batch_size": 50,
            "lr": 2e-3,
            "sigma": 0.2,
            "calibrate_n": 100,
            "monitor_n": 20,
            "contrast_weight": 1.0,
            "augment_degrees": 5.0,
            "augment_shift": 1.0,
        },
    )
    monkeypatch.setitem(registry.ZOO, "abs", dataclasses.replace(entry, hyper={**entry.hyper, "likelihood": "poisson"}))
    with pytest.raises(ModelError, match="poisson"):
        train_model("abs", device="cpu", train_subset=200, progress=False)
    monkeypatch.setitem(registry.ZOO, "abs", entry)
    card = train_model("abs", device="cpu", train_subset=600, progress=False)
    checkpoints = tmp_path / "checkpoints"
    assert (checkpoints / "abs.safetensors").exists() and (checkpoints / "abs.json").exists()
    clean = card.figure("clean_accuracy")
    assert clean is not None and clean > 0.2
    log_text = training_log("abs").read_text()
    assert "epoch 2/2" in log_text and "calibrated on 100 held-out images" in log_text

    binary_card = train_model("binary-abs", device="cpu", train_subset=100, progress=False)
    assert binary_card.figure("clean_accuracy") is not None
    assert binary_card.checkpoint_sha256 == card.checkpoint_sha256
    assert not (checkpoints / "binary-abs.safetensors").exists()  # it reads abs's file, no copy
    plain, binary = load("abs", "cpu"), load("binary-abs", "cpu")
    assert isinstance(binary, ABSClassifier) and binary.binary and not getattr(plain, "binary", True)
    for (key, a), (_, b) in zip(plain.state_dict().items(), binary.state_dict().items(), strict=True):
        assert torch.equal(a, b), key
