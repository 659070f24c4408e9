"""The scorecard: chosen models (user or zoo) measured now, beside every zoo model's card figures.

Per model: clean accuracy; robust accuracy at its threat model under AutoAttack (standard, ``core.zoo.autoattack``)
and under our PGD (``core.attacks``, the cards' PGD-100 x5); IBP-certified accuracy where ``core.certify``
applies (the zoo's certified models); agreement with the human label on the invariance examples (items whose
human consensus differs from the original label) of every human-labelled collection, with n for each set.

Every cell says where its value comes from: ``"card"`` (the zoo card's figure, with the card's n) or
``"measured"`` (now, on the first ``n`` MNIST test images). Figures measured for a user model are stored on its
card, keyed by attack and n, so the next scorecard reuses them.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Final

import torch
from torch import nn
from tqdm import tqdm

from core.errors import ModelError
from core.files import atomic_write_text
from core.paths import user_data_dir
from core.zoo import autoattack, available, entry, load, load_card, user
from core.zoo.cards import ModelCard, card_json
from core.zoo.evaluation import ATTACK_STEPS, CARD_RESTARTS, CLEAN_N, Figure, autoattack_threat, correct_per_image
from core.zoo.registry import ZooEntry

log = logging.getLogger(__name__)

SCORECARD_N: Final = 1_000

Progress = Callable[[str], None]
HumanReport = Callable[[Path, Sequence[str]], Mapping[str, Any]]
"""``human_report(collection, models)``: the study report of ``models`` on one human-labelled collection, as JSON
(``core.study.report.Report.to_json()``: ``"sets"`` → set name → ``"n_successful"`` and ``"models"`` → name →
``"agreement"``, ``"n"``). The command passes it in: the zoo sits below the study layer and does not import it."""


@dataclass(frozen=True)
class Cell:
    """One figure: accuracy ``value`` on ``n`` images (``None``: not applicable or not measured)."""

    value: float | None
    n: int = 0
    source: str = ""
    """"card" | "measured" | "" (no figure)."""
    note: str = ""
    first_500: float | None = None
    """A card figure measured on more than 500 images also records its value on the first 500 (the PGD's n)."""


@dataclass(frozen=True)
class HumanAgreement:
    collection: str
    set_name: str
    agreement: float | None
    n: int


@dataclass
class ScoreRow:
    name: str
    origin: str
    norm: str | None
    eps: float | None
    clean: Cell
    autoattack: Cell
    pgd: Cell
    certified: Cell
    humans: list[HumanAgreement] = field(default_factory=list)

    @property
    def robust(self) -> Cell:
        """AutoAttack where measured, else our PGD (the plot's x axis)."""
        return self.autoattack if self.autoattack.value is not None else self.pgd

    @property
    def human_pooled(self) -> Cell:
        """Agreement with humans over every invariance example of every set (the plot's y axis)."""
        n = sum(entry.n for entry in self.humans)
        agree = sum(round((entry.agreement or 0.0) * entry.n) for entry in self.humans)
        return Cell(agree / n if n else None, n, "measured" if n else "")

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["human_pooled"] = asdict(self.human_pooled)
        return data


def discover_collections() -> list[Path]:
    """Collections in the user folder (``<user folder>/collections/*`` holding a ``manifest.json``)."""
    folder = user_data_dir() / "collections"
    if not folder.is_dir():
        return []
    return sorted(path for path in folder.iterdir() if (path / "manifest.json").is_file())


def scorecard(
    names: Sequence[str],
    *,
    n: int = SCORECARD_N,
    collections: Sequence[Path] = (),
    human_report: HumanReport | None = None,
    device: torch.device,
    progress: Progress | None = None,
    show_bars: bool = False,
) -> list[ScoreRow]:
    """Rows for ``names`` (measured now on the first ``n`` test images) and for every other trained zoo model
    (from its card), then the human agreement of all of them on ``collections`` (by ``human_report``, which
    ``collections`` need).

    ``progress`` gets one line per figure: ``"NAME: FIGURE: from card"`` for a figure read from the model's
    card, ``"NAME: FIGURE: measuring"`` before one is measured; ``show_bars`` adds a tqdm bar (on stderr) to
    each measurement."""
    if collections and human_report is None:
        raise ValueError("scorecard: human agreement on collections needs a human_report")
    report = progress or (lambda _message: None)
    measured = list(dict.fromkeys(names))
    for name in measured:
        entry(name)  # unknown names fail before any work
    rows = [_measured_row(name, n, device, report, show_bars) for name in measured]
    rows += [_card_row(name) for name in available() if name not in measured and entry(name).origin == "zoo"]
    if collections and human_report is not None:
        _add_human_agreement(rows, collections, human_report, report)
    return rows


def _threat(model: ZooEntry) -> tuple[str, float] | None:
    if model.origin == "zoo":
        return autoattack_threat(model) or ((model.norm, model.eps) if model.norm and model.eps else None)
    return (model.norm, model.eps) if model.norm and model.eps is not None else None


def _card_cell(card: ModelCard, key: str) -> Cell:
    recorded = card.evaluation.get(key)
    if not isinstance(recorded, dict) or "value" not in recorded:
        return Cell(None)
    first = recorded.get("value_first_500")
    return Cell(
        float(recorded["value"]),
        int(recorded.get("n", 0)),
        "card",
        str(recorded.get("attack", "")),
        None if first is None or key == "clean_accuracy" else float(first),
    )


def _card_row(name: str) -> ScoreRow:
    model, card = entry(name), load_card(name)
    threat = _threat(model)
    norm, eps = threat if threat else (None, None)
    return ScoreRow(
        name=name,
        origin=model.origin,
        norm=norm,
        eps=eps,
        clean=_card_cell(card, "clean_accuracy"),
        autoattack=_card_cell(card, autoattack.figure_key(*threat)) if threat else Cell(None),
        pgd=_card_cell(card, f"robust_accuracy_{norm}_{eps}") if threat else Cell(None),
        certified=_card_cell(card, f"certified_accuracy_{model.eps}") if model.certified else Cell(None),
    )


def _measured_row(name: str, n: int, device: torch.device, report: Progress, show_bars: bool) -> ScoreRow:
    model_entry, card = entry(name), load_card(name)
    model = load(name, device)
    threat = _threat(model_entry)
    norm, eps = threat if threat else (None, None)
    cache = _FigureCache(card, report, show_bars)
    clean = _card_cell(card, "clean_accuracy")
    if clean.n < CLEAN_N:
        clean_figure = Figure("clean", "clean", CLEAN_N)
        clean = cache.get(f"{name}: clean accuracy on {CLEAN_N} images", "clean_accuracy", clean_figure, model, device)
    else:
        report(f"{name}: clean accuracy on {clean.n} images: from card")
    aa = pgd = certified = Cell(None)
    if norm is not None and eps is not None:
        pgd_figure = Figure("pgd", "pgd", n, norm, eps, ATTACK_STEPS, CARD_RESTARTS)
        label = f"{name}: PGD ({norm}, ε={eps}) on {n} images"
        pgd = cache.get(label, f"robust_accuracy_{norm}_{eps}", pgd_figure, model, device)
        if autoattack.supports(norm):
            aa_figure = Figure("autoattack", "autoattack", n, norm, eps)
            label = f"{name}: AutoAttack ({norm}, ε={eps}) on {n} images"
            aa = cache.get(label, autoattack.figure_key(norm, eps), aa_figure, model, device)
    if model_entry.certified and model_entry.eps is not None:
        figure = Figure("certified", "certified", n, "linf", model_entry.eps)
        label = f"{name}: IBP-certified (linf, ε={model_entry.eps}) on {n} images"
        certified = cache.get(label, f"certified_accuracy_{model_entry.eps}", figure, model, device)
    cache.save()
    return ScoreRow(name, model_entry.origin, norm, eps, clean, aa, pgd, certified)


def _measure(model: nn.Module, figure: Figure, device: torch.device, bar: tqdm[Any]) -> float:
    """Accuracy under ``figure``; the bar advances per batch (AutoAttack: once, when it is done)."""
    if figure.kind == "autoattack":
        value = autoattack.measure(model, str(figure.norm), float(figure.eps or 0), figure.n, device).value
        bar.update(figure.n)
        return value
    return float(correct_per_image(model, figure, device, progress=bar.update).float().mean())


class _FigureCache:
    """A user model's measured figures, kept on its card under ``scorecard`` (zoo cards are not written)."""

    def __init__(self, card: ModelCard, report: Progress, show_bars: bool) -> None:
        self.card = card
        self.report = report
        self.show_bars = show_bars
        self.stored: dict[str, Any] = dict(card.evaluation.get("scorecard", {})) if card.origin == "user" else {}
        self.changed = False

    def get(self, label: str, key: str, figure: Figure, model: nn.Module, device: torch.device) -> Cell:
        """The figure from the card when it holds it for this attack and n (saying "from card"), else measured
        now with a progress bar (saying "measuring")."""
        attack = (
            autoattack.attack_name(str(figure.norm), float(figure.eps or 0))
            if figure.kind == "autoattack"
            else figure.attack_name()
        )
        hit = self.stored.get(f"{key}@{figure.n}")
        if isinstance(hit, dict) and isinstance(hit.get("value"), (int, float)) and hit.get("attack") == attack:
            self.report(f"{label}: from card")
            return Cell(float(hit["value"]), figure.n, "measured", attack)
        self.report(f"{label}: measuring")
        with tqdm(
            total=figure.n, desc=label, unit="img", leave=False, file=sys.stderr, disable=not self.show_bars
        ) as bar:
            value = _measure(model, figure, device, bar)
        self.stored[f"{key}@{figure.n}"] = {"value": round(value, 4), "n": figure.n, "attack": attack}
        self.changed = True
        return Cell(value, figure.n, "measured", attack)

    def save(self) -> None:
        if not self.changed or self.card.origin != "user":
            return
        self.card.evaluation["scorecard"] = self.stored
        path = user.models_dir() / self.card.name / user.CARD_NAME
        atomic_write_text(path, card_json(self.card))


def _add_human_agreement(
    rows: list[ScoreRow], collections: Sequence[Path], human_report: HumanReport, report: Progress
) -> None:
    names = [row.name for row in rows]
    by_name = {row.name: row for row in rows}
    for path in collections:
        report(f"human agreement on {path}")
        result = human_report(path, names)
        for set_name, figures in result["sets"].items():
            if not figures.get("n_successful"):
                continue
            for name, agreement in figures["models"].items():
                by_name[name].humans.append(
                    HumanAgreement(str(path), set_name, agreement["agreement"], int(agreement["n"]))
                )


def require_collections(paths: Sequence[str]) -> list[Path]:
    chosen = [Path(path) for path in paths]
    missing = [path for path in chosen if not (path / "manifest.json").is_file()]
    if missing:
        raise ModelError(f"{missing[0]}: not a collection (no manifest.json)")
    return chosen


def _pct(cell: Cell) -> str:
    if cell.value is None:
        return "–"
    shown = f"{cell.value * 100:.1f}%"
    if cell.source != "card" or cell.n == 0:
        return shown
    first = "" if cell.first_500 is None else f"; first 500: {cell.first_500 * 100:.1f}%"
    return f"{shown} (n={cell.n}{first})"


def markdown(rows: Sequence[ScoreRow], n: int) -> str:
    """The scorecard as a Markdown table (cards' n shown where it differs from the measured ``n``)."""
    sets = sorted({(agreement.collection, agreement.set_name) for row in rows for agreement in row.humans})
    header = ["model", "origin", "threat", "clean", "AutoAttack", "PGD (ours)", "IBP-certified"]
    header += [f"humans: {Path(collection).name}/{set_name}" for collection, set_name in sets]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in rows:
        threat = f"{row.norm} ε={row.eps}" if row.norm else "–"
        cells = [f"`{row.name}`", row.origin, threat, _pct(row.clean), _pct(row.autoattack), _pct(row.pgd)]
        cells.append(_pct(row.certified))
        found = {(agreement.collection, agreement.set_name): agreement for agreement in row.humans}
        for key in sets:
            agreement = found.get(key)
            cells.append(
                "–"
                if agreement is None or agreement.agreement is None
                else f"{agreement.agreement * 100:.1f}% (n={agreement.n})"
            )
        lines.append("| " + " | ".join(cells) + " |")
    measured = any(row.clean.source == "measured" or row.pgd.source == "measured" for row in rows)
    where = f"Measured rows: first {n} MNIST test images (clean: all 10,000). " if measured else ""
    lines.append(
        f"\n{where}Zoo rows: their model cards (n shown). AutoAttack: standard version (torchattacks); "
        "PGD: PGD-100 x5 restarts (SLIDE for ℓ1)."
    )
    return "\n".join(lines)


def text(rows: Sequence[ScoreRow]) -> str:
    lines = [f"{'model':18s} {'origin':6s} {'threat':12s} {'clean':>7s} {'AA':>7s} {'PGD':>7s} {'IBP':>7s} humans"]
    for row in rows:

        def value(cell: Cell) -> str:
            return "-" if cell.value is None else f"{cell.value:.4f}"

        pooled = row.human_pooled
        humans = "-" if pooled.value is None else f"{pooled.value:.3f} (n={pooled.n})"
        threat = f"{row.norm}:{row.eps}" if row.norm else "-"
        lines.append(
            f"{row.name:18s} {row.origin:6s} {threat:12s} {value(row.clean):>7s} {value(row.autoattack):>7s} "
            f"{value(row.pgd):>7s} {value(row.certified):>7s} {humans}"
        )
    return "\n".join(lines)
