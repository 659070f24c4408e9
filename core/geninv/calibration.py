"""``p_human``: the estimated probability that a person labelling blind sees a suggestion's target.

Every suggestion stores its **raw score** (``Suggestion.raw_score``): the judge's log-odds margin of the target
over the strongest other class, ``log p(target) - log max_{c != target} p(c)`` (nats, judge =
:mod:`core.geninv.judge`), minus 0.2 nats per ink pixel outside the image's largest connected component
(debris; ``core.geninv.refine.FRAGMENT_COST``). ``p_human = sigmoid(slope * raw + intercept)``; the two
numbers live in a small JSON file next to the judge (``checkpoints/geninv-judge.p_human.json``), so
refitting on ratings needs no new search: :func:`fit_p_human` takes the stored raw scores and the rated
outcomes and returns the new mapping (:func:`fit_from_outcomes` does it from a rated pack), :func:`save_mapping`
writes it.

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
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import numpy as np

from core.errors import InvarianceError
from core.files import atomic_write_text

MAPPING_FORMAT: Final = 2
"""Format 2 adds per-norm parameters and (source, target) offsets; format 1 files (one slope, one intercept) load."""
PRIOR_SLOPE: Final = 0.8
PRIOR_INTERCEPT: Final = -2.4
PAIR_SCALE: Final = 0.1
"""Pair indicators enter the fit scaled by this, so their offsets are shrunk 1 / PAIR_SCALE² = 100 times more than the
slopes and intercepts: chosen by leave-one-pack-out log-loss over the four rated packs (docs/geninv.md)."""
DEFAULT_BINS: Final = (0.0, 0.25, 0.5, 0.75, 1.0)
NOT_A_DIGIT: Final = -1


@dataclass(frozen=True)
class PHumanMapping:
    """p_human = sigmoid(slope * raw + intercept + pair offset); ``fitted_on`` = ratings used (0: the prior).

    ``norms`` holds a (slope, intercept) per norm fitted on that norm's ratings; ``slope``/``intercept`` serve the
    norms without ratings of their own (fitted on all ratings). ``pairs`` holds a logit offset per (source digit,
    target digit): how much more (or less) readily people see that target than the judge's margin alone says
    (a 7 with a closed top reads as a 9; a 6 with a closed loop rarely does). A pair without ratings adds 0.
    """

    slope: float = PRIOR_SLOPE
    intercept: float = PRIOR_INTERCEPT
    fitted_on: int = 0
    note: str = "prior: judge margin of 3 nats -> 0.5 (not fitted on ratings yet)"
    norms: Mapping[str, tuple[float, float]] = field(default_factory=dict)
    pairs: Mapping[tuple[int, int], float] = field(default_factory=dict)

    def __call__(
        self, raw: float | np.ndarray, *, norm: str | None = None, source: int | None = None, target: int | None = None
    ) -> np.ndarray:
        slope, intercept = self.norms.get(norm, (self.slope, self.intercept)) if norm else (self.slope, self.intercept)
        offset = 0.0 if source is None or target is None else self.pairs.get((int(source), int(target)), 0.0)
        value = np.asarray(raw, dtype=np.float64)
        return 1.0 / (1.0 + np.exp(-(slope * value + intercept + offset)))

    def describe(self) -> str:
        """One line: the note, the fallback and per-norm parameters, how many pair offsets."""
        per_norm = "".join(f"; {n}: slope {s:.3f}, intercept {i:.3f}" for n, (s, i) in sorted(self.norms.items()))
        pairs = f"; {len(self.pairs)} (source, target) offsets" if self.pairs else ""
        return f"{self.note} (slope {self.slope:.3f}, intercept {self.intercept:.3f}{per_norm}{pairs})"

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "format_version": MAPPING_FORMAT if self.norms or self.pairs else 1,
            "kind": "logistic",
            "slope": self.slope,
            "intercept": self.intercept,
            "fitted_on": self.fitted_on,
            "note": self.note,
        }
        if self.norms or self.pairs:
            data["norms"] = {name: list(values) for name, values in sorted(self.norms.items())}
            data["pairs"] = {f"{s}>{t}": offset for (s, t), offset in sorted(self.pairs.items())}
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
        norms = {str(n): (_finite(v[0]), _finite(v[1])) for n, v in dict(data.get("norms", {})).items()}
        pairs = {_pair_key(key): _finite(value) for key, value in dict(data.get("pairs", {})).items()}
        return PHumanMapping(slope, intercept, int(data.get("fitted_on", 0)), str(data.get("note", "")), norms, pairs)
    except (OSError, ValueError, KeyError, TypeError, AttributeError, IndexError) as error:
        raise InvarianceError(f"{path}: cannot read the p_human mapping ({error})") from None


def _finite(value: object) -> float:
    number = float(value)  # type: ignore[arg-type]
    if not math.isfinite(number):
        raise ValueError(f"non-finite parameter {value!r}")
    return number


def _pair_key(key: str) -> tuple[int, int]:
    source, target = (int(part) for part in key.split(">"))
    if not (0 <= source <= 9 and 0 <= target <= 9):
        raise ValueError(f"pair {key!r} is not two digits")
    return source, target


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
    norms: Sequence[str] | None = None,
    pairs: Sequence[tuple[int, int]] | None = None,
    c: float = 100.0,
    note: str = "",
) -> PHumanMapping:
    """Logistic regression (scikit-learn) of rated success (0/1) on raw scores.

    ``c`` is scikit-learn's inverse L2 strength: large (little shrinkage), but finite so that a perfectly
    separable set still gives finite parameters. With ``norms`` and ``pairs`` (one per rating) the mapping also
    gets a (slope, intercept) per norm and a logit offset per (source, target) pair, shrunk towards 0 much more
    strongly (inverse strength ``c * PAIR_SCALE**2``): most pairs have only a few ratings. Raises
    :class:`InvarianceError` for empty, mismatched, non-finite or one-class input (a mapping needs both outcomes
    to be fitted).
    """
    from sklearn.linear_model import LogisticRegression

    x = np.asarray(raw_scores, dtype=np.float64).reshape(-1)
    y = np.asarray(rated_success, dtype=np.float64).reshape(-1)
    if x.size == 0 or x.shape != y.shape:
        raise InvarianceError(f"fit_p_human needs as many outcomes as scores (>0), got {x.size} and {y.size}")
    if not (np.isfinite(x).all() and np.isfinite(y).all()) or not np.isin(y, (0.0, 1.0)).all():
        raise InvarianceError("fit_p_human needs finite scores and outcomes that are 0 or 1")
    if np.unique(y).size < 2:
        raise InvarianceError("fit_p_human needs both successes and failures among the ratings")
    for name, given in (("norms", norms), ("pairs", pairs)):
        if given is not None and len(given) != x.size:
            raise InvarianceError(f"fit_p_human needs one of {name} per rating, got {len(given)} for {x.size}")
    model = LogisticRegression(C=c).fit(x[:, None], y.astype(int))
    slope, intercept = float(model.coef_[0, 0]), float(model.intercept_[0])
    note = note or f"logistic fit on {x.size} ratings"
    if norms is None or pairs is None:
        return PHumanMapping(slope, intercept, int(x.size), note)
    names = sorted(set(norms))
    keys = sorted(set(pairs))
    design = np.zeros((x.size, 2 * len(names) + len(keys)))
    for row, (norm, pair) in enumerate(zip(norms, pairs, strict=True)):
        column = 2 * names.index(norm)
        design[row, column : column + 2] = (x[row], 1.0)
        design[row, 2 * len(names) + keys.index(pair)] = PAIR_SCALE
    full = LogisticRegression(C=c, fit_intercept=False, max_iter=5000).fit(design, y.astype(int))
    weights = full.coef_[0]
    per_norm = {name: (float(weights[2 * i]), float(weights[2 * i + 1])) for i, name in enumerate(names)}
    offsets = {key: float(weights[2 * len(names) + i] * PAIR_SCALE) for i, key in enumerate(keys)}
    return PHumanMapping(slope, intercept, int(x.size), note, per_norm, offsets)


def fit_from_outcomes(rated: Sequence[Outcome], *, note: str = "") -> PHumanMapping:
    """:func:`fit_p_human` on the rated suggestions (controls and items without a raw score skipped), with a
    (slope, intercept) per norm and an offset per (source, target) pair when every rating names its norm."""
    kept = [
        (o.raw_score, o.success, o.norm, (o.source_label, o.target_label))
        for o in rated
        if not o.control and o.raw_score is not None and o.target_label is not None
    ]
    scores = [score for score, _, _, _ in kept]
    success = [hit for _, hit, _, _ in kept]
    norms = [norm for _, _, norm, _ in kept]
    if not all(norms):
        return fit_p_human(scores, success, note=note)
    pairs = [pair for _, _, _, pair in kept]
    return fit_p_human(scores, success, norms=[str(n) for n in norms], pairs=pairs, note=note)


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
                    target_label=None if entry.get("target_label") is None else int(entry["target_label"]),
                    p_human=None if entry.get("p_human") is None else float(entry["p_human"]),
                    raw_score=None if entry.get("raw_score") is None else float(entry["raw_score"]),
                    answer=int(answer),
                    rater=rater,
                    norm=None if entry.get("norm") is None else str(entry["norm"]),
                )
            )
    return out


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
