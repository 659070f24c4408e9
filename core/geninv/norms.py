"""GenInv's two searches, one per norm it supports: the one place in GenInv that looks at a norm.

- **ℓ0** counts changed pixels (:attr:`core.budget.Norm.whole_pixels`), so its budget is spent on whole pixels
  and GenInv matches *shapes*: candidates of any other class, compared on binarised images (pixel > 1/2,
  Hamming distance; grey-level squared error as the alignment's smooth surrogate), then the change is cut down
  pixel by pixel within the budget (:mod:`core.geninv.greedy`; default ε: the paper's 25 pixels,
  :data:`L0_BUDGET`), or cluster by cluster without one (ε None, ``--eps none``: :mod:`core.geninv.refine`).
- **ℓ∞** bounds every pixel's change, so GenInv matches *grey levels*: candidates of a convincing target class
  (:data:`core.geninv.api.LINF_TARGETS`), compared by the squared excess of the difference over ε, then the
  aligned digit is projected onto the ε-ball around the query. ε is required and at most the norm's ``eps_max``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final

from core.budget import Norm, get_norm
from core.errors import BudgetError


@dataclass(frozen=True)
class SearchDefaults:
    """Search settings whose defaults depend on the norm and budget (``SearchSettings`` None takes them)."""

    pool: int
    """Candidates per query that get gradient alignment."""
    widen_below: float
    """Raw score (nats) under which a budgeted digit's best suggestion counts as weak and is searched again, wider
    (raters saw the target more often on the digits this changed: docs/evidence/geninv-widen-ab/)."""


@dataclass(frozen=True)
class Search:
    """How GenInv searches in one norm (see the module docstring)."""

    norm: Norm
    eps_required: bool
    """ε must be given (ℓ∞); otherwise None means no budget (ℓ0)."""
    eps_limit: float
    """The largest ε accepted."""
    default_eps: float | None
    """The ε ``invariance geninv`` and human packs use when none is given: ℓ0 the paper's 25 pixels (Figure 1);
    None for ℓ∞, which must be given one."""
    bench_eps: float | None
    """The ε ``invariance bench geninv`` uses when none is given: ℓ0 25 pixels, ℓ∞ the paper's 0.3."""
    defaults: SearchDefaults
    """The search settings that depend on the norm, unless the caller sets them (``SearchSettings``)."""
    above_paper: SearchDefaults | None = None
    """ℓ0: those above the paper's 25 pixels (:data:`L0_ABOVE_PAPER`); None: ``defaults`` at every budget."""

    @property
    def name(self) -> str:
        return self.norm.name

    @property
    def shapes(self) -> bool:
        """True: the ℓ0 search (binarised shapes, any other class, cluster refinement); False: the ℓ∞ one."""
        return self.norm.whole_pixels

    def check_eps(self, eps: float) -> float:
        """``eps`` as a float: a whole number of pixels >= 1 (ℓ0), in (0, 1] (ℓ∞); else :class:`BudgetError`."""
        where = f"GenInv {self.name} budget eps"
        value = self.norm.validate_eps(eps, positive=True, where=where)
        if value > self.eps_limit:
            raise BudgetError(f"{where} must be in (0, {self.eps_limit:g}], got {eps:g}")
        return value

    def defaults_for(self, eps: float | None) -> SearchDefaults:
        """The norm's search defaults at budget ``eps`` (None: no budget)."""
        if self.above_paper is not None and eps is not None and eps > L0_BUDGET:
            return self.above_paper
        return self.defaults

    def budget_after_snapping(self, eps: float, slack: float) -> float:
        """The budget around the query snapped to the uint8 grid, which moved each pixel by ``slack`` <= 1/510.

        ℓ0 does not count such small changes; ℓ∞ keeps its budget around the *given* image too.
        """
        return eps if self.shapes else max(0.0, eps - slack)


_LINF = get_norm("linf")
L0_BUDGET: Final = 25.0
"""GenInv's default ℓ0 budget: the paper's 25 changed pixels (Figure 1; its human study's mean was 25.9)."""
SEARCH_DEFAULTS: Final = SearchDefaults(pool=24, widen_below=2.0)
"""ℓ∞, and ℓ0 at the paper's 25 pixels or fewer or unbudgeted: 24 candidates aligned per query; a digit whose best
suggestion scores under 2 nats is searched again, wider."""
L0_ABOVE_PAPER: Final = SearchDefaults(pool=96, widen_below=3.0)
"""ℓ0 above the paper's 25 pixels. It aligns 96 candidates per query and refines the best aligned of them: with the
budget counted in pixels, a closer neighbour's change is more within reach (on 64 tuning digits at 30 pixels the
chosen neighbour's mean aligned cost fell from 55.0 to 50.7 pixels); on 140 fresh digits at 30 pixels (the 2037 and
2038 blind packs, AI raters) the target was seen in 561 of 840 ratings against 541 with 24, while at 25 pixels it made
no difference (160 against 161 of 240), so the paper's budget keeps the faster pool of 24. And a digit whose best
suggestion scores under 3 nats is searched again, wider: on the tuning digits this changed, seen in 91 against 74 of
112 ratings; on the held-out ones, 163 against 154 of 222 (docs/geninv.md, "ℓ0 at 30 pixels (the 2037-2039 packs)")."""
SEARCHES: Final[dict[str, Search]] = {
    "l0": Search(
        get_norm("l0"), eps_required=False, eps_limit=math.inf, default_eps=L0_BUDGET, bench_eps=L0_BUDGET,
        defaults=SEARCH_DEFAULTS, above_paper=L0_ABOVE_PAPER,
    ),
    "linf": Search(
        _LINF, eps_required=True, eps_limit=_LINF.eps_max, default_eps=None, bench_eps=_LINF.eps_default,
        defaults=SEARCH_DEFAULTS,
    ),
}  # fmt: skip
"""GenInv's searches by norm name."""

SUPPORTED_NORMS: Final = tuple(SEARCHES)


def search_for(norm: str) -> Search:
    """GenInv's search for ``norm``; :class:`BudgetError` for an unknown norm or one GenInv does not support."""
    get_norm(norm)
    if norm not in SEARCHES:
        raise BudgetError(f"GenInv supports the norms {', '.join(SUPPORTED_NORMS)}, not {norm!r}")
    return SEARCHES[norm]


def alignment_search(norm: str) -> Search:
    """The search whose alignment objective suits any of the four norms: ℓ0's for a pixel-counting norm, ℓ∞'s
    otherwise (ℓ1/ℓ2 edits also change few pixels by a lot or many a little; the ℓ∞ surrogate gives an aligned
    digit that overlaps the query best)."""
    counts_pixels = get_norm(norm).whole_pixels
    return next(search for search in SEARCHES.values() if search.shapes == counts_pixels)
