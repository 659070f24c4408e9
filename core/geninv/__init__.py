"""GenInv: fast model-agnostic invariance suggestions for ℓ0 and ℓ∞ (paper Section 4.1 and Appendix A).

``suggest(image, label, norm, eps=None, k=5, seed=0, device=None)`` returns up to k :class:`Suggestion`
objects, best first; ``suggest_batch`` does the same for many digits. Modules: ``transforms`` (affine ranges
and warping), ``bank`` (the cached candidate bank), ``search`` (coarse pass + gradient alignment),
``refine`` (ℓ0 cluster subsets), ``scorer`` (class-conditional VAE), ``api`` (the entry points).
"""

from core.geninv.api import (
    DISTORTION_KEYS,
    LINF_TARGETS,
    SUPPORTED_NORMS,
    CancelledError,
    SearchSettings,
    Suggestion,
    suggest,
    suggest_batch,
)
from core.geninv.bank import CandidateBank, canonical_indices, default_bank
from core.geninv.scorer import Scorer, load_scorer, train_scorer
from core.geninv.transforms import TransformParams

__all__ = [
    "DISTORTION_KEYS",
    "LINF_TARGETS",
    "SUPPORTED_NORMS",
    "CancelledError",
    "CandidateBank",
    "Scorer",
    "SearchSettings",
    "Suggestion",
    "TransformParams",
    "canonical_indices",
    "default_bank",
    "load_scorer",
    "suggest",
    "suggest_batch",
    "train_scorer",
]
