"""Agreement reports: the paper's Table 1 (human success rate per set), Table 2 (model agreement with the human
label on successful items, plus clean accuracy), Figure 6 (agreement against training ε of the sweep models) and
the "break" of certified models (successful items inside the radius at which the original is certified).

:func:`build_report` is pure given predictions; :func:`evaluate` loads models through an injectable loader,
predicts in batches and calls it. Nothing here imports Qt.
"""

from __future__ import annotations

import csv
import io
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import numpy as np
import torch
from torch import nn

from core import budget
from core.errors import ModelError, StudyError
from core.study.agreement import AgreementStats, agreement_stats
from core.study.consensus import (
    DEFAULT_THRESHOLD,
    Consensus,
    RaterCheck,
    check_consensus_options,
    item_consensus,
    rater_checks,
)
from core.study.sets import StudyItem, evaluable
from core.zoo.predict import predict
from core.zoo.registry import ZooEntry

log = logging.getLogger(__name__)

REPORT_FORMAT_VERSION: Final = 1
FIGURE6_PANELS: Final = {"linf": ("linf", "linf-pgd-"), "l0": ("l0", "l1-slide-")}
"""panel -> (norm of the sets it is evaluated on, name prefix of its sweep models); ``undefended`` is ε = 0."""
UNDEFENDED: Final = "undefended"
_EPS: Final = 1e-6

Predictions = Mapping[str, np.ndarray]
"""model name -> int64 (N,) predicted labels, aligned with the image batch they were made on."""


class Percent(float):
    """A share in [0, 1] shown as a percentage in text tables; CSV files get the plain number."""


Cell = str | int | float | None
"""A table cell: text, a count, a number (``Percent`` for shares) or nothing."""
_FORMULA_START: Final = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class Agreement:
    """``n_agree`` of ``n`` predictions equal the reference label; ``agreement`` is ``None`` when ``n == 0``."""

    n_agree: int
    n: int

    @property
    def agreement(self) -> float | None:
        return self.n_agree / self.n if self.n else None

    def to_json(self) -> dict[str, Any]:
        return {"agreement": self.agreement, "n": self.n, "n_agree": self.n_agree}


@dataclass
class SetReport:
    """Table 1 and Table 2 numbers of one set (items grouped by ``set_name``)."""

    set_name: str
    method: str
    norm: str | None
    eps: float | None
    n_items: int
    n_rated: int
    """Items with at least one kept rater or an imported label."""
    n_successful: int
    n_original: int
    """Items whose consensus is the original label (humans did not switch)."""
    n_not_a_digit: int
    n_no_consensus: int
    agreement: dict[str, Agreement] = field(default_factory=dict)
    stats: AgreementStats | None = None
    """Inter-rater agreement of the kept raters (Krippendorff's α, Fleiss' κ, raters per item)."""

    @property
    def success_rate(self) -> float | None:
        """``n_successful / n_rated`` (the paper's Table 1), ``None`` when nothing was rated."""
        return self.n_successful / self.n_rated if self.n_rated else None

    def to_json(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "norm": self.norm,
            "eps": self.eps,
            "n_items": self.n_items,
            "n_rated": self.n_rated,
            "n_successful": self.n_successful,
            "success_rate": self.success_rate,
            "n_original": self.n_original,
            "n_not_a_digit": self.n_not_a_digit,
            "n_no_consensus": self.n_no_consensus,
            "models": {name: value.to_json() for name, value in self.agreement.items()},
            "agreement_stats": None if self.stats is None else self.stats.to_json(),
        }


@dataclass(frozen=True)
class ItemResult:
    """One item of the report: its labels, the consensus of the kept raters and every model's prediction."""

    collection: str
    item_id: str
    set_name: str
    original_label: int | None
    intended_label: int | None
    human_labels: dict[str, int]
    consensus: Consensus
    predictions: dict[str, int]

    def to_json(self) -> dict[str, Any]:
        return {
            "collection": self.collection,
            "id": self.item_id,
            "set": self.set_name,
            "original_label": self.original_label,
            "intended_label": self.intended_label,
            "human_labels": self.human_labels,
            "consensus_label": self.consensus.human_label,
            "n_raters": self.consensus.n_raters,
            "agreement": self.consensus.agreement,
            "successful": self.consensus.successful,
            "predictions": self.predictions,
        }


@dataclass(frozen=True)
class Figure6Point:
    panel: str
    model: str
    eps: float
    agreement: Agreement


@dataclass(frozen=True)
class CertifiedBreak:
    """For one certified model and set: successful items that lie within the model's certified radius
    (``n_within``: distance to the original in the model's norm <= its ε) and, of those, how many have an
    original the model is certified on at exactly that distance (``n_inside``: provably predicted as the
    original label, yet humans say otherwise); ``n_inside_agree`` counts model/human agreement among them."""

    model: str
    set_name: str
    radius: float
    n_successful: int
    n_within: int
    n_inside: int
    n_inside_agree: int

    def to_json(self) -> dict[str, Any]:
        return {
            "radius": self.radius,
            "n_successful": self.n_successful,
            "n_within": self.n_within,
            "n_inside": self.n_inside,
            "n_inside_agree": self.n_inside_agree,
        }


@dataclass
class Report:
    threshold: float
    min_rater_accuracy: float | None
    models: list[str]
    sets: list[SetReport]
    clean: dict[str, Agreement]
    n_clean: int
    raters: dict[str, RaterCheck]
    figure6: list[Figure6Point]
    certified: list[CertifiedBreak]
    skipped_models: dict[str, str] = field(default_factory=dict)
    """model -> why it was skipped (missing checkpoint, ...)."""
    items: list[ItemResult] = field(default_factory=list)
    """Every evaluated item with its labels and each model's prediction (when predictions were given)."""

    def to_json(self) -> dict[str, Any]:
        return {
            "format_version": REPORT_FORMAT_VERSION,
            "threshold": self.threshold,
            "min_rater_accuracy": self.min_rater_accuracy,
            "models": self.models,
            "sets": {report.set_name: report.to_json() for report in self.sets},
            "clean": {"n": self.n_clean, "models": {name: value.to_json() for name, value in self.clean.items()}},
            "raters": {
                name: {
                    "n_clean": check.n_clean,
                    "n_correct": check.n_correct,
                    "accuracy": check.accuracy,
                    "excluded": check.excluded,
                    "reason": check.reason,
                }
                for name, check in self.raters.items()
            },
            "figure6": {
                panel: [
                    {"model": p.model, "eps": p.eps, **p.agreement.to_json()} for p in self.figure6 if p.panel == panel
                ]
                for panel in FIGURE6_PANELS
            },
            "certified": {
                name: {b.set_name: b.to_json() for b in self.certified if b.model == name}
                for name in dict.fromkeys(b.model for b in self.certified)
            },
            "skipped_models": self.skipped_models,
            "items": [item.to_json() for item in self.items],
        }

    # --- tables as rows (shared by the CLI's text output, CSV export and the editor panel) ---------------
    def table1(self) -> tuple[list[str], list[list[str]]]:
        """Header and rows of Table 1: success rate per set, with the raters' agreement."""
        return _display(self._table1())

    def _table1(self) -> tuple[list[str], list[list[Cell]]]:
        header = ["set", "method", "norm", "eps", "items", "rated", "successful", "success rate",
                  "kept original", "not a digit", "no consensus", "raters per item", "krippendorff alpha",
                  "fleiss kappa"]  # fmt: skip
        rows: list[list[Cell]] = []
        for s in self.sets:
            stats = s.stats
            rows.append(
                [s.set_name, s.method, s.norm or "", s.eps, s.n_items, s.n_rated, s.n_successful,
                 _share(s.success_rate), s.n_original, s.n_not_a_digit, s.n_no_consensus,
                 None if stats is None else stats.mean_raters, None if stats is None else stats.krippendorff_alpha,
                 None if stats is None else stats.fleiss_kappa]
            )  # fmt: skip
        return header, rows

    def table2(self) -> tuple[list[str], list[list[str]]]:
        """Header and rows of Table 2: agreement of each model with the human label on successful items."""
        return _display(self._table2())

    def _table2(self) -> tuple[list[str], list[list[Cell]]]:
        header = ["set", "successful", *self.models]
        rows: list[list[Cell]] = [
            ["clean digits", self.n_clean, *[_share(self.clean[m].agreement) for m in self.models]]
        ]
        for s in self.sets:
            rows.append([s.set_name, s.n_successful, *[_share(s.agreement[m].agreement) for m in self.models]])
        return header, rows

    def figure6_table(self) -> tuple[list[str], list[list[str]]]:
        return _display(self._figure6_table())

    def _figure6_table(self) -> tuple[list[str], list[list[Cell]]]:
        header = ["panel", "model", "train eps", "agreement", "n"]
        rows: list[list[Cell]] = [
            [p.panel, p.model, p.eps, _share(p.agreement.agreement), p.agreement.n] for p in self.figure6
        ]
        return header, rows

    def certified_table(self) -> tuple[list[str], list[list[str]]]:
        return _display(self._certified_table())

    def _certified_table(self) -> tuple[list[str], list[list[Cell]]]:
        header = ["model", "set", "radius", "successful", "within radius", "inside certified", "agree"]
        rows: list[list[Cell]] = [
            [b.model, b.set_name, b.radius, b.n_successful, b.n_within, b.n_inside, b.n_inside_agree]
            for b in self.certified
        ]
        return header, rows

    def raters_table(self) -> tuple[list[str], list[list[str]]]:
        return _display(self._raters_table())

    def _raters_table(self) -> tuple[list[str], list[list[Cell]]]:
        header = ["rater", "clean digits", "correct", "accuracy", "excluded", "reason"]
        rows: list[list[Cell]] = [
            [c.rater, c.n_clean, c.n_correct, _share(c.accuracy), "yes" if c.excluded else "", c.reason]
            for c in self.raters.values()
        ]
        return header, rows

    def typed_tables(self) -> dict[str, tuple[list[str], list[list[Cell]]]]:
        """Every table by file stem, with numbers as numbers (shares as :class:`Percent` in [0, 1])."""
        return {
            "table1": self._table1(),
            "table2": self._table2(),
            "figure6": self._figure6_table(),
            "certified": self._certified_table(),
            "raters": self._raters_table(),
        }

    def tables(self) -> dict[str, tuple[list[str], list[list[str]]]]:
        """Every table by file stem, as display text: ``table1``, ``table2``, ``figure6``, ``certified``, ``raters``."""
        return {name: _display(table) for name, table in self.typed_tables().items()}

    def write_csv(self, directory: str | Path) -> list[Path]:
        """Write each table as ``<directory>/<name>.csv`` (atomically); returns the paths.

        Numbers are plain numbers (shares in [0, 1], not percent strings; an empty cell is unknown). Text cells
        that a spreadsheet would run as a formula (starting with ``=``, ``+``, ``-``, ``@``, tab or CR) get a
        leading ``'``.
        """
        from core.study.answers import write_text_atomic

        directory = Path(directory)
        paths = []
        for name, (header, rows) in self.typed_tables().items():
            buffer = io.StringIO()
            writer = csv.writer(buffer, lineterminator="\n")
            writer.writerow([csv_cell(cell) for cell in header])
            writer.writerows([csv_cell(cell) for cell in row] for row in rows)
            path = directory / f"{name}.csv"
            try:
                write_text_atomic(path, buffer.getvalue())
            except OSError as error:
                raise StudyError(f"cannot write {path}: {error.strerror or error}") from None
            paths.append(path)
        return paths


def csv_cell(cell: Cell) -> str | int | float:
    """``cell`` for a CSV file: numbers as numbers, text escaped against spreadsheet formula injection."""
    if cell is None:
        return ""
    if isinstance(cell, (int, float)):
        return float(cell) if isinstance(cell, Percent) else cell
    return f"'{cell}" if cell.startswith(_FORMULA_START) else cell


def _display(table: tuple[list[str], list[list[Cell]]]) -> tuple[list[str], list[list[str]]]:
    header, rows = table
    return header, [[_text(cell) for cell in row] for row in rows]


def _text(cell: Cell) -> str:
    if cell is None:
        return ""
    if isinstance(cell, Percent):
        return _pct(float(cell))
    if isinstance(cell, float):
        return f"{cell:.3g}" if abs(cell) < 1 else _num(cell)
    return str(cell)


def _share(value: float | None) -> Percent | None:
    return None if value is None else Percent(value)


def _pct(value: float | None) -> str:
    return "" if value is None else f"{100 * value:.1f}%"


def _num(value: float | None) -> str:
    return "" if value is None else f"{value:g}"


def rate_items(
    items: Sequence[StudyItem],
    rater_clean: Mapping[str, tuple[int, int]] | None,
    threshold: float,
    min_rater_accuracy: float | None,
    not_a_digit_succeeds: bool,
) -> tuple[dict[str, RaterCheck], list[Consensus]]:
    """Each rater's attention check and each item's consensus among the raters kept.

    Raises :class:`StudyError` for a ``threshold`` outside (0, 1] or a ``min_rater_accuracy`` outside [0, 1].
    """
    check_consensus_options(threshold, min_rater_accuracy)
    checks = rater_checks(rater_clean or {}, min_accuracy=min_rater_accuracy)
    excluded = {name for name, check in checks.items() if check.excluded}
    consensuses = item_consensuses(
        items, threshold=threshold, excluded_raters=excluded, not_a_digit_succeeds=not_a_digit_succeeds
    )
    return checks, consensuses


def item_consensuses(
    items: Sequence[StudyItem], *, threshold: float, excluded_raters: set[str], not_a_digit_succeeds: bool = False
) -> list[Consensus]:
    return [
        item_consensus(
            item.human_labels,
            _original_label(item),
            threshold=threshold,
            imported_label=item.human_label,
            excluded_raters=excluded_raters,
            not_a_digit_succeeds=not_a_digit_succeeds,
        )
        for item in items
    ]


def _original_label(item: StudyItem) -> int:
    if item.original_label is None or item.original is None:
        raise StudyError(f"item {item.item_id} of {item.collection} has no original digit to compare with")
    return item.original_label


def _original(item: StudyItem) -> np.ndarray:
    if item.original is None:
        raise StudyError(f"item {item.item_id} of {item.collection} has no original digit to compare with")
    return item.original


def usable_items(items: Sequence[StudyItem]) -> list[StudyItem]:
    """The items a report can use (original known); the others are logged and left out."""
    kept = [item for item in items if evaluable(item)]
    if len(kept) < len(items):
        log.warning("%d items without an original digit or label are left out of the report", len(items) - len(kept))
    return kept


def successful_indices(consensuses: Sequence[Consensus]) -> list[int]:
    return [i for i, c in enumerate(consensuses) if c.successful]


def unique_originals(items: Sequence[StudyItem]) -> list[int]:
    """Indices of the first item per distinct source digit (split, index): the clean row's images."""
    seen: dict[tuple[str, int | None], int] = {}
    for i, item in enumerate(items):
        key = (item.source_split or "", item.source_index) if item.source_index is not None else ("item", i)
        seen.setdefault(key, i)
    return list(seen.values())


def sweep_models(models: Sequence[str], infos: Mapping[str, ZooEntry]) -> dict[str, list[tuple[str, float]]]:
    """panel -> [(model, training ε)] sorted by ε, from the evaluated ``models``; ``undefended`` is ε = 0."""
    panels: dict[str, list[tuple[str, float]]] = {}
    for panel, (_, prefix) in FIGURE6_PANELS.items():
        chosen = []
        for name in models:
            if name == UNDEFENDED:
                chosen.append((name, 0.0))
            elif name.startswith(prefix):
                eps = infos[name].eps if name in infos else None
                if eps is None:
                    raise StudyError(f"sweep model {name!r} has no training ε in the zoo")
                chosen.append((name, float(eps)))
        panels[panel] = sorted(chosen, key=lambda pair: pair[1])
    return panels


def build_report(
    items: Sequence[StudyItem],
    *,
    models: Sequence[str],
    infos: Mapping[str, ZooEntry],
    successful_predictions: Predictions,
    clean_predictions: Predictions,
    certified_originals: Mapping[str, np.ndarray] | None = None,
    rater_clean: Mapping[str, tuple[int, int]] | None = None,
    threshold: float = DEFAULT_THRESHOLD,
    min_rater_accuracy: float | None = None,
    not_a_digit_succeeds: bool = False,
    skipped_models: Mapping[str, str] | None = None,
    item_predictions: Predictions | None = None,
) -> Report:
    """Assemble every number of the report.

    ``successful_predictions[m]``: model ``m``'s labels for the items at :func:`successful_indices` (in that
    order); ``clean_predictions[m]``: its labels for the originals at :func:`unique_originals`;
    ``certified_originals[m]`` (certified models only): bool (len(successful),) — whether the original of each
    successful item is certified at the item's distance (only meaningful where that distance <= the model's ε).
    ``rater_clean``: rater -> (clean digits seen, answered correctly). ``item_predictions[m]`` (optional): model
    ``m``'s labels for every item, in order, reported per item in :attr:`Report.items`.
    """
    checks, consensuses = rate_items(items, rater_clean, threshold, min_rater_accuracy, not_a_digit_succeeds)
    excluded = {name for name, check in checks.items() if check.excluded}
    successful = successful_indices(consensuses)
    position = {index: k for k, index in enumerate(successful)}
    originals = unique_originals(items)
    for name in models:
        if len(successful_predictions[name]) != len(successful) or len(clean_predictions[name]) != len(originals):
            raise StudyError(f"predictions of {name!r} do not match the items")
        if item_predictions is not None and len(item_predictions[name]) != len(items):
            raise StudyError(f"per-item predictions of {name!r} do not match the items")

    def agreement_on(indices: Sequence[int], name: str) -> Agreement:
        predicted = successful_predictions[name]
        hits = sum(int(predicted[position[i]]) == consensuses[i].plurality for i in indices)
        return Agreement(hits, len(indices))

    def kept_labels(item: StudyItem) -> dict[str, int]:
        return {rater: label for rater, label in item.human_labels.items() if rater not in excluded}

    groups: dict[str, list[int]] = {}
    for i, item in enumerate(items):
        groups.setdefault(item.set_name, []).append(i)
    sets = []
    for set_name, members in groups.items():
        wins = [i for i in members if consensuses[i].successful]
        methods = list(dict.fromkeys(items[i].method for i in members))
        norms = {items[i].norm for i in members}
        epses = {items[i].eps for i in members}
        sets.append(
            SetReport(
                set_name=set_name,
                method="+".join(methods),
                norm=norms.pop() if len(norms) == 1 else None,
                eps=epses.pop() if len(epses) == 1 else None,
                n_items=len(members),
                n_rated=sum(consensuses[i].n_raters > 0 for i in members),
                n_successful=len(wins),
                n_original=sum(consensuses[i].consensus and not consensuses[i].changed for i in members),
                n_not_a_digit=sum(consensuses[i].human_label == -1 and consensuses[i].changed for i in members),
                n_no_consensus=sum(consensuses[i].n_raters > 0 and not consensuses[i].consensus for i in members),
                agreement={name: agreement_on(wins, name) for name in models},
                stats=agreement_stats([kept_labels(items[i]) for i in members]),
            )
        )

    clean = {}
    for name in models:
        predicted = clean_predictions[name]
        hits = sum(int(predicted[k]) == _original_label(items[i]) for k, i in enumerate(originals))
        clean[name] = Agreement(hits, len(originals))

    figure6: list[Figure6Point] = []
    for panel, chosen in sweep_models(models, infos).items():
        norm = FIGURE6_PANELS[panel][0]
        pool = [i for i in successful if items[i].norm == norm]
        figure6.extend(Figure6Point(panel, name, eps, agreement_on(pool, name)) for name, eps in chosen)

    breaks = []
    for name in models:
        info = infos.get(name)
        if info is None or not info.certified or info.norm is None or info.eps is None:
            continue
        flags = (certified_originals or {}).get(name)
        if flags is None:
            continue
        for set_name, members in groups.items():
            wins = [i for i in members if consensuses[i].successful]
            within = [i for i in wins if _distance(items[i], info.norm) <= info.eps + _EPS]
            inside = [i for i in within if bool(flags[position[i]])]
            predicted = successful_predictions[name]
            agree = sum(int(predicted[position[i]]) == consensuses[i].plurality for i in inside)
            breaks.append(CertifiedBreak(name, set_name, info.eps, len(wins), len(within), len(inside), agree))

    return Report(
        threshold=threshold,
        min_rater_accuracy=min_rater_accuracy,
        models=list(models),
        sets=sets,
        clean=clean,
        n_clean=len(originals),
        raters=checks,
        figure6=figure6,
        certified=breaks,
        skipped_models=dict(skipped_models or {}),
        items=[
            ItemResult(
                collection=item.collection,
                item_id=item.item_id,
                set_name=item.set_name,
                original_label=item.original_label,
                intended_label=item.intended_label,
                human_labels=dict(item.human_labels),
                consensus=consensuses[i],
                predictions={name: int(item_predictions[name][i]) for name in models if item_predictions},
            )
            for i, item in enumerate(items)
        ],
    )


def _distance(item: StudyItem, norm: str) -> float:
    return float(budget.distance(_original(item), item.image, norm))


# --- running models -------------------------------------------------------------------------------------
ModelLoader = Callable[[str, torch.device], nn.Module]
CertifyFn = Callable[[nn.Module, torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]
"""(model, x (N, 1, 28, 28), y (N,), eps (N,)) -> bool (N,): is each x certified at its eps (``core.certify``)."""
Progress = Callable[[str], None]


def zoo_infos(models: Sequence[str]) -> dict[str, ZooEntry]:
    """The entry of each name that ``core.zoo`` knows (zoo and user models); unknown names are left out."""
    from core.zoo import find_entry

    entries = {name: find_entry(name) for name in models}
    return {name: entry for name, entry in entries.items() if entry is not None}


def zoo_loader(name: str, device: torch.device) -> nn.Module:
    from core.zoo import load

    return load(name, device)


def zoo_certify(model: nn.Module, x: torch.Tensor, y: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
    from core.certify import certified

    return certified(model, x, y, eps)


def evaluate(
    items: Sequence[StudyItem],
    models: Sequence[str],
    *,
    device: torch.device,
    infos: Mapping[str, ZooEntry] | None = None,
    loader: ModelLoader = zoo_loader,
    certify: CertifyFn = zoo_certify,
    rater_clean: Mapping[str, tuple[int, int]] | None = None,
    threshold: float = DEFAULT_THRESHOLD,
    min_rater_accuracy: float | None = None,
    not_a_digit_succeeds: bool = False,
    batch_size: int = 256,
    progress: Progress | None = None,
) -> Report:
    """Run ``models`` on every item and on the clean originals and build the :class:`Report`.

    A model that fails to load with :class:`ModelError` (unknown name, missing checkpoint) is skipped and
    logged as a warning; its reason is kept in ``Report.skipped_models``.
    """
    infos = dict(infos) if infos is not None else zoo_infos(models)
    items = usable_items(items)
    _, consensuses = rate_items(items, rater_clean, threshold, min_rater_accuracy, not_a_digit_succeeds)
    successful = successful_indices(consensuses)
    originals = unique_originals(items)
    images = _stack([item.image for item in items])
    clean_images = _stack([_original(items[i]) for i in originals])
    kept: list[str] = []
    skipped: dict[str, str] = {}
    on_items: dict[str, np.ndarray] = {}
    on_clean: dict[str, np.ndarray] = {}
    certified_flags: dict[str, np.ndarray] = {}
    for number, name in enumerate(models, start=1):
        if progress:
            progress(f"model {number}/{len(models)}: {name}")
        try:
            model = loader(name, device)
        except ModelError as error:
            log.info("skipping model %s: %s", name, error)
            skipped[name] = str(error)
            continue
        kept.append(name)
        on_items[name] = predict(model, images, device, batch_size=batch_size)
        on_clean[name] = predict(model, clean_images, device, batch_size=batch_size)
        info = infos.get(name)
        if info is not None and info.certified and info.norm is not None and info.eps is not None:
            certified_flags[name] = _certified_flags(model, [items[i] for i in successful], info, device, certify)
    return build_report(
        items,
        models=kept,
        infos=infos,
        successful_predictions={name: labels[successful] for name, labels in on_items.items()},
        clean_predictions=on_clean,
        certified_originals=certified_flags,
        rater_clean=rater_clean,
        threshold=threshold,
        min_rater_accuracy=min_rater_accuracy,
        not_a_digit_succeeds=not_a_digit_succeeds,
        skipped_models=skipped,
        item_predictions=on_items,
    )


def _stack(images: Sequence[np.ndarray]) -> np.ndarray:
    """float32 (N, 28, 28), also for N = 0."""
    return np.stack(images).astype(np.float32) if images else np.zeros((0, 28, 28), np.float32)


def _certified_flags(
    model: nn.Module, items: Sequence[StudyItem], info: ZooEntry, device: torch.device, certify: CertifyFn
) -> np.ndarray:
    """Per item: is the original certified at the item's distance? (Only checked within the model's ε.)"""
    assert info.norm is not None and info.eps is not None
    flags = np.zeros(len(items), dtype=bool)
    distances = np.array([_distance(item, info.norm) for item in items], dtype=np.float64)
    within = np.flatnonzero(np.isfinite(distances) & (distances <= info.eps + _EPS))
    if len(within):
        x = torch.as_tensor(np.stack([_original(items[int(k)]) for k in within]), dtype=torch.float32, device=device)
        y = torch.tensor([_original_label(items[int(k)]) for k in within], device=device)
        eps = torch.as_tensor(distances[within], dtype=torch.float32, device=device)
        flags[within] = certify(model, x[:, None], y, eps).cpu().numpy().astype(bool)
    return flags


def format_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Plain-text table with columns padded to their widest cell."""
    widths = [max(len(str(row[c])) for row in [header, *rows]) for c in range(len(header))]
    lines = ["  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
             for row in [header, *rows]]  # fmt: skip
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)


def format_report(report: Report) -> str:
    """The whole report as text: Tables 1 and 2, Figure 6 points, certified breaks, raters."""
    titles = {
        "table1": "Table 1: success rate (humans switched label at the consensus threshold)",
        "table2": "Table 2: model agreement with the human label on successful items (clean: accuracy on originals)",
        "figure6": "Figure 6: agreement vs training ε of the sweep models",
        "certified": "Certified models: successful items inside the certified radius of their original",
        "raters": "Raters: accuracy on clean test digits (attention check)",
    }
    blocks = []
    for name, (header, rows) in report.tables().items():
        needs_models = name in ("table2", "figure6", "certified")
        if rows and (report.models or not needs_models):
            blocks.append(f"{titles[name]}\n{format_table(header, rows)}")
    return "\n\n".join(blocks)
