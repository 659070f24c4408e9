"""Analysis by synthesis (ABS; Schott et al., ICLR 2019): classify a digit by which class's generative model
explains it best.

:class:`ABSClassifier` holds ten class-conditional VAEs (latent size 8), stored as *stacked* weights so that all
ten run at once as batched matrix products. For an image ``x`` and each class ``c`` it approximates

    ℓ_c(x) = max_z  log p_c(x | z) + log p(z)  =  −( NLL_c(x | z) + ‖z‖² / 2 )   (+ const)

(the ABS lower bound with a point estimate of the posterior), where NLL is ``‖x − G_c(z)‖² / (2σ²)`` for a
Gaussian likelihood or the pixel-wise cross-entropy for a Bernoulli one (the ``bernoulli`` buffer). The
maximisation is fast and deterministic: start from the best of the encoder's mean and ``samples`` fixed latent
draws, then take ``steps`` Adam steps on the latent, batched over images and classes, keeping the best value
seen. Logits are ``temperature · ℓ_c(x) + offset_c`` (a calibrated scale and per-class log-prior, fitted on
held-out training images by ``core.training.recipes.abs``). With ``binary=True`` (Binary ABS) inputs are first binarised
at 0.5; the weights are the same.

The value returned is differentiable with respect to ``x`` (by the envelope theorem the gradient of the max is
the partial gradient at the optimal latent), so gradient attacks see a meaningful signal; the latent search
itself runs with gradients enabled internally even when the caller uses ``torch.no_grad()``.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

CLASSES = 10
LATENT = 8
ENCODER_HIDDEN = 24
DECODER_HIDDEN = (128, 256)
PIXELS = 28 * 28


def _uniform(shape: tuple[int, ...], fan_in: int) -> nn.Parameter:
    bound = 1.0 / math.sqrt(fan_in)
    return nn.Parameter(torch.empty(shape).uniform_(-bound, bound))


class ABSClassifier(nn.Module):
    """Ten class-conditional VAEs and ELBO-based classification; (N, 1, 28, 28) in [0, 1] -> logits (N, 10).

    Each class has an MLP encoder 784-24-(2·8) and an MLP decoder 8-128-256-784 (sigmoid output). The decoders'
    last linear map (256 -> 784, a dictionary of strokes) is shared by the ten classes, each with its own output
    bias; everything else is per class. The ten VAEs are stacked along a leading class axis and run with batched
    matrix products (about 0.74 M weights, 2.96 MB). Per forward pass: ``samples`` fixed latent draws, then
    ``steps`` Adam steps of size ``step_size`` on the latent.
    """

    sigma: torch.Tensor
    bernoulli: torch.Tensor
    temperature: torch.Tensor
    class_offset: torch.Tensor
    latent_draws: torch.Tensor

    def __init__(
        self, binary: bool = False, *, latent: int = LATENT, samples: int = 8, steps: int = 15, step_size: float = 0.1
    ) -> None:
        super().__init__()
        self.binary = binary
        self.latent = latent
        self.samples = samples
        self.steps = steps
        self.step_size = step_size
        k, e = CLASSES, ENCODER_HIDDEN
        d1, d2 = DECODER_HIDDEN
        self.enc1_w = _uniform((k, PIXELS, e), PIXELS)
        self.enc1_b = _uniform((k, 1, e), PIXELS)
        self.enc2_w = _uniform((k, e, 2 * latent), e)
        self.enc2_b = _uniform((k, 1, 2 * latent), e)
        self.dec1_w = _uniform((k, latent, d1), latent)
        self.dec1_b = _uniform((k, 1, d1), latent)
        self.dec2_w = _uniform((k, d1, d2), d1)
        self.dec2_b = _uniform((k, 1, d2), d1)
        self.dec3_w = _uniform((d2, PIXELS), d2)  # shared by all classes
        self.dec3_b = _uniform((k, 1, PIXELS), d2)
        # likelihood scale and calibration (saved with the weights; set by the training recipe)
        self.register_buffer("sigma", torch.tensor(0.3))
        self.register_buffer("bernoulli", torch.tensor(False))
        self.register_buffer("temperature", torch.tensor(1.0))
        self.register_buffer("class_offset", torch.zeros(k))
        generator = torch.Generator().manual_seed(1234)
        self.register_buffer("latent_draws", torch.randn(samples, latent, generator=generator), persistent=False)

    # ------------------------------------------------------------------ networks, batched over classes

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Posterior means and log-variances of all encoders: x (K, N, 784) per class or (N, 784) shared ->
        two (K, N, latent) tensors (K = 10 classes)."""
        h = torch.relu(torch.baddbmm(self.enc1_b, x.expand(CLASSES, *x.shape[-2:]), self.enc1_w))
        out = torch.baddbmm(self.enc2_b, h, self.enc2_w)
        return out[..., : self.latent], out[..., self.latent :]

    def decode_logits(self, z: torch.Tensor) -> torch.Tensor:
        """All decoders before the sigmoid: z (K, N, latent), class c's latents at [c] -> (K, N, 784) logits."""
        h = torch.relu(torch.baddbmm(self.dec1_b, z, self.dec1_w))
        h = torch.relu(torch.baddbmm(self.dec2_b, h, self.dec2_w))
        return (h @ self.dec3_w) + self.dec3_b

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """All decoders: z (K, N, latent), class c's latents at [c] -> images (K, N, 784) in (0, 1)."""
        return torch.sigmoid(self.decode_logits(z))

    def reconstruction_nll(self, x: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
        """−log p(x | z) up to a constant: x (N, 784) or (K, N, 784), decoder logits (K, N, 784) -> (K, N).

        Bernoulli likelihood (cross-entropy) when ``bernoulli`` is set, else Gaussian ‖x − G(z)‖² / (2σ²).
        """
        if bool(self.bernoulli):
            target = x.expand_as(logits)
            return F.binary_cross_entropy_with_logits(logits, target, reduction="none").sum(-1)
        return (torch.sigmoid(logits) - x).square().sum(-1) / (2 * self.sigma.square())

    # ------------------------------------------------------------------ scores

    def prepare(self, x: torch.Tensor) -> torch.Tensor:
        """The classifier's view of x: binarised at 0.5 for Binary ABS (straight-through gradient), else x."""
        if not self.binary:
            return x
        hard = (x > 0.5).to(x.dtype)
        return x + (hard - x).detach() if x.requires_grad else hard

    def bound(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """−(NLL_c(x | z_c) + ‖z_c‖²/2): x (N, 784) prepared, z (K, N, L) -> (K, N)."""
        return -(self.reconstruction_nll(x, self.decode_logits(z)) + 0.5 * z.square().sum(2))

    def latent_search(self, x: torch.Tensor) -> torch.Tensor:
        """The (approximately) best latent per class and image: x (N, 784) prepared -> (K, N, L), detached."""
        with torch.inference_mode(False), torch.enable_grad():
            x = x.detach().clone()
            n = x.shape[0]
            mean = self.encode(x)[0].detach()  # (K, N, L)
            draws = self.latent_draws.clone()[None, :, None, :].expand(CLASSES, -1, n, -1)
            candidates = torch.cat([mean[:, None], draws], 1)  # (K, 1 + samples, N, L)
            with torch.no_grad():  # all candidates in one batched pass
                values = self.bound(x.repeat(candidates.shape[1], 1), candidates.reshape(CLASSES, -1, self.latent))
            best, choice = values.reshape(CLASSES, -1, n).max(1)  # (K, N); ties keep the encoder mean
            best_z = candidates.gather(1, choice[:, None, :, None].expand(-1, 1, -1, self.latent)).squeeze(1)
            z = best_z.clone().requires_grad_(True)
            first, second = torch.zeros_like(best_z), torch.zeros_like(best_z)
            beta1, beta2 = 0.9, 0.999
            for step in range(1, self.steps + 2):
                value = self.bound(x, z)
                with torch.no_grad():
                    better = (value.detach() > best)[..., None]
                    best_z, best = torch.where(better, z.detach(), best_z), torch.maximum(value.detach(), best)
                if step > self.steps:
                    break
                (gradient,) = torch.autograd.grad(value.sum(), z)
                with torch.no_grad():
                    first.mul_(beta1).add_(gradient, alpha=1 - beta1)
                    second.mul_(beta2).addcmul_(gradient, gradient, value=1 - beta2)
                    update = (first / (1 - beta1**step)) / ((second / (1 - beta2**step)).sqrt() + 1e-8)
                    z = (z.detach() + self.step_size * update).requires_grad_(True)  # ascent: maximise the bound
        return best_z.detach()

    def class_elbo(self, x: torch.Tensor) -> torch.Tensor:
        """ℓ_c(x) for every class: x (N, 1, 28, 28) in [0, 1] -> (N, 10) (log-likelihood bound, higher = better fit).

        Differentiable w.r.t. ``x`` (the latent is held at its optimum).
        """
        prepared = self.prepare(x).reshape(x.shape[0], PIXELS)
        z = self.latent_search(prepared)
        return self.bound(prepared, z).transpose(0, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits (N, 10) = temperature · class_elbo(x) + class_offset."""
        return self.temperature * self.class_elbo(x) + self.class_offset


def build_abs(binary: bool = False) -> ABSClassifier:
    """A freshly initialised ABS classifier (Binary ABS when ``binary``)."""
    return ABSClassifier(binary=binary)
