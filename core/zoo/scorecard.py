"""The scorecard: chosen models (user or zoo) measured now, beside every zoo model's card figures.

Per model and threat: clean accuracy; robust accuracy under the reference AutoAttack (pyautoattack, standard,
``core.zoo.autoattack``) and under our PGD (``core.attacks``, the cards' PGD-100 x5), both from one sharded run on the
same images; IBP-certified accuracy where ``core.certify`` applies (the zoo's certified models); agreement with the
human label on the invariance examples (items whose human consensus differs from the original label) of every
human-labelled collection, with n for each set. A user model without a threat model is measured at ℓ∞ 0.3 (the
MNIST standard), and the row says so. Card figures from the older torchattacks AutoAttack are labelled
"torchattacks, 10 steps"; a card's warning (AutoAttack weaker than PGD on some images) is shown.

Every cell says where its value comes from: ``"card"`` (the zoo card's figure, with the card's n) or
``"measured"`` (now, on the first ``n`` MNIST test images). Figures measured for a user model are stored on its
card, keyed by attack and n, so the next scorecard reuses them.
"""

from __future__ import annotations

import dataclasses
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
from core.paths import user_data_dir
from core.zoo import autoattack, available, entry, load, load_card, user
from core.zoo.cards import ModelCard, write_card_file
from core.zoo.evaluation import CLEAN_N, Figure, autoattack_threat, correct_per_image, no_autoattack_reason
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
    label: str = ""
    """AutoAttack cells: the implementation (``"pyautoattack 0.2.0"``, ``"torchattacks, 10 steps"``) or why there
    is no figure."""
    warnings: tuple[str, ...] = ()


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
    threat_note: str = ""
    """``"default"`` when the model has no threat model and was measured at ℓ∞ 0.3."""

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


DEFAULT_THREAT: Final = ("linf", 0.3)
"""The threat a model without one is measured at: ℓ∞ 0.3, the MNIST standard."""


@dataclass(frozen=True)
class Sharding:
    """Where the sharded robust evaluations run (see ``core.sharding``)."""

    workers: int = 1
    dask: str | None = None


def scorecard(
    names: Sequence[str],
    *,
    n: int = SCORECARD_N,
    threats: Sequence[tuple[str, float]] = (),
    collections: Sequence[Path] = (),
    human_report: HumanReport | None = None,
    device: torch.device,
    progress: Progress | None = None,
    sharding: Sharding = Sharding(),
    show_bars: bool = False,
) -> list[ScoreRow]:
    """Rows for ``names`` (measured now on the first ``n`` test images, one row per threat of ``threats``, else
    at the model's own threat model, else ℓ∞ 0.3) and for every other trained zoo model (from its card), then the
    human agreement of all of them on ``collections`` (by ``human_report``, which ``collections`` need).

    ``progress`` gets one line per figure: ``"NAME: FIGURE: from card"`` for a figure read from the model's
    card, ``"NAME: FIGURE: measuring"`` before one is measured; ``show_bars`` adds a tqdm bar (on stderr) to
    each measurement that is not sharded (the sharded AutoAttack run shows its own)."""
    if collections and human_report is None:
        raise ValueError("scorecard: human agreement on collections needs a human_report")
    report = progress or (lambda _message: None)
    measured = list(dict.fromkeys(names))
    for name in measured:
        entry(name)  # unknown names fail before any work
    rows = []
    for name in measured:
        model_entry = entry(name)
        own = _threat(model_entry)
        chosen: list[tuple[tuple[str, float] | None, str]]
        if threats:
            chosen = [(threat, "") for threat in threats]
        elif own is not None:
            chosen = [(own, "")]
        elif model_entry.origin == "user":
            chosen = [(DEFAULT_THREAT, "default")]
        else:
            chosen = [(None, "")]
        for threat, note in chosen:
            rows.append(_measured_row(name, threat, note, n, device, report, sharding, show_bars))
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


def _card_autoattack_cell(card: ModelCard, model: ZooEntry, threat: tuple[str, float] | None) -> Cell:
    """A card's AutoAttack figure, labelled with its implementation and warnings; or why there is none."""
    if threat is None:
        return Cell(None, label=no_autoattack_reason(model))
    cell = _card_cell(card, autoattack.figure_key(*threat))
    recorded = card.evaluation.get(autoattack.figure_key(*threat))
    if cell.value is None or not isinstance(recorded, dict):
        return cell
    warnings = recorded.get("warnings") if autoattack.is_reference(recorded) else None
    return dataclasses.replace(
        cell,
        label=autoattack.record_label(recorded),
        warnings=tuple(str(warning) for warning in warnings or ()),
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
        autoattack=_card_autoattack_cell(card, model, threat),
        pgd=_card_cell(card, f"robust_accuracy_{norm}_{eps}") if threat else Cell(None),
        certified=_card_cell(card, f"certified_accuracy_{model.eps}") if model.certified else Cell(None),
    )


def _measured_row(
    name: str,
    threat: tuple[str, float] | None,
    threat_note: str,
    n: int,
    device: torch.device,
    report: Progress,
    sharding: Sharding,
    show_bars: bool,
) -> ScoreRow:
    model_entry, card = entry(name), load_card(name)
    model = load(name, device)
    norm, eps = threat if threat else (None, None)
    cache = _FigureCache(card, report, show_bars)
    clean = _card_cell(card, "clean_accuracy")
    if clean.n < CLEAN_N:
        clean_figure = Figure("clean", "clean", CLEAN_N)
        clean = cache.get(
            f"{name}: clean accuracy on {CLEAN_N} images",
            "clean_accuracy",
            clean_figure.attack_name(),
            CLEAN_N,
            lambda advance: _accuracy(model, clean_figure, device, advance),
        )
    else:
        report(f"{name}: clean accuracy on {clean.n} images: from card")
    aa = pgd = certified = Cell(None)
    if threat is None:
        aa = Cell(None, label=no_autoattack_reason(model_entry))
    elif norm is not None and eps is not None and autoattack.supports(norm):
        spec = autoattack.EvalSpec(name, norm, eps, device=str(device))
        runs: list[autoattack.AutoAttackRun] = []

        def run_once() -> autoattack.AutoAttackRun:
            if not runs:
                runs.append(
                    autoattack.run_autoattack(
                        spec, n, workers=sharding.workers, dask=sharding.dask, report=report, progress=name
                    )
                )
            return runs[0]

        aa = cache.get(
            f"{name}: AutoAttack ({norm}, ε={eps}) on {n} images",
            autoattack.figure_key(norm, eps),
            autoattack.attack_name(norm, eps),
            n,
            lambda _advance: run_once().value,
            sharded=True,
        )
        aa = dataclasses.replace(
            aa, label=autoattack.implementation(), warnings=tuple(runs[0].warnings) if runs else aa.warnings
        )
        pgd = cache.get(
            f"{name}: PGD ({norm}, ε={eps}) on {n} images",
            f"robust_accuracy_{norm}_{eps}",
            f"{autoattack.REFERENCE.pgd_label} ({autoattack.implementation()} chunks)",
            n,
            lambda _advance: float(run_once().pgd_value or 0.0),
            sharded=True,
        )
    if model_entry.certified and model_entry.eps is not None:
        figure = Figure("certified", "certified", n, "linf", model_entry.eps)
        certified = cache.get(
            f"{name}: IBP-certified (linf, ε={model_entry.eps}) on {n} images",
            f"certified_accuracy_{model_entry.eps}",
            figure.attack_name(),
            n,
            lambda advance: _accuracy(model, figure, device, advance),
        )
    cache.save()
    return ScoreRow(name, model_entry.origin, norm, eps, clean, aa, pgd, certified, threat_note=threat_note)


def _accuracy(model: nn.Module, figure: Figure, device: torch.device, advance: Callable[[int], object]) -> float:
    """Accuracy under ``figure`` (clean or certified); ``advance`` is called per batch with its size."""
    return float(correct_per_image(model, figure, device, progress=advance).float().mean())


class _FigureCache:
    """A user model's measured figures, kept on its card under ``scorecard`` (zoo cards are not written)."""

    def __init__(self, card: ModelCard, report: Progress, show_bars: bool) -> None:
        self.card = card
        self.report = report
        self.show_bars = show_bars
        self.stored: dict[str, Any] = dict(card.evaluation.get("scorecard", {})) if card.origin == "user" else {}
        self.changed = False

    def get(
        self,
        label: str,
        key: str,
        attack: str,
        n: int,
        compute: Callable[[Callable[[int], object]], float],
        *,
        sharded: bool = False,
    ) -> Cell:
        """The figure from the card when it holds it for this attack and n (saying "from card"), else measured
        now (saying "measuring"); ``compute`` gets a callback that advances the progress bar by a number of
        images (a sharded run shows its own bar instead)."""
        hit = self.stored.get(f"{key}@{n}")
        if isinstance(hit, dict) and isinstance(hit.get("value"), (int, float)) and hit.get("attack") == attack:
            self.report(f"{label}: from card")
            return Cell(float(hit["value"]), n, "measured", attack)
        self.report(f"{label}: measuring")
        with tqdm(
            total=n, desc=label, unit="img", leave=False, file=sys.stderr, disable=sharded or not self.show_bars
        ) as bar:
            value = compute(bar.update)
        self.stored[f"{key}@{n}"] = {"value": round(value, 4), "n": n, "attack": attack}
        self.changed = True
        return Cell(value, n, "measured", attack)

    def save(self) -> None:
        if not self.changed or self.card.origin != "user":
            return
        self.card.evaluation["scorecard"] = self.stored
        path = user.models_dir() / self.card.name / user.CARD_NAME
        write_card_file(path, asdict(self.card))


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


def _aa_cell(cell: Cell) -> str:
    shown = _pct(cell)
    if cell.value is not None and cell.label == autoattack.LEGACY_LABEL:
        shown += f" [{autoattack.LEGACY_LABEL}]"
    return shown + (" ⚠" if cell.warnings else "")


def _threat_text(row: ScoreRow, separator: str = " ε=") -> str:
    if not row.norm:
        return "–"
    return f"{row.norm}{separator}{row.eps}" + (" (default: no threat model)" if row.threat_note == "default" else "")


def notes(rows: Sequence[ScoreRow]) -> list[str]:
    """What a table's cells cannot hold: why a model has no AutoAttack figure, and the cards' warnings."""
    lines = []
    for row in rows:
        if row.autoattack.value is None and row.autoattack.label:
            lines.append(f"{row.name}: {row.autoattack.label}")
        lines += [f"{row.name}: ⚠ {warning}" for warning in row.autoattack.warnings]
    return list(dict.fromkeys(lines))


def markdown(rows: Sequence[ScoreRow], n: int) -> str:
    """The scorecard as a Markdown table (cards' n shown where it differs from the measured ``n``)."""
    sets = sorted({(agreement.collection, agreement.set_name) for row in rows for agreement in row.humans})
    header = ["model", "origin", "threat", "clean", "AutoAttack", "PGD (ours)", "IBP-certified"]
    header += [f"humans: {Path(collection).name}/{set_name}" for collection, set_name in sets]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in rows:
        cells = [f"`{row.name}`", row.origin, _threat_text(row), _pct(row.clean), _aa_cell(row.autoattack)]
        cells += [_pct(row.pgd), _pct(row.certified)]
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
        f"\n{where}Zoo rows: their model cards (n shown). AutoAttack: the reference implementation "
        f"({autoattack.implementation()}, standard version; ℓ1 setting for ℓ1) unless marked "
        f"[{autoattack.LEGACY_LABEL}]. PGD: PGD-100 x5 restarts (SLIDE for ℓ1)."
    )
    lines += [f"- {line}" for line in notes(rows)]
    return "\n".join(lines)


def text(rows: Sequence[ScoreRow]) -> str:
    lines = [f"{'model':18s} {'origin':6s} {'threat':12s} {'clean':>7s} {'AA':>7s} {'PGD':>7s} {'IBP':>7s} humans"]
    for row in rows:

        def value(cell: Cell) -> str:
            return "-" if cell.value is None else f"{cell.value:.4f}"

        pooled = row.human_pooled
        humans = "-" if pooled.value is None else f"{pooled.value:.3f} (n={pooled.n})"
        threat = _threat_text(row, ":") if row.norm else "-"
        aa = value(row.autoattack) + ("*" if row.autoattack.label == autoattack.LEGACY_LABEL else "")
        aa += "!" if row.autoattack.warnings else ""
        lines.append(
            f"{row.name:18s} {row.origin:6s} {threat:12s} {value(row.clean):>7s} {aa:>7s} "
            f"{value(row.pgd):>7s} {value(row.certified):>7s} {humans}"
        )
    if any(row.autoattack.label == autoattack.LEGACY_LABEL for row in rows):
        lines.append(f"AA*: {autoattack.LEGACY_LABEL} (not yet re-measured with {autoattack.implementation()})")
    lines += [f"{line}" for line in notes(rows)]
    return "\n".join(lines)
