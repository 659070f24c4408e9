"""A prior over (source, target) pairs for ranking one digit's ℓ0 suggestions.

People see some targets far less often than the judge's raw score says, and others more: over 4631 blind ratings of
1443 ℓ0 suggestions (tuning digits, and the 2027-2033 packs, which no current figure uses), a 9 made into a 7, an 8
into a 3 or a 0 into a 7 was seen much less often than suggestions of the same raw score, and a 9 into a 4 or a 0 into
a 6 much more. :data:`PAIR_PRIOR_NATS` holds that
offset per pair in the raw score's units (nats), fitted by ``docs/evidence/geninv-pair-prior/fit.py`` (logistic
regression with a penalised offset per pair, its penalty chosen by leave-one-pack-out likelihood; ``fit.log``).

Only the order of one digit's suggestions uses it (:func:`ranking_score`): which target to offer first, when the
search found several. ``raw_score`` and ``p_human`` are left as they were. Offsets shared by every target of a source
digit do not change its order. ℓ∞ suggestions are ranked by their raw score alone: their targets are fixed per source
digit (``core.geninv.api.LINF_TARGETS``) and the prior was fitted on ℓ0 ratings.
"""

from __future__ import annotations

from typing import Final

PAIR_PRIOR_NATS: Final[tuple[tuple[float, ...], ...]] = (
    (0.0, 0.1, -0.6, -0.1, -0.3, 0.1, 1.4, -2.1, 0.5, 1.1),
    (0.0, 0.0, 0.2, -0.1, -0.1, 0.0, 0.3, 1.6, 0.9, 0.1),
    (-0.2, 0.2, 0.0, -0.7, -0.8, -0.2, 0.3, -0.7, 0.5, -0.1),
    (-0.7, -0.7, 0.9, 0.0, 0.0, 1.3, 0.7, 0.0, 0.7, 0.4),
    (0.0, 0.9, 0.0, 0.0, 0.0, 0.0, -0.3, -0.4, 0.0, 0.5),
    (0.1, -0.4, 0.0, -0.3, 0.0, 0.0, 0.9, 0.1, 0.5, 0.4),
    (0.0, -0.2, 0.1, 0.0, 0.0, -0.6, 0.0, 0.0, 0.0, -0.9),
    (0.0, 0.9, 0.9, 0.0, -0.4, 0.0, 0.0, 0.0, 0.0, 1.7),
    (-0.4, -0.4, -0.6, -1.6, -1.2, -1.3, -0.3, -0.2, 0.0, -0.2),
    (0.1, 0.1, 0.0, -0.9, 1.4, 0.2, 0.0, -2.1, 0.0, 0.0),
)
"""``PAIR_PRIOR_NATS[source][target]``: nats added to the raw score when ranking an ℓ0 suggestion (``fit.log``)."""

RANKED_NORMS: Final = frozenset({"l0"})


def pair_prior(norm: str, source: int, target: int) -> float:
    """The prior's offset (nats) for a ``norm`` suggestion turning ``source`` into ``target``; 0 for other norms."""
    return PAIR_PRIOR_NATS[source][target] if norm in RANKED_NORMS else 0.0


def ranking_score(raw_score: float, norm: str, source: int, target: int) -> float:
    """What orders one digit's suggestions, highest first: the raw score plus the pair's prior."""
    return raw_score + pair_prior(norm, source, target)
