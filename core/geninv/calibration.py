"""``p_human``: the estimated probability that a person labelling blind sees a suggestion's target.

Every suggestion stores its **raw score** (``Suggestion.raw_score``): the judge's log-odds margin of the target
over the strongest other class, ``log p(target) - log max_{c != target} p(c)`` (nats, judge =
:mod:`core.geninv.judge`), minus 0.2 nats per ink pixel outside the image's largest connected component
(debris; ``core.geninv.refine.FRAGMENT_COST``). ``p_human = sigmoid(slope * raw + cost_slope * aligned_cost +
intercept)`` with a curve per norm (:class:`PHumanMapping`); the numbers live in a small JSON file next to the judge
(``checkpoints/geninv-judge.p_human.json``), so refitting on ratings needs no new search: :func:`fit_p_human`
takes the stored raw scores, aligned costs and rated outcomes and returns the new mapping
(:func:`fit_from_outcomes` does it from a rated pack), :func:`save_mapping` writes it.

Until ratings exist, the file holds a *prior* (``"fitted_on": 0``): chosen by hand so that a judge margin of
about 3 nats maps to 0.5 and the judge's ceiling (~5 nats, label smoothing) to ~0.85.

The second half of the module turns a rated pack into figures: :func:`read_rater_answers` reads answers
(the rater-view template filled in, or study answers files with ``order``), :func:`outcomes` joins them with
the organiser's mapping, and :func:`success_rates` / :func:`calibration_table` summarise them.
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, NamedTuple, TypeVar

import numpy as np

from core.errors import InvarianceError
from core.files import atomic_write_text

MAPPING_FORMAT: Final = 2
"""Format 2 adds a curve per norm, with the aligned neighbour's cost; format 1 files (one slope, one intercept) load."""
PRIOR_SLOPE: Final = 0.8
PRIOR_INTERCEPT: Final = -2.4
DEFAULT_BINS: Final = (0.0, 0.25, 0.5, 0.75, 1.0)
NOT_A_DIGIT: Final = -1
_T = TypeVar("_T")


class NormCurve(NamedTuple):
    """One norm's logistic curve: ``slope * raw + cost_slope * aligned_cost + intercept`` (logit)."""

    slope: float
    cost_slope: float
    intercept: float


@dataclass(frozen=True)
class PHumanMapping:
    """p_human = sigmoid(logit); ``fitted_on`` = ratings used (0: the hand-set prior).

    A norm with a curve of its own (``norms``, fitted on that norm's ratings) uses the judge's raw score and the
    **aligned cost** of the suggestion's neighbour x* (``Suggestion.aligned_cost``; ℓ0: pixels whose binarised value
    differs from the query, ℓ∞: squared excess over ε): an edit that spends the budget on a small part of a long way
    to x* leaves a half-made digit that people read as the source, however much the judge likes it. Otherwise, or
    without an aligned cost, ``slope * raw + intercept`` (fitted on every rating).
    """

    slope: float = PRIOR_SLOPE
    intercept: float = PRIOR_INTERCEPT
    fitted_on: int = 0
    note: str = "prior: judge margin of 3 nats -> 0.5 (not fitted on ratings yet)"
    norms: Mapping[str, NormCurve] = field(default_factory=dict)

    def __call__(
        self, raw: float | np.ndarray, *, norm: str | None = None, aligned_cost: float | np.ndarray | None = None
    ) -> np.ndarray:
        value = np.asarray(raw, dtype=np.float64)
        curve = self.norms.get(norm) if norm is not None and aligned_cost is not None else None
        if curve is None:
            logit = self.slope * value + self.intercept
        else:
            cost = np.asarray(aligned_cost, dtype=np.float64)
            logit = curve.slope * value + curve.cost_slope * cost + curve.intercept
        return 1.0 / (1.0 + np.exp(-logit))

    def describe(self) -> str:
        """One line: the note, the fallback curve and each norm's curve."""
        per_norm = "".join(
            f"; {name}: {c.slope:.3f} x raw {c.cost_slope:+.4f} x aligned cost {c.intercept:+.3f}"
            for name, c in sorted(self.norms.items())
        )
        return f"{self.note} (slope {self.slope:.3f}, intercept {self.intercept:.3f}{per_norm})"

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "format_version": MAPPING_FORMAT if self.norms else 1,
            "kind": "logistic",
            "slope": self.slope,
            "intercept": self.intercept,
            "fitted_on": self.fitted_on,
            "note": self.note,
        }
        if self.norms:
            data["norms"] = {name: curve._asdict() for name, curve in sorted(self.norms.items())}
        return data


def mapping_path(folder: Path | None = None) -> Path:
    from core.geninv.judge import JUDGE_NAME
    from core.paths import checkpoints_dir

    return (checkpoints_dir() if folder is None else folder) / f"{JUDGE_NAME}.p_human.json"


def load_mapping(folder: Path | None = None) -> PHumanMapping:
    """The stored mapping; the prior when no file exists; :class:`InvarianceError` when the file is malformed."""
    path = mapping_path(folder)
    if not path.exists():
        return PHumanMapping()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.get("format_version") not in (1, MAPPING_FORMAT) or data.get("kind") != "logistic":
            raise ValueError("unsupported format")
        slope, intercept = _finite(data["slope"]), _finite(data["intercept"])
        norms = {
            str(name): NormCurve(_finite(c["slope"]), _finite(c["cost_slope"]), _finite(c["intercept"]))
            for name, c in dict(data.get("norms", {})).items()
        }
        return PHumanMapping(slope, intercept, int(data.get("fitted_on", 0)), str(data.get("note", "")), norms)
    except (OSError, ValueError, KeyError, TypeError, AttributeError, IndexError) as error:
        raise InvarianceError(f"{path}: cannot read the p_human mapping ({error})") from None


def _finite(value: object) -> float:
    number = float(value)  # type: ignore[arg-type]
    if not math.isfinite(number):
        raise ValueError(f"non-finite parameter {value!r}")
    return number


def save_mapping(mapping: PHumanMapping, folder: Path | None = None) -> Path:
    path = mapping_path(folder)
    atomic_write_text(path, json.dumps(mapping.to_json(), indent=2) + "\n")
    return path


def raw_score(probs: np.ndarray, target: int) -> float:
    """Judge margin in nats: log p(target) - log max over the other classes of p. probs: (10,)."""
    p = np.clip(np.asarray(probs, dtype=np.float64), 1e-12, 1.0)
    others = np.delete(p, target)
    return float(np.log(p[target]) - np.log(others.max()))


def fit_p_human(
    raw_scores: Sequence[float] | np.ndarray,
    rated_success: Sequence[bool] | np.ndarray,
    *,
    norms: Sequence[str | None] | None = None,
    aligned_costs: Sequence[float | None] | None = None,
    c: float = 100.0,
    note: str = "",
) -> PHumanMapping:
    """Logistic regression (scikit-learn) of rated success (0/1) on raw scores.

    ``c`` is scikit-learn's inverse L2 strength: large (little shrinkage), but finite so that a perfectly
    separable set still gives finite parameters. With ``norms`` and ``aligned_costs`` (one per rating, None where
    unknown) each norm whose ratings have both outcomes also gets its own curve on (raw, aligned cost), fitted on
    its ratings that know their aligned cost. Raises :class:`InvarianceError` for empty, mismatched, non-finite or
    one-class input (a mapping needs both outcomes to be fitted).
    """
    x = np.asarray(raw_scores, dtype=np.float64).reshape(-1)
    y = np.asarray(rated_success, dtype=np.float64).reshape(-1)
    if x.size == 0 or x.shape != y.shape:
        raise InvarianceError(f"fit_p_human needs as many outcomes as scores (>0), got {x.size} and {y.size}")
    if not (np.isfinite(x).all() and np.isfinite(y).all()) or not np.isin(y, (0.0, 1.0)).all():
        raise InvarianceError("fit_p_human needs finite scores and outcomes that are 0 or 1")
    if np.unique(y).size < 2:
        raise InvarianceError("fit_p_human needs both successes and failures among the ratings")
    for name, given in (("norms", norms), ("aligned_costs", aligned_costs)):
        if given is not None and len(given) != x.size:
            raise InvarianceError(f"fit_p_human needs one of {name} per rating, got {len(given)} for {x.size}")
    (slope,), intercept = _logistic(x[:, None], y, c)
    curves: dict[str, NormCurve] = {}
    if norms is not None and aligned_costs is not None:
        for name in sorted({n for n in norms if n is not None}):
            known = [
                (i, float(cost))
                for i, (n, cost) in enumerate(zip(norms, aligned_costs, strict=True))
                if n == name and cost is not None and math.isfinite(cost)
            ]
            rows = [i for i, _ in known]
            if np.unique(y[rows]).size < 2:
                continue
            features = np.array([[x[i], cost] for i, cost in known])
            (raw_slope, cost_slope), offset = _logistic(features, y[rows], c)
            curves[name] = NormCurve(raw_slope, cost_slope, offset)
    return PHumanMapping(slope, intercept, int(x.size), note or f"logistic fit on {x.size} ratings", curves)


def _logistic(features: np.ndarray, outcomes: np.ndarray, c: float) -> tuple[list[float], float]:
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression(C=c, max_iter=5000).fit(features, outcomes.astype(int))
    return [float(w) for w in model.coef_[0]], float(model.intercept_[0])


def fit_from_outcomes(rated: Sequence[Outcome], *, note: str = "") -> PHumanMapping:
    """:func:`fit_p_human` on the rated suggestions (controls and items without a raw score skipped), with a curve
    per norm on the ratings that know their aligned cost."""
    kept = [(o.raw_score, o) for o in rated if not o.control and o.raw_score is not None]
    return fit_p_human(
        [score for score, _ in kept],
        [o.success for _, o in kept],
        norms=[o.norm for _, o in kept],
        aligned_costs=[o.aligned_cost for _, o in kept],
        note=note,
    )


# ---------------------------------------------------------------- rated packs


@dataclass(frozen=True)
class Outcome:
    """One rating of one trial: what was shown (from the organiser's mapping) and what the rater answered."""

    trial: int
    group: str
    control: bool
    source_label: int
    target_label: int | None
    p_human: float | None
    raw_score: float | None
    answer: int
    rater: str
    norm: str | None = None
    aligned_cost: float | None = None

    @property
    def success(self) -> bool:
        """Control: the rater saw the digit's own label; suggestion: the rater saw the target."""
        wanted = self.source_label if self.control else self.target_label
        return self.answer == wanted

    @property
    def source_seen(self) -> bool:
        return self.answer == self.source_label


def read_mapping_file(path: str | Path) -> list[dict[str, Any]]:
    """The organiser's mapping written with a human pack (``organiser/mapping.json``): one entry per trial."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        trials = data["trials"]
        if not isinstance(trials, list):
            raise TypeError("'trials' is not a list")
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise InvarianceError(f"{path}: cannot read the organiser mapping ({error})") from None
    return trials


def read_rater_answers(path: str | Path) -> tuple[str, dict[int, int]]:
    """(rater, {trial number (1-based): answer}) from a filled rater-view template or a study answers file.

    Rater-view: ``{"rater": "ada", "answers": [{"trial": 1, "answer": 7}, ...]}``; study answers files
    (``core.study.answers``) give ``order`` (0-based), converted to trial = order + 1. Answers: 0-9, or -1 /
    "N" / "X" for "not a digit"; empty answers are skipped.
    """
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise InvarianceError(f"{path}: cannot read answers ({error})") from None
    if not isinstance(data, dict):
        raise InvarianceError(f"{path}: answers must be a JSON object")
    rater = str(data.get("rater") or path.stem)
    answers: dict[int, int] = {}
    if isinstance(data.get("answers"), list):
        rows = [(row.get("trial"), row.get("answer")) for row in data["answers"] if isinstance(row, dict)]
    elif isinstance(data.get("trials"), list):
        rows = [
            (None if row.get("order") is None else int(row["order"]) + 1, row.get("answer"))
            for row in data["trials"]
            if isinstance(row, dict)
        ]
    else:
        raise InvarianceError(f"{path}: no 'answers' or 'trials' list")
    for trial, answer in rows:
        if answer is None or answer == "":
            continue
        if not isinstance(trial, int) or trial < 1:
            raise InvarianceError(f"{path}: bad trial number {trial!r}")
        answers[trial] = _parse_answer(answer, path, trial)
    return rater, answers


def _parse_answer(answer: object, path: Path, trial: int) -> int:
    if isinstance(answer, str) and answer.strip().upper() in ("N", "X", "-1"):
        return NOT_A_DIGIT
    try:
        value = int(str(answer).strip())
    except ValueError:
        raise InvarianceError(f"{path}: trial {trial}: answer {answer!r} is not 0-9, N or X") from None
    if not -1 <= value <= 9:
        raise InvarianceError(f"{path}: trial {trial}: answer {value} is not 0-9 or -1")
    return value


def outcomes(mapping: Sequence[Mapping[str, Any]], answers: Mapping[str, Mapping[int, int]]) -> list[Outcome]:
    """Join the organiser's mapping with each rater's answers ({rater: {trial: answer}})."""
    by_trial = {int(entry["trial"]): entry for entry in mapping}
    out: list[Outcome] = []
    for rater, given in answers.items():
        for trial, answer in sorted(given.items()):
            entry = by_trial.get(trial)
            if entry is None:
                raise InvarianceError(f"rater {rater}: trial {trial} is not in the pack's mapping")
            out.append(
                Outcome(
                    trial=trial,
                    group=str(entry["group"]),
                    control=bool(entry["control"]),
                    source_label=int(entry["source_label"]),
                    target_label=_optional(entry, "target_label", int),
                    p_human=_optional(entry, "p_human", float),
                    raw_score=_optional(entry, "raw_score", float),
                    answer=int(answer),
                    rater=rater,
                    norm=_optional(entry, "norm", str),
                    aligned_cost=_optional(entry, "aligned_cost", float),
                )
            )
    return out


def recompute_p_human(mapping: Sequence[dict[str, Any]], p_human: PHumanMapping) -> None:
    """Set each pack entry's ``p_human`` from its stored raw score (and norm, aligned cost) with ``p_human``, in
    place; entries without a raw score (controls) are left as they are."""
    for entry in mapping:
        if entry.get("raw_score") is not None:
            raw, norm, cost = float(entry["raw_score"]), entry.get("norm"), entry.get("aligned_cost")
            entry["p_human"] = float(p_human(raw, norm=norm, aligned_cost=cost))


def _optional(entry: Mapping[str, Any], key: str, kind: Callable[[Any], _T]) -> _T | None:
    """``kind(entry[key])``, or None where the entry has no value for ``key`` (controls, older packs)."""
    value = entry.get(key)
    return None if value is None else kind(value)


def success_rates(rated: Sequence[Outcome]) -> dict[str, dict[str, float | int]]:
    """Per group: ratings, success rate (target seen; controls: own label seen), share still seeing the source."""
    groups: dict[str, list[Outcome]] = {}
    for outcome in rated:
        groups.setdefault(outcome.group, []).append(outcome)
    return {
        name: {
            "ratings": len(rows),
            "success_rate": float(np.mean([row.success for row in rows])),
            "source_seen_rate": float(np.mean([row.source_seen for row in rows])),
        }
        for name, rows in sorted(groups.items())
    }


def calibration_table(
    rated: Sequence[Outcome], bins: Sequence[float] = DEFAULT_BINS
) -> list[dict[str, float | int | str]]:
    """Rated success by p_human bin over the suggestions (controls excluded); bins are [lo, hi), last closed."""
    edges = list(bins)
    if len(edges) < 2 or any(b <= a for a, b in itertools.pairwise(edges)):
        raise InvarianceError(f"calibration bins must increase, got {edges}")
    rows: list[dict[str, float | int | str]] = []
    scored = [o for o in rated if not o.control and o.p_human is not None]
    for low, high in itertools.pairwise(edges):
        last = high == edges[-1]
        members = [o for o in scored if low <= (o.p_human or 0.0) < high or (last and o.p_human == high)]
        rows.append(
            {
                "bin": f"[{low:.2f}, {high:.2f}{']' if last else ')'}",
                "ratings": len(members),
                "mean_p_human": float(np.mean([o.p_human or 0.0 for o in members])) if members else float("nan"),
                "success_rate": float(np.mean([o.success for o in members])) if members else float("nan"),
            }
        )
    return rows


__all__ = [
    "NormCurve",
    "Outcome",
    "PHumanMapping",
    "calibration_table",
    "fit_from_outcomes",
    "fit_p_human",
    "load_mapping",
    "mapping_path",
    "outcomes",
    "raw_score",
    "read_mapping_file",
    "read_rater_answers",
    "save_mapping",
    "success_rates",
]
