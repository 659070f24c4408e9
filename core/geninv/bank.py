"""The candidate bank: the query-independent part of GenInv, built once per process and device.

It holds the filtered training digits S (all classes; the per-query "label differs" mask is applied at
search time), their float images on the device, and two low-rank (PCA) sketches used by the coarse pass:

- ``binary``: PCA of the binarised images (pixel > 1/2). For 0/1 vectors the squared ℓ2 distance *is* the
  Hamming distance (= ℓ0 between binarised images), so distances in this sketch approximate the ℓ0 objective;
- ``grey``: PCA of the grey-level images, for the ℓ∞ objective (distance left after an ℓ∞ projection).

Squared distances are estimated as ``||Pq - Pc||^2 + ||r_q||^2 + ||r_c||^2`` (projection plus both
residual energies, the small residual cross term ignored), one matrix multiply per query batch.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from dataclasses import dataclass
from typing import Final

import numpy as np
import torch

from core.cache import KeyedCache
from core.errors import InvarianceError

log = logging.getLogger(__name__)

DROP_FRACTION: Final = 0.2
"""Share of each class's least canonical training digits (lowest own-class ELBO) left out of S."""
SKETCH_DIM: Final = 64
PCA_SAMPLE: Final = 8000


@dataclass(frozen=True)
class Sketch:
    """Low-rank sketch of one view of the bank: mean (784,), basis (784, D), extended coefficients (N, D + 2)."""

    mean: torch.Tensor
    basis: torch.Tensor
    extended: torch.Tensor
    """[c, 1, ||c - mean||^2] per candidate (N, D + 2): one matrix multiply gives estimated squared distances."""

    def query_terms(self, flat: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """flat (Q, 784) -> (coefficients (Q, D), ||q||^2 + ||r_q||^2 (Q,))."""
        centred = flat - self.mean
        coefficients = centred @ self.basis
        return coefficients, torch.einsum("np,np->n", centred, centred)


@dataclass(frozen=True)
class CandidateBank:
    """Training digits GenInv may borrow from, on one device.

    images (N, 28, 28) float32 in [0, 1]; labels (N,) int64; train_indices (N,) int64 (index into MNIST train).
    """

    images: torch.Tensor
    labels: torch.Tensor
    train_indices: torch.Tensor
    binary: Sketch
    grey: Sketch
    device: torch.device
    build_seconds: float

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    @classmethod
    def from_arrays(
        cls,
        images: np.ndarray,
        labels: np.ndarray,
        train_indices: np.ndarray | None = None,
        *,
        device: torch.device | str = "cpu",
        sketch_dim: int = SKETCH_DIM,
        seed: int = 0,
    ) -> CandidateBank:
        """Bank from float images (N, 28, 28) in [0, 1] (or uint8) and labels (N,); no filtering."""
        started = time.perf_counter()
        device = torch.device(device)
        array = np.asarray(images)
        if array.ndim != 3 or array.shape[1:] != (28, 28) or array.shape[0] == 0:
            raise InvarianceError(f"candidate pool must be a non-empty (N, 28, 28) array, got shape {array.shape}")
        if array.dtype == np.uint8:
            image_t = torch.from_numpy(np.ascontiguousarray(array)).to(device).float().div_(255.0)
        else:
            if not np.isfinite(array).all():
                raise InvarianceError("candidate pool contains NaN or infinite values")
            image_t = torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32)).clamp(0, 1).to(device)
        labels_np = np.asarray(labels, dtype=np.int64)
        if labels_np.shape != (array.shape[0],):
            raise InvarianceError(f"candidate pool has {array.shape[0]} images but {labels_np.shape} labels")
        indices = np.arange(array.shape[0]) if train_indices is None else np.asarray(train_indices, dtype=np.int64)
        flat = image_t.reshape(image_t.shape[0], -1)
        generator = torch.Generator().manual_seed(seed)
        sample = torch.randperm(flat.shape[0], generator=generator)[:PCA_SAMPLE].to(device)
        binary = _sketch((flat > 0.5).to(flat.dtype), sample, sketch_dim)
        grey = _sketch(flat, sample, sketch_dim)
        return cls(
            images=image_t,
            labels=torch.from_numpy(labels_np).to(device),
            train_indices=torch.from_numpy(indices).to(device),
            binary=binary,
            grey=grey,
            device=device,
            build_seconds=time.perf_counter() - started,
        )


def canonical_indices(labels: np.ndarray, own_elbo: np.ndarray, drop_fraction: float = DROP_FRACTION) -> np.ndarray:
    """Indices kept after dropping, per class, the ``drop_fraction`` with the lowest own-class ELBO (sorted)."""
    keep: list[np.ndarray] = []
    for digit in np.unique(labels):
        members = np.flatnonzero(labels == digit)
        order = members[np.argsort(own_elbo[members], kind="stable")]
        keep.append(order[round(drop_fraction * members.size) :])
    return np.sort(np.concatenate(keep)) if keep else np.zeros(0, np.int64)


_BANKS: KeyedCache[CandidateBank] = KeyedCache()


def default_bank(device: torch.device | str = "cpu", pool_size: int | None = None) -> CandidateBank:
    """MNIST train minus the 20% least canonical digits per class, cached per process, device and pool size.

    ``pool_size`` restricts the bank to the first ``pool_size`` training digits (quick runs and tests);
    the canonical filter then uses the scorer's ELBOs of those digits.
    """
    from core.data import load_mnist
    from core.geninv.scorer import load_scorer

    device = torch.device(device)

    def build() -> CandidateBank:
        started = time.perf_counter()
        images, labels = load_mnist("train")
        if pool_size is not None:
            if not 1 <= pool_size <= labels.shape[0]:
                raise InvarianceError(f"pool size must be between 1 and {labels.shape[0]}, got {pool_size}")
            images, labels = images[:pool_size], labels[:pool_size]
        scorer = load_scorer(device)
        if scorer.train_elbo.shape[0] < labels.shape[0]:
            raise InvarianceError(
                f"GenInv scorer has ELBOs for {scorer.train_elbo.shape[0]} training digits, the bank needs "
                f"{labels.shape[0]}; retrain it with 'invariance geninv --train-scorer'"
            )
        kept = canonical_indices(labels, scorer.train_elbo[: labels.shape[0]])
        bank = CandidateBank.from_arrays(images[kept], labels[kept], kept, device=device)
        seconds = time.perf_counter() - started
        log.info("GenInv candidate bank: %d training digits on %s, built in %.2f s", len(bank), device, seconds)
        return dataclasses.replace(bank, build_seconds=seconds)

    return _BANKS.get((str(device), pool_size), build)


def clear_banks() -> None:
    """Forget the cached default banks."""
    _BANKS.clear()


def _sketch(flat: torch.Tensor, sample: torch.Tensor, dim: int) -> Sketch:
    mean = flat[sample].mean(dim=0)
    centred_sample = flat[sample] - mean
    dim = max(1, min(dim, centred_sample.shape[0] - 1, flat.shape[1]))
    covariance = centred_sample.T @ centred_sample
    _, vectors = torch.linalg.eigh(covariance.double())
    basis = vectors[:, -dim:].flip(1).to(flat.dtype).contiguous()
    centred = flat - mean
    coefficients = centred @ basis
    total = torch.einsum("np,np->n", centred, centred)
    extended = torch.cat([coefficients, torch.ones_like(total)[:, None], total[:, None]], dim=1).contiguous()
    return Sketch(mean=mean, basis=basis, extended=extended)
