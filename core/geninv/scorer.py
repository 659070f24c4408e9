"""The generative scorer: a small class-conditional VAE trained on MNIST train.

GenInv uses it for two things (paper, Appendix A, where an AC-GAN plays this role):

- ranking candidate edits by how much more they look like the target class than the source class:
  ``score = ELBO(x, target) - ELBO(x, source)`` in nats (a log-likelihood ratio, uniform class prior);
- dropping the 20% least canonical training images (lowest own-class ELBO, per class) from the
  candidate bank; those per-image ELBOs are computed once after training and stored with the weights.

Architecture (``CVAE``): encoder q(z | x, y): [784 + 10] -> 400 -> ReLU -> (mu, log var) in R^16;
decoder p(x | z, y): [16 + 10] -> 400 -> ReLU -> 784 Bernoulli logits. Images are float in [0, 1],
flattened row-major; the Bernoulli likelihood is the usual cross-entropy with grey levels as targets.
Scoring is deterministic: the ELBO is evaluated at z = mu (no sampling), so a score never depends on a seed.

Files: ``checkpoints/geninv-scorer.safetensors`` (weights + ``train_elbo`` (60000,) float32) and
``checkpoints/geninv-scorer.json`` (model card). Loaded with safetensors only (no pickle).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from core.cache import KeyedCache
from core.device import machine_line
from core.errors import ModelError
from core.geninv.checkpoint import HelperCheckpoint, training_digits
from core.training.loop import EpochResult, reshuffled, train_epochs
from core.zoo import cards

log = logging.getLogger(__name__)

SCORER: Final = HelperCheckpoint(name="geninv-scorer", what="GenInv scorer", epochs=15, batch_size=128, lr=1e-3)
"""The scorer's checkpoint and training defaults."""
SCORER_NAME: Final = SCORER.name
LATENT: Final = 16
HIDDEN: Final = 400
PIXELS: Final = 784
CLASSES: Final = 10
EVAL_COUNT: Final = 1000


def scorer_paths(folder: Path | None = None) -> tuple[Path, Path]:
    """(weights ``.safetensors``, model card ``.json``) of the scorer in ``folder`` (default: the checkpoints)."""
    return SCORER.paths(folder)


class CVAE(nn.Module):
    """Class-conditional VAE on flattened 28x28 images (see module docstring)."""

    def __init__(self, latent: int = LATENT, hidden: int = HIDDEN) -> None:
        super().__init__()
        self.latent = latent
        self.enc = nn.Linear(PIXELS + CLASSES, hidden)
        self.enc_mu = nn.Linear(hidden, latent)
        self.enc_logvar = nn.Linear(hidden, latent)
        self.dec = nn.Linear(latent + CLASSES, hidden)
        self.dec_out = nn.Linear(hidden, PIXELS)

    def encode(self, x: torch.Tensor, onehot: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x (B, 784) in [0, 1], onehot (B, 10) -> (mu, log var), each (B, latent)."""
        h = F.relu(self.enc(torch.cat([x, onehot], dim=1)))
        return self.enc_mu(h), self.enc_logvar(h).clamp(-12.0, 8.0)

    def decode(self, z: torch.Tensor, onehot: torch.Tensor) -> torch.Tensor:
        """z (B, latent), onehot (B, 10) -> Bernoulli logits (B, 784)."""
        return self.dec_out(F.relu(self.dec(torch.cat([z, onehot], dim=1))))

    def elbo(self, x: torch.Tensor, labels: torch.Tensor, *, sample: bool = False) -> torch.Tensor:
        """Evidence lower bound log p(x | y) >= ELBO, in nats, per image: x (B, 784), labels (B,) -> (B,).

        With ``sample=False`` the reconstruction term is evaluated at z = mu (deterministic).
        """
        onehot = F.one_hot(labels, CLASSES).to(x.dtype)
        mu, logvar = self.encode(x, onehot)
        z = mu + torch.randn_like(mu) * (0.5 * logvar).exp() if sample else mu
        logits = self.decode(z, onehot)
        recon = -F.binary_cross_entropy_with_logits(logits, x, reduction="none").sum(dim=1)
        kl = 0.5 * (mu.square() + logvar.exp() - 1.0 - logvar).sum(dim=1)
        return recon - kl


@dataclass(frozen=True)
class Scorer:
    """A loaded scorer: the VAE (eval mode, on ``device``) and the per-training-image own-class ELBO."""

    model: CVAE
    train_elbo: np.ndarray
    device: torch.device

    @torch.no_grad()
    def elbo_all(self, images: torch.Tensor, batch: int = 2048) -> torch.Tensor:
        """ELBO of every image under every class: images (B, 28, 28) or (B, 784) in [0, 1] -> (B, 10)."""
        flat = images.reshape(images.shape[0], -1).to(self.device, torch.float32)
        out = []
        for start in range(0, flat.shape[0], batch):
            chunk = flat[start : start + batch]
            rows = chunk.shape[0]
            repeated = chunk.repeat_interleave(CLASSES, dim=0)
            labels = torch.arange(CLASSES, device=self.device).repeat(rows)
            out.append(self.model.elbo(repeated, labels).reshape(rows, CLASSES))
        if not out:
            return torch.zeros((0, CLASSES), device=self.device)
        return torch.cat(out)

    @torch.no_grad()
    def elbo_classes(self, images: torch.Tensor, classes: list[int]) -> torch.Tensor:
        """ELBO of every image under each class of ``classes``: (B, 28, 28) or (B, 784) -> (B, len(classes))."""
        flat = images.reshape(images.shape[0], -1).to(self.device, torch.float32)
        rows, count = flat.shape[0], len(classes)
        labels = torch.tensor(classes, device=self.device).repeat(rows)
        return self.model.elbo(flat.repeat_interleave(count, dim=0), labels).reshape(rows, count)

    @torch.no_grad()
    def elbo_of(self, images: torch.Tensor, labels: torch.Tensor, batch: int = 4096) -> torch.Tensor:
        """ELBO of each image under its own label: (B, 28, 28) or (B, 784), labels (B,) -> (B,)."""
        flat = images.reshape(images.shape[0], -1).to(self.device, torch.float32)
        labels = labels.to(self.device)
        out = [self.model.elbo(flat[s : s + batch], labels[s : s + batch]) for s in range(0, flat.shape[0], batch)]
        return torch.cat(out) if out else torch.zeros(0, device=self.device)


_SCORERS: KeyedCache[Scorer] = KeyedCache()


def load_scorer(device: torch.device | str = "cpu", folder: Path | None = None) -> Scorer:
    """The scorer from ``checkpoints/geninv-scorer.safetensors``, cached per process and device.

    Raises :class:`ModelError` when the file is missing or does not hold the expected tensors.
    """
    weights, _ = scorer_paths(folder)
    device = torch.device(device)

    def build() -> Scorer:
        if not weights.exists():
            raise ModelError(f"{weights}: GenInv scorer checkpoint missing; run 'invariance geninv --train-scorer'")
        tensors = cards.load_safetensors_verified(weights, str(read_card(folder).get("checkpoint_sha256") or ""))
        train_elbo = tensors.pop("train_elbo", None)
        model = CVAE()
        cards.load_state(model, tensors, weights, "the GenInv scorer's CVAE")
        if train_elbo is None:
            raise ModelError(f"{weights}: GenInv scorer has no 'train_elbo' tensor; retrain it")
        model.eval().to(device)
        return Scorer(model, train_elbo.numpy().astype(np.float32), device)

    return _SCORERS.get((str(weights), str(device)), build)


def clear_cache() -> None:
    """Forget loaded scorers (tests, retraining)."""
    _SCORERS.clear()


def train_scorer(
    *,
    epochs: int = SCORER.epochs,
    seed: int = 0,
    device: torch.device | str = "cpu",
    folder: Path | None = None,
    command: str = "invariance geninv --train-scorer",
    limit: int | None = None,
    progress: Callable[[int, int, float], None] | None = None,
) -> dict[str, Any]:
    """Train the CVAE on MNIST train, store weights + ``train_elbo`` and write the model card; returns the card.

    ``limit`` trains on the first ``limit`` training images only (tests); the card says so.
    ``progress(epoch, epochs, mean_loss)`` is called after each epoch.
    """
    from core.images import to_float

    device = torch.device(device)
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    images_u8, y_all, data = training_digits(limit)
    x_all = torch.from_numpy(to_float(images_u8).reshape(-1, PIXELS))
    model = CVAE().to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=SCORER.lr)
    started = time.perf_counter()

    def step(x: torch.Tensor, y: torch.Tensor, _epoch: int, _index: int) -> tuple[torch.Tensor, dict[str, float]]:
        return -model.elbo(x, y, sample=True).mean(), {}

    def after_epoch(result: EpochResult) -> None:
        mean_loss = result.mean("loss")
        log.info("geninv scorer epoch %d/%d: mean negative ELBO %.2f nats", result.epoch + 1, epochs, mean_loss)
        if progress is not None:
            progress(result.epoch + 1, epochs, mean_loss)

    batches = reshuffled(x_all, y_all, SCORER.batch_size, generator, device)
    last = train_epochs(model, optimizer, epochs=epochs, batches=batches, step=step, after_epoch=after_epoch)
    mean_loss = last.mean("loss") if last is not None else float("nan")
    seconds = time.perf_counter() - started
    scorer = Scorer(model, np.zeros(0, np.float32), device)
    train_elbo = scorer.elbo_of(x_all, y_all).cpu().float()
    accuracy = elbo_classifier_accuracy(scorer, EVAL_COUNT)
    body: dict[str, Any] = {
        "family": "generative-scorer",
        "description": "class-conditional VAE used by GenInv to score edits and filter non-canonical digits",
        "architecture": (
            f"CVAE: encoder [784+10]->{HIDDEN}->ReLU->(mu, logvar) R^{LATENT}; "
            f"decoder [{LATENT}+10]->{HIDDEN}->ReLU->784 Bernoulli logits"
        ),
        "training": {
            "command": command,
            "data": data,
            "seed": seed,
            "epochs": epochs,
            "batch_size": SCORER.batch_size,
            "optimizer": f"Adam lr={SCORER.lr}",
            "seconds": round(seconds, 1),
            "device": machine_line(device),
            "final_mean_negative_elbo_nats": round(mean_loss, 3),
        },
        "evaluation": {
            "elbo_classifier_accuracy_first_1000_test": round(accuracy, 4),
            "command": "invariance geninv --eval-scorer",
            "definition": "argmax over y of ELBO(x, y) (z = mu) on the first 1000 MNIST test digits",
        },
    }
    tensors = {**model.state_dict(), "train_elbo": train_elbo}
    card = SCORER.save(folder, tensors, body, {"extra_tensors": {"train_elbo": "own-class ELBO of each train image"}})
    clear_cache()
    return card


def elbo_classifier_accuracy(scorer: Scorer, count: int = EVAL_COUNT) -> float:
    """Accuracy of ``argmax_y ELBO(x, y)`` on the first ``count`` MNIST test digits."""
    from core.data import load_mnist
    from core.images import to_float

    images, labels = load_mnist("test")
    x = torch.from_numpy(to_float(images[:count]))
    predicted = scorer.elbo_all(x).argmax(dim=1).cpu().numpy()
    return float((predicted == labels[:count]).mean())


def read_card(folder: Path | None = None) -> dict[str, Any]:
    """The scorer's model card; raises :class:`ModelError` if missing or malformed."""
    return SCORER.read_card(folder)


def update_card_evaluation(accuracy: float, folder: Path | None = None) -> dict[str, Any]:
    """Record a fresh ELBO-classifier accuracy in the card (``invariance geninv --eval-scorer``)."""
    _, card_path = scorer_paths(folder)
    card = read_card(folder)
    card.setdefault("evaluation", {})["elbo_classifier_accuracy_first_1000_test"] = round(accuracy, 4)
    cards.write_card_file(card_path, card)
    return card
