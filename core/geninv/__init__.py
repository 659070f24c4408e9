"""GenInv: fast model-agnostic invariance suggestions for ℓ0 and ℓ∞ (paper Section 4.1 and Appendix A).

``suggest(image, label, norm, eps=None, k=5, seed=0, device=None)`` returns up to k :class:`Suggestion`
objects, best first; ``suggest_batch`` does the same for many digits. Modules: ``transforms`` (affine ranges
and warping), ``bank`` (the cached candidate bank), ``norms`` (the ℓ0 and ℓ∞ searches: all that depends on the
norm), ``search`` (coarse pass + gradient alignment), ``refine`` (ℓ0 cluster subsets), ``scorer``
(class-conditional VAE, filters the bank), ``judge`` (CNN ensemble that ranks edits), ``calibration`` (p_human:
mapping, refitting, rated-pack figures), ``human_pack`` (blind study packs), ``api`` (the entry points).
"""

from core.geninv.api import (
    DISTORTION_KEYS,
    LINF_TARGETS,
    CancelledError,
    SearchSettings,
    Suggestion,
    suggest,
    suggest_batch,
)
from core.geninv.bank import CandidateBank, canonical_indices, default_bank
from core.geninv.calibration import PHumanMapping, fit_p_human, load_mapping
from core.geninv.judge import Judge, load_judge, train_judge
from core.geninv.norms import SUPPORTED_NORMS
from core.geninv.scorer import Scorer, load_scorer, train_scorer
from core.geninv.transforms import TransformParams

__all__ = [
    "DISTORTION_KEYS",
    "LINF_TARGETS",
    "SUPPORTED_NORMS",
    "CancelledError",
    "CandidateBank",
    "Judge",
    "PHumanMapping",
    "Scorer",
    "SearchSettings",
    "Suggestion",
    "TransformParams",
    "canonical_indices",
    "default_bank",
    "fit_p_human",
    "load_judge",
    "load_mapping",
    "load_scorer",
    "suggest",
    "suggest_batch",
    "train_judge",
    "train_scorer",
]
