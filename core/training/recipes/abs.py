"""Training the ABS models (Schott et al., 2019): one VAE per class, then a calibrated ELBO classifier.

``train_abs(ctx, model)``

1. trains class ``c``'s VAE only on training images of class ``c`` (each mini-batch is split by label), with the
   β-VAE loss ``−log p_c(x | z) + β · KL(q_c(z|x) ‖ N(0, I))`` (reparameterised sample; Gaussian likelihood
   ``‖x − G_c(z)‖² / (2σ²)`` of fixed scale σ, or Bernoulli: pixel-wise cross-entropy), Adam; optionally plus
   ``contrast_weight`` × :func:`contrastive_loss`, a discriminative term (cross-entropy of the amortised class
   bounds) that makes the other classes' VAEs explain an image worse — a departure from purely generative ABS
   training that gains about one point of accuracy in short runs;
2. calibrates the logits ``temperature · ℓ_c(x) + offset_c`` (a scale and per-class log-priors) by minimising the
   cross-entropy on a held-out slice of the training images (the last ``calibrate_n``, never trained on).

Hyper-parameters (:class:`ABSHyperparameters`): ``epochs``, ``batch_size``, ``lr``, optional ``likelihood``
("gaussian" or "bernoulli"), ``sigma`` (0.3, Gaussian only), ``beta`` (1.0),
``lr_drop_epoch`` (learning rate × 0.1 from this 0-based epoch on; default: never), ``contrast_weight`` (0: off)
and ``contrast_scale`` (0.05) of the optional :func:`contrastive_loss` term, ``calibrate_n`` (1000),
``monitor_n`` (200: held-out images classified after each epoch for the log), ``augment_degrees`` and
``augment_shift`` (0: off; each training image randomly rotated by up to that many degrees and shifted by up to
that many pixels, :func:`core.attacks.random_moves`).

With ``share_weights_with: <name>`` (Binary ABS) nothing is trained: the weights, σ and calibration of the trained
model ``<name>`` are loaded (checksum-verified) into ``model``; a missing checkpoint raises ModelError.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from core.attacks import random_moves
from core.errors import ModelError
from core.training.context import TrainContext
from core.training.hyperparameters import Hyperparameters, setting
from core.training.loop import EpochResult, step_decay
from core.zoo.abs import CLASSES, ABSClassifier
from core.zoo.cards import load_weights, read_card


@dataclass(frozen=True, kw_only=True)
class ABSHyperparameters(Hyperparameters):
    """The ``abs`` recipe's hyper-parameters (see the module docstring). ``epochs`` and ``lr`` are required unless
    ``share_weights_with`` names the trained model whose weights are used instead."""

    share_weights_with: str | None = None
    epochs: int | None = setting(None, minimum=0)
    lr: float | None = setting(None, above=0)
    lr_drop_epoch: int | None = setting(None, minimum=0)
    likelihood: Literal["gaussian", "bernoulli"] = "gaussian"
    sigma: float = setting(0.3, above=0)
    beta: float = setting(1.0, minimum=0)
    contrast_weight: float = setting(0.0, minimum=0)
    contrast_scale: float = setting(0.05, above=0)
    calibrate_n: int = setting(1000, minimum=1)
    monitor_n: int = setting(200, minimum=1)
    augment_degrees: float = setting(0.0, minimum=0)
    augment_shift: float = setting(0.0, minimum=0)

    def check(self, where: str) -> None:
        if self.share_weights_with is None:
            for name in ("epochs", "lr"):
                if getattr(self, name) is None:
                    raise ModelError(f"{where}: the recipe needs hyper-parameter {name!r}")


def train_abs(ctx: TrainContext, model: nn.Module) -> nn.Module:
    """Train (or, with ``share_weights_with``, load) the ABS classifier ``model``; returns it in eval mode."""
    if not isinstance(model, ABSClassifier):
        raise ModelError(f"model {ctx.entry.name!r}: the abs recipe needs an ABSClassifier, got {type(model).__name__}")
    hyper = ctx.settings(ABSHyperparameters)
    if hyper.share_weights_with:
        return _share_weights(ctx, model, hyper.share_weights_with)
    epochs, lr = int(hyper.epochs or 0), float(hyper.lr or 0.0)  # both set: ABSHyperparameters.check
    with torch.no_grad():
        model.sigma.fill_(hyper.sigma)
        model.bernoulli.fill_(hyper.likelihood == "bernoulli")
    held = min(hyper.calibrate_n, len(ctx.labels) // 5)
    if held < CLASSES:
        raise ModelError(f"model {ctx.entry.name!r}: {len(ctx.labels)} training images are too few for ABS training")
    held_x, held_y = ctx.images[-held:].to(ctx.device), ctx.labels[-held:].to(ctx.device)
    ctx.images, ctx.labels = ctx.images[:-held], ctx.labels[:-held]
    monitor = min(hyper.monitor_n, held)

    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    start_epoch, _ = ctx.load_state(model, optimizer)
    ctx.logger.info(
        "ABS training: %d images, %d held out for calibration, %s likelihood (sigma %.3f), beta %.2f",
        len(ctx.labels),
        held,
        hyper.likelihood,
        float(model.sigma),
        hyper.beta,
    )
    degrees, shift = hyper.augment_degrees, hyper.augment_shift
    generator = torch.Generator().manual_seed(ctx.seed)

    def step(batch: torch.Tensor, y: torch.Tensor, _epoch: int, _index: int) -> tuple[torch.Tensor, dict[str, float]]:
        x = random_moves(batch, degrees, shift, generator) if degrees or shift else batch
        reconstruction, kl = vae_losses(model, x, y)
        loss = (reconstruction + hyper.beta * kl) / len(y)
        contrast = 0.0
        if hyper.contrast_weight > 0:
            contrast_term = contrastive_loss(model, x, y, hyper.contrast_scale)
            loss = loss + hyper.contrast_weight * contrast_term
            contrast = float(contrast_term.detach()) * len(y)
        return loss, {"reconstruction": float(reconstruction.detach()), "kl": float(kl.detach()), "contrast": contrast}

    def figures(result: EpochResult) -> dict[str, float]:
        accuracy = classify_accuracy(model, held_x[:monitor], held_y[:monitor])
        sums = {key: result.mean(key) for key in ("loss", "reconstruction", "kl", "contrast")}
        return {**sums, "heldout_acc_uncalibrated": accuracy, "lr": result.lr}

    def lr_at(epoch: int) -> float:
        return step_decay(lr, epoch, hyper.lr_drop_epoch)

    ctx.run_epochs(model, optimizer, range(start_epoch, epochs), step, lr_at=lr_at, figures=figures)
    model.eval()
    calibrate(model, held_x, held_y, ctx)
    return model


def vae_losses(model: ABSClassifier, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Summed (−log-likelihood, KL) of each image under its own class's VAE; x (N, 1, 28, 28), y (N,).

    The batch is regrouped into a zero-padded (10, M, 784) tensor (M = the largest class count) so that all ten
    VAEs train in one batched pass; padding rows are masked out of both sums.
    """
    flat = x.reshape(len(y), -1)
    counts = torch.bincount(y, minlength=CLASSES)
    order = torch.argsort(y, stable=True)
    starts = torch.cumsum(counts, 0) - counts
    sorted_y = y[order]
    slot = torch.arange(len(y), device=y.device) - starts[sorted_y]
    width = int(counts.max())
    padded = flat.new_zeros(CLASSES, width, flat.shape[1])
    padded[sorted_y, slot] = flat[order]
    mask = flat.new_zeros(CLASSES, width)
    mask[sorted_y, slot] = 1.0
    mean, log_var = model.encode(padded)
    z = mean + torch.exp(0.5 * log_var) * torch.randn_like(mean)
    reconstruction = (model.reconstruction_nll(padded, model.decode_logits(z)) * mask).sum()
    kl = (0.5 * (mean.square() + log_var.exp() - 1 - log_var).sum(2) * mask).sum()
    return reconstruction, kl


def contrastive_loss(model: ABSClassifier, x: torch.Tensor, y: torch.Tensor, scale: float) -> torch.Tensor:
    """Mean cross-entropy of ``scale`` · (amortised class bounds) against y; x (N, 1, 28, 28), y (N,); scalar.

    The amortised bound of class c is ``model.bound`` at class c's encoder mean (no latent search). Optional
    (``contrast_weight`` > 0): it makes each class's VAE explain other classes' digits worse.
    """
    flat = x.reshape(len(y), -1)
    bounds = model.bound(flat, model.encode(flat)[0])  # (K, N)
    return F.cross_entropy(scale * bounds.transpose(0, 1), y)


def class_scores(model: ABSClassifier, x: torch.Tensor, batch_size: int = 250) -> torch.Tensor:
    """``model.class_elbo`` of x (N, 1, 28, 28) in batches, without gradients; (N, 10)."""
    with torch.no_grad():
        return torch.cat([model.class_elbo(x[i : i + batch_size]) for i in range(0, len(x), batch_size)])


def classify_accuracy(model: ABSClassifier, x: torch.Tensor, y: torch.Tensor) -> float:
    """Accuracy of the current logits on x (N, 1, 28, 28), y (N,)."""
    scores = class_scores(model, x)
    logits = model.temperature * scores + model.class_offset
    return float((logits.argmax(1) == y).float().mean())


def calibrate(model: ABSClassifier, x: torch.Tensor, y: torch.Tensor, ctx: TrainContext | None = None) -> None:
    """Fit ``model.temperature`` and ``model.class_offset`` by minimising cross-entropy on x, y (held out)."""
    scores = class_scores(model, x)
    scale = float(scores.std().clamp_min(1e-6))
    log_temperature = torch.tensor(-torch.log(torch.tensor(scale)).item(), device=x.device, requires_grad=True)
    offset = torch.zeros(CLASSES, device=x.device, requires_grad=True)
    optimizer = torch.optim.LBFGS([log_temperature, offset], lr=0.5, max_iter=200, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        loss = F.cross_entropy(log_temperature.exp() * scores + offset, y)
        loss.backward()
        return loss

    optimizer.step(closure)
    with torch.no_grad():
        raw_accuracy = float((scores.argmax(1) == y).float().mean())
        logits = log_temperature.exp() * scores + offset
        model.temperature.fill_(float(log_temperature.exp()))
        model.class_offset.copy_(offset - offset.mean())
        accuracy = float((logits.argmax(1) == y).float().mean())
        loss = float(F.cross_entropy(logits, y))
    if ctx is not None:
        ctx.logger.info(
            "calibrated on %d held-out images: temperature %.4g, accuracy %.4f (uncalibrated %.4f), cross-entropy %.4f",
            len(y),
            float(model.temperature),
            accuracy,
            raw_accuracy,
            loss,
        )


def _share_weights(ctx: TrainContext, model: ABSClassifier, source: str) -> ABSClassifier:
    card = read_card(source)
    state = load_weights(source, card.checkpoint_sha256)
    try:
        model.load_state_dict(state)
    except RuntimeError as error:
        raise ModelError(
            f"model {ctx.entry.name!r}: weights of {source!r} do not fit ({str(error).splitlines()[0]})"
        ) from None
    ctx.logger.info("shared the weights of %r (sha256 %s); no training", source, card.checkpoint_sha256[:12])
    return model.eval()
