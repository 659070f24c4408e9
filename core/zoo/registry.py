"""The model zoo: which models exist, how each is trained, and how to load one.

Hyper-parameters of every recipe live here, in one place; ``core.training.run`` turns an entry into a checkpoint
(``checkpoints/<name>.safetensors``) and a model card (``checkpoints/<name>.json``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from core.errors import ModelError


@dataclass(frozen=True)
class ZooEntry:
    """One model of the zoo.

    ``norm``/``eps`` give the threat model it was trained against (``None`` for undefended / ABS);
    ``certified`` models are plain Sequential networks whose robustness ``core.certify`` can verify;
    ``slow`` models take far longer than a feed-forward pass (the editor updates them asynchronously);
    ``origin`` is ``"zoo"`` for the shipped models and ``"user"`` for models added with ``invariance models add``.
    """

    name: str
    family: str
    description: str
    architecture: str
    recipe: str
    norm: str | None = None
    eps: float | None = None
    certified: bool = False
    slow: bool = False
    hyper: dict[str, Any] = field(default_factory=dict)
    origin: str = "zoo"


def _entries() -> list[ZooEntry]:
    large, small = "cnn-s2-large", "cnn-s2-small"
    linf_fast = {
        "epochs": 12,
        "batch_size": 100,
        "lr": 1e-3,
        "lr_drop_epoch": 9,
        "alpha_factor": 1.25,
        "ramp_epochs": 3,
    }
    sweep_linf = {**linf_fast, "epochs": 6, "lr_drop_epoch": 5, "ramp_epochs": 2}
    slide = {
        "epochs": 4,
        "batch_size": 100,
        "lr": 1e-3,
        "lr_drop_epoch": 3,
        "steps": 3,
        "sparsity": 99.0,
        "ramp_epochs": 1,
    }
    sweep_slide = {**slide, "epochs": 3, "lr_drop_epoch": 2, "steps": 3}
    return [
        ZooEntry(
            "undefended",
            "standard",
            "Standard CNN, no defence",
            large,
            "standard",
            hyper={
                "epochs": 15,
                "batch_size": 100,
                "lr": 1e-3,
                "lr_drop_epoch": 11,
                "augment_degrees": 10.0,
                "augment_shift": 2.0,
            },
        ),
        ZooEntry(
            "linf-pgd-0.3",
            "linf-adversarial",
            "ℓ∞ adversarial training: FGSM + random start, then PGD-5 (PGD-checked every epoch)",
            large,
            "fgsm-rs",
            "linf",
            0.3,
            hyper={**linf_fast, "epochs": 12, "lr_drop_epoch": 10, "pgd_from_epoch": 9, "pgd_steps": 5},
        ),
        ZooEntry(
            "l2-pgd-2.0",
            "l2-adversarial",
            "ℓ2 adversarial training (PGD)",
            large,
            "pgd",
            "l2",
            2.0,
            hyper={
                "epochs": 8,
                "batch_size": 100,
                "lr": 1e-3,
                "lr_drop_epoch": 6,
                "steps": 7,
                "ramp_epochs": 2,
                "train_eps": 2.2,
            },
        ),
        ZooEntry(
            "l1-slide-10",
            "l1-adversarial",
            "ℓ1 adversarial training with Sparse ℓ1 Descent (ℓ0 proxy)",
            large,
            "slide",
            "l1",
            10.0,
            hyper={**slide, "epochs": 5, "lr_drop_epoch": 4},
        ),
        ZooEntry(
            "ibp-0.4",
            "certified",
            "Certified training with interval bound propagation (IBP)",
            large,
            "ibp",
            "linf",
            0.4,
            certified=True,
            hyper={
                "epochs": 50,
                "batch_size": 100,
                "lr": 1e-3,
                "lr_drop_epoch": 40,
                "train_eps": 0.42,
                "warmup_epochs": 1,
                "ramp_epochs": 20,
                "kappa_end": 0.7,
            },
        ),
        ZooEntry(
            "abs",
            "analysis-by-synthesis",
            "ABS: one VAE per class (latent 8), ELBO classification",
            "abs-vae8",
            "abs",
            slow=True,
            hyper={"epochs": 20, "lr": 3e-3, "lr_drop_epoch": 16, "sigma": 0.2, "contrast_weight": 20},
        ),
        ZooEntry(
            "binary-abs",
            "analysis-by-synthesis",
            "Binary ABS: ABS on inputs binarised at 0.5",
            "binary-abs-vae8",
            "abs",
            slow=True,
            hyper={"share_weights_with": "abs"},
        ),
        ZooEntry(
            "spatial-linf-0.3",
            "spatial-adversarial",
            "Rotation (±30°) + translation (±3 px), then ℓ∞ noise (the paper's Figure 7 models), half loss on clean",
            large,
            "spatial",
            "linf",
            0.3,
            hyper={
                "init_from": "linf-pgd-0.3",
                "epochs": 10,
                "batch_size": 100,
                "lr": 5e-4,
                "lr_drop_epoch": 8,
                "ramp_epochs": 1,
                "ramp_start": 1.0,
                "transforms": 10,
                "pgd_steps": 3,
                "clean_weight": 0.5,
            },
        ),
        ZooEntry(
            "linf-pgd-0.1",
            "linf-adversarial",
            "ℓ∞ sweep (Figure 6), small CNN",
            small,
            "fgsm-rs",
            "linf",
            0.1,
            hyper=sweep_linf,
        ),
        ZooEntry(
            "linf-pgd-0.2",
            "linf-adversarial",
            "ℓ∞ sweep (Figure 6): FGSM + random start, then PGD-5",
            large,
            "fgsm-rs",
            "linf",
            0.2,
            hyper={**linf_fast, "epochs": 8, "lr_drop_epoch": 6, "ramp_epochs": 2, "pgd_from_epoch": 6, "pgd_steps": 5},
        ),
        ZooEntry(
            "linf-pgd-0.4",
            "linf-adversarial",
            "ℓ∞ sweep (Figure 6), PGD-5 training (FGSM training collapses at ε=0.4)",
            large,
            "pgd",
            "linf",
            0.4,
            hyper={"epochs": 8, "batch_size": 100, "lr": 1e-3, "lr_drop_epoch": 7, "steps": 5, "ramp_epochs": 4},
        ),
        ZooEntry(
            "l1-slide-5",
            "l1-adversarial",
            "ℓ1 sweep (Figure 6), small CNN",
            small,
            "slide",
            "l1",
            5.0,
            hyper=sweep_slide,
        ),
        ZooEntry(
            "l1-slide-15",
            "l1-adversarial",
            "ℓ1 sweep (Figure 6), fine-tuned from l1-slide-10, SLIDE-10 training, half the loss on clean images",
            large,
            "slide",
            "l1",
            15.0,
            hyper={
                **slide,
                "init_from": "l1-slide-10",
                "epochs": 2,
                "lr": 5e-4,
                "lr_drop_epoch": 1,
                "ramp_epochs": 1,
                "ramp_start": 2 / 3,
                "clean_weight": 0.5,
                "steps": 10,
            },
        ),
    ]


ZOO: dict[str, ZooEntry] = {entry.name: entry for entry in _entries()}


def get_entry(name: str) -> ZooEntry:
    try:
        return ZOO[name]
    except KeyError:
        raise ModelError(f"unknown model {name!r}; known models: {', '.join(ZOO)}") from None


def list_models() -> list[str]:
    """Every registry name, in display order."""
    return list(ZOO)
