"""The model zoo: which models exist, how each is trained, and how to load one.

Hyper-parameters of every recipe live here, in one place; ``core.training.run`` turns an entry into a checkpoint
(``checkpoints/<name>.safetensors``) and a model card (``checkpoints/<name>.json``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final

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

    @property
    def init_from(self) -> str | None:
        """The zoo model whose weights training starts from (hyper-parameter ``init_from``), if any."""
        return _model_name(self.hyper.get("init_from"))

    @property
    def share_weights_with(self) -> str | None:
        """The zoo model whose weights this one uses instead of training (``share_weights_with``), if any."""
        return _model_name(self.hyper.get("share_weights_with"))


def _model_name(value: Any) -> str | None:
    return str(value) if value else None


LARGE: Final = "cnn-s2-large"
SMALL: Final = "cnn-s2-small"
_LINF_FAST: Final[dict[str, Any]] = {
    "epochs": 12,
    "batch_size": 100,
    "lr": 1e-3,
    "lr_drop_epoch": 9,
    "alpha_factor": 1.25,
    "ramp_epochs": 3,
}
_SLIDE: Final[dict[str, Any]] = {
    "epochs": 4,
    "batch_size": 100,
    "lr": 1e-3,
    "lr_drop_epoch": 3,
    "steps": 3,
    "sparsity": 99.0,
    "ramp_epochs": 1,
}

_TABLE: Final[tuple[ZooEntry, ...]] = (
    ZooEntry(
        name="undefended",
        family="standard",
        description="Standard CNN, no defence",
        architecture=LARGE,
        recipe="standard",
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
        name="linf-pgd-0.3",
        family="linf-adversarial",
        description="ℓ∞ adversarial training: FGSM + random start, then PGD-5 (PGD-checked every epoch)",
        architecture=LARGE,
        recipe="fgsm-rs",
        norm="linf",
        eps=0.3,
        hyper={**_LINF_FAST, "epochs": 12, "lr_drop_epoch": 10, "pgd_from_epoch": 9, "pgd_steps": 5},
    ),
    ZooEntry(
        name="l2-pgd-2.0",
        family="l2-adversarial",
        description="ℓ2 adversarial training (PGD)",
        architecture=LARGE,
        recipe="pgd",
        norm="l2",
        eps=2.0,
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
        name="l1-slide-10",
        family="l1-adversarial",
        description="ℓ1 adversarial training with Sparse ℓ1 Descent (ℓ0 proxy)",
        architecture=LARGE,
        recipe="slide",
        norm="l1",
        eps=10.0,
        hyper={**_SLIDE, "epochs": 5, "lr_drop_epoch": 4},
    ),
    ZooEntry(
        name="ibp-0.4",
        family="certified",
        description="Certified training with interval bound propagation (IBP)",
        architecture=LARGE,
        recipe="ibp",
        norm="linf",
        eps=0.4,
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
        name="abs",
        family="analysis-by-synthesis",
        description="ABS: one VAE per class (latent 8), ELBO classification",
        architecture="abs-vae8",
        recipe="abs",
        slow=True,
        hyper={"epochs": 20, "lr": 3e-3, "lr_drop_epoch": 16, "sigma": 0.2, "contrast_weight": 20},
    ),
    ZooEntry(
        name="binary-abs",
        family="analysis-by-synthesis",
        description="Binary ABS: ABS on inputs binarised at 0.5",
        architecture="binary-abs-vae8",
        recipe="abs",
        slow=True,
        hyper={"share_weights_with": "abs"},
    ),
    ZooEntry(
        name="spatial-linf-0.3",
        family="spatial-adversarial",
        description="Rotation (±30°) + translation (±3 px), then ℓ∞ noise (the paper's Figure 7 models), half loss on "
        "clean",
        architecture=LARGE,
        recipe="spatial",
        norm="linf",
        eps=0.3,
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
        name="linf-pgd-0.1",
        family="linf-adversarial",
        description="ℓ∞ sweep (Figure 6), small CNN",
        architecture=SMALL,
        recipe="fgsm-rs",
        norm="linf",
        eps=0.1,
        hyper={**_LINF_FAST, "epochs": 6, "lr_drop_epoch": 5, "ramp_epochs": 2},
    ),
    ZooEntry(
        name="linf-pgd-0.2",
        family="linf-adversarial",
        description="ℓ∞ sweep (Figure 6): FGSM + random start, then PGD-5",
        architecture=LARGE,
        recipe="fgsm-rs",
        norm="linf",
        eps=0.2,
        hyper={**_LINF_FAST, "epochs": 8, "lr_drop_epoch": 6, "ramp_epochs": 2, "pgd_from_epoch": 6, "pgd_steps": 5},
    ),
    ZooEntry(
        name="linf-pgd-0.4",
        family="linf-adversarial",
        description="ℓ∞ sweep (Figure 6), PGD-5 training (FGSM training collapses at ε=0.4)",
        architecture=LARGE,
        recipe="pgd",
        norm="linf",
        eps=0.4,
        hyper={"epochs": 8, "batch_size": 100, "lr": 1e-3, "lr_drop_epoch": 7, "steps": 5, "ramp_epochs": 4},
    ),
    ZooEntry(
        name="l1-slide-5",
        family="l1-adversarial",
        description="ℓ1 sweep (Figure 6), small CNN",
        architecture=SMALL,
        recipe="slide",
        norm="l1",
        eps=5.0,
        hyper={**_SLIDE, "epochs": 3, "lr_drop_epoch": 2, "steps": 3},
    ),
    ZooEntry(
        name="l1-slide-15",
        family="l1-adversarial",
        description="ℓ1 sweep (Figure 6), fine-tuned from l1-slide-10, SLIDE-10 training, half the loss on clean "
        "images",
        architecture=LARGE,
        recipe="slide",
        norm="l1",
        eps=15.0,
        hyper={
            **_SLIDE,
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
)
"""The shipped zoo, in display order: each entry by keyword; ``hyper`` is what its recipe's typed hyper-parameters
(``core.training.recipes``) read, checked when the model is trained (and, for every entry, by the tests)."""


ZOO: dict[str, ZooEntry] = {entry.name: entry for entry in _TABLE}


def get_entry(name: str) -> ZooEntry:
    try:
        return ZOO[name]
    except KeyError:
        raise ModelError(f"unknown model {name!r}; known models: {', '.join(ZOO)}") from None


def list_models() -> list[str]:
    """Every registry name, in display order."""
    return list(ZOO)
