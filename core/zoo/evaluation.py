"""Measuring zoo models: clean, robust and certified accuracy, and the audit against the model cards.

Figures are computed on the first ``n`` images of the canonical MNIST test set, so anyone can re-measure them.
The robust figures use ``core.attacks``; the gradient-masking audit re-attacks with an independent
implementation (adversarial-robustness-toolbox's AutoPGD), which shares no code with ours.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from core import attacks
from core.budget import get_norm
from core.data import load_mnist
from core.device import resolve_device
from core.errors import ModelError
from core.images import to_float
from core.zoo.cards import ModelCard, read_card, write_card
from core.zoo.registry import ZooEntry, get_entry

log = logging.getLogger(__name__)

CLEAN_N = 10_000
ROBUST_N = 500
CARD_RESTARTS = 5
AUDIT_N = 500
"""Figures measured on more images also record their value on the first AUDIT_N, which the audit re-measures."""
ATTACK_STEPS = 100


@dataclass(frozen=True)
class Figure:
    """One figure of a model card: what is measured, with which attack, on how many test images."""

    key: str
    kind: str  # "clean" | "pgd" | "certified" | "spatial"
    n: int
    norm: str | None = None
    eps: float | None = None
    steps: int = 0
    restarts: int = 1

    def attack_name(self) -> str:
        if self.kind == "pgd":
            norm = get_norm(str(self.norm))
            name, step = norm.attack_card_name, norm.describe_steps(self.steps)
            return f"{name}-{self.steps} x{self.restarts} restarts, step {step}, ε={self.eps}, stop at first success"
        if self.kind == "spatial":
            grid = "worst of 7 rotations (±30°) x 7x7 shifts (±3 px)"
            return f"{grid}, then PGD-linf-{self.steps}, ε={self.eps}, stop at first success"
        if self.kind == "certified":
            return f"interval bound propagation, ε={self.eps}"
        return "none"


def card_figures(entry: ZooEntry, robust_n: int = ROBUST_N, restarts: int = CARD_RESTARTS) -> list[Figure]:
    """The figures a model's card reports (see the zoo table in the README)."""
    figures = [Figure("clean_accuracy", "clean", CLEAN_N)]
    if entry.name == "undefended":
        figures.append(Figure("robust_accuracy_linf_0.3", "pgd", robust_n, "linf", 0.3, ATTACK_STEPS, 1))
    if entry.recipe == "spatial":
        figures.append(
            Figure(f"robust_accuracy_spatial_linf_{entry.eps}", "spatial", min(robust_n, 500), "linf", entry.eps, 20, 1)
        )
    elif entry.norm is not None and entry.eps is not None:
        figures.append(
            Figure(
                f"robust_accuracy_{entry.norm}_{entry.eps}",
                "pgd",
                robust_n,
                entry.norm,
                entry.eps,
                ATTACK_STEPS,
                restarts,
            )
        )
    if entry.certified and entry.eps is not None:
        for eps in sorted({entry.eps, 0.3}):
            figures.append(Figure(f"certified_accuracy_{eps}", "certified", CLEAN_N, "linf", eps))
    return figures


def measure(model: nn.Module, figure: Figure, device: torch.device, batch_size: int = 250) -> float:
    """Accuracy (clean, robust or certified) of ``model`` on the first ``figure.n`` test images."""
    return float(correct_per_image(model, figure, device, batch_size).float().mean())


def correct_per_image(model: nn.Module, figure: Figure, device: torch.device, batch_size: int = 250) -> torch.Tensor:
    """Bool (figure.n,): is each of the first ``figure.n`` test images classified correctly under ``figure``.

    Images go in fixed batches with one seeded generator, so the first k entries equal a run with ``n = k``.
    """
    images_u8, labels_np = load_mnist("test")
    images = torch.from_numpy(to_float(images_u8[: figure.n])).unsqueeze(1)
    labels = torch.from_numpy(labels_np[: figure.n])
    generator = torch.Generator().manual_seed(0)
    parts = []
    for start in range(0, len(labels), batch_size):
        x = images[start : start + batch_size].to(device)
        y = labels[start : start + batch_size].to(device)
        parts.append(_correct(model, x, y, figure, generator).cpu())
    return torch.cat(parts)


def _correct(
    model: nn.Module, x: torch.Tensor, y: torch.Tensor, figure: Figure, generator: torch.Generator
) -> torch.Tensor:
    if figure.kind == "clean":
        with torch.no_grad():
            return model(x).argmax(1) == y
    if figure.kind == "pgd":
        result = attacks.pgd(
            model,
            x,
            y,
            norm=str(figure.norm),
            eps=float(figure.eps or 0),
            steps=figure.steps,
            restarts=figure.restarts,
            generator=generator,
            early_stop=True,
        )
        return ~result.success
    if figure.kind == "spatial":
        result = attacks.spatial(
            model,
            x,
            y,
            transforms=attacks.spatial_grid(),
            eps=float(figure.eps or 0),
            steps=figure.steps,
            generator=generator,
            early_stop=True,
        )
        return ~result.success
    if figure.kind == "certified":
        from core.certify import certified

        with torch.no_grad():
            return certified(model, x, y, float(figure.eps or 0)) & (model(x).argmax(1) == y)
    raise ValueError(f"unknown figure kind {figure.kind}")


def evaluate_card(
    name: str, *, device: str | None = None, robust_n: int | None = None, logger: logging.Logger | None = None
) -> ModelCard:
    """Measure every card figure of ``name`` and write them into its card (with the reproducing command)."""
    from core.zoo import load

    logger = logger or log
    entry = get_entry(name)
    card = read_card(name)
    chosen = resolve_device(device)
    model = load(name, chosen)
    n = robust_n or ROBUST_N
    command = f"invariance zoo --evaluate {name} --n {n}"
    for figure in card_figures(entry, n):
        started = time.monotonic()
        correct = correct_per_image(model, figure, chosen)
        value = float(correct.float().mean())
        card.evaluation[figure.key] = {
            "value": round(value, 4),
            "n": figure.n,
            "attack": figure.attack_name(),
            "seconds": round(time.monotonic() - started, 1),
            "command": command,
        }
        if figure.n > AUDIT_N:  # what the audit re-measures: the same images, so no second run
            first = round(float(correct[:AUDIT_N].float().mean()), 4)
            card.evaluation[figure.key][f"value_first_{AUDIT_N}"] = first
        logger.info(
            "%s %s = %.4f on %d test images (%.0f s)", name, figure.key, value, figure.n, time.monotonic() - started
        )
    write_card(card)
    return card


@dataclass(frozen=True)
class AuditRow:
    model: str
    figure: str
    card: float | None
    measured: float
    n: int
    seconds: float

    @property
    def difference(self) -> float | None:
        return None if self.card is None else self.measured - self.card


def _first(figure: Figure, n: int) -> Figure:
    return dataclasses.replace(figure, n=min(figure.n, n))


def audit(
    names: list[str],
    *,
    n: int = AUDIT_N,
    restarts: int = CARD_RESTARTS,
    device: str | None = None,
    workers: int | None = None,
) -> list[AuditRow]:
    """Re-measure each card figure on the first ``n`` test images (robust: ``restarts`` restarts, as the cards).

    Each row compares with the card's value on the same images where the card has it (``value_first_<n>``).
    On the CPU, ``workers`` threads (default: one per usable core) audit different models at once with one
    torch thread each, which gets ~20% more attack steps per second out of small CNNs than one model at a time
    with every core; each model's figures do not depend on this (every measurement seeds its own generator).
    """
    chosen = resolve_device(device)
    if workers is None:
        workers = len(os.sched_getaffinity(0)) if chosen.type == "cpu" else 1
    workers = max(1, min(workers, len(names)))

    def audit_model(name: str) -> list[AuditRow]:
        from core.zoo import entry as find
        from core.zoo import load, load_card

        if workers > 1:
            torch.set_num_threads(1)  # per OS thread (OpenMP): this worker's share of the cores
        entry, card = find(name), load_card(name)  # zoo or user model
        model = load(name, chosen)
        rows = []
        for figure in card_figures(entry, n, restarts):
            scaled = _first(figure, n)
            started = time.monotonic()
            value = measure(model, scaled, chosen)
            recorded = card.evaluation.get(figure.key, {})
            reference = recorded.get(f"value_first_{scaled.n}", recorded.get("value"))
            seconds = time.monotonic() - started
            card_value = None if reference is None else float(reference)
            rows.append(AuditRow(name, figure.key, card_value, value, scaled.n, seconds))
        return rows

    if workers == 1:
        return [row for name in names for row in audit_model(name)]
    with ThreadPoolExecutor(workers, thread_name_prefix="audit") as pool:
        return [row for rows in pool.map(audit_model, names) for row in rows]


def independent_attack(name: str, *, n: int = 200, device: str | None = None) -> dict[str, Any]:
    """Robust accuracy under ART's AutoPGD (an implementation independent of ours) vs our PGD, same images.

    Returns ``{"attack", "n", "art_autopgd", "ours", "drop"}`` and records it on the card.
    """
    from art.attacks.evasion import AutoProjectedGradientDescent
    from art.estimators.classification import PyTorchClassifier

    from core.zoo import load

    entry, card = get_entry(name), read_card(name)
    if entry.norm is None or entry.eps is None:
        raise ValueError(f"{name} has no ℓp threat model to audit")
    chosen = resolve_device(device)
    model = load(name, chosen)
    images_u8, labels_np = load_mnist("test")
    x = to_float(images_u8[:n])[:, None]
    y = labels_np[:n]
    classifier = PyTorchClassifier(
        model=model,
        loss=nn.CrossEntropyLoss(),
        input_shape=(1, 28, 28),
        nb_classes=10,
        clip_values=(0.0, 1.0),
        device_type="gpu" if chosen.type == "cuda" else "cpu",
    )
    attack = AutoProjectedGradientDescent(
        classifier,
        norm=get_norm(entry.norm).p,
        eps=entry.eps,
        eps_step=2 * entry.eps / 10,
        max_iter=100,
        nb_random_init=1,
        batch_size=100,
        verbose=False,
    )
    adversarial = attack.generate(x=x, y=y)
    art_accuracy = float((classifier.predict(adversarial).argmax(1) == y).mean())
    ours = measure(model, Figure("ours", "pgd", n, entry.norm, entry.eps, ATTACK_STEPS, CARD_RESTARTS), chosen)
    result = {
        "attack": f"ART {attack.__class__.__name__} ({entry.norm}, ε={entry.eps}, 100 iterations)",
        "n": n,
        "art_autopgd": round(art_accuracy, 4),
        "ours": round(ours, 4),
        "drop": round(ours - art_accuracy, 4),
        "command": f"invariance zoo --independent {name} --n {n}",
    }
    card.evaluation["independent_attack"] = result
    write_card(card)
    return result


def autoattack_threat(entry: ZooEntry) -> tuple[str, float] | None:
    """The (norm, ε) at which a zoo model's card reports AutoAttack: its ℓ∞/ℓ2/ℓ1 threat model (undefended: ℓ∞
    0.3); ``None`` for models without one (ABS, see :func:`no_autoattack_reason`)."""
    from core.zoo import autoattack

    if entry.name == "undefended":
        return "linf", 0.3
    if entry.norm is not None and entry.eps is not None and autoattack.supports(entry.norm):
        return entry.norm, entry.eps
    return None


def no_autoattack_reason(entry: ZooEntry) -> str:
    """Why a model has no AutoAttack figure (shown in tables and errors)."""
    from core.zoo import autoattack

    if entry.recipe == "abs":
        return autoattack.ABS_REASON
    return "no AutoAttack figure: no ℓ∞, ℓ2 or ℓ1 threat model"


def evaluate_autoattack(
    name: str,
    *,
    n: int | None = None,
    device: str | None = None,
    workers: int = 1,
    dask: str | None = None,
    report: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Measure the reference AutoAttack on the first ``n`` test images of zoo model ``name``, sharded over
    ``workers`` (or a Dask cluster), and record it on its card with the per-image file beside it.

    The record replaces the card's previous AutoAttack figure and keeps it as ``previous``.
    """
    from core.zoo import autoattack
    from core.zoo.cards import checkpoint_dir

    entry = get_entry(name)
    threat = autoattack_threat(entry)
    if threat is None:
        raise ModelError(f"{name}: {no_autoattack_reason(entry)}")
    norm, eps = threat
    n = n or autoattack.AUTOATTACK_N
    chosen = resolve_device(device)
    spec = autoattack.EvalSpec(name, norm, eps, device=str(chosen), certify=entry.certified and norm == "linf")
    run = autoattack.run_autoattack(spec, n, workers=workers, dask=dask, report=report)
    engine = "dask " + dask if dask else ("process pool" if workers > 1 else "in-process")
    command = f"invariance zoo --autoattack {name} --n {n} --workers {workers}" + (f" --dask {dask}" if dask else "")
    record = autoattack.card_record(run, command=command, workers=workers, engine=engine, device=str(chosen))
    card = read_card(name)  # read again: the run may have taken hours
    previous = autoattack.previous_of(card.evaluation.get(figure_key := autoattack.figure_key(norm, eps)))
    if previous is not None:
        record["previous"] = previous
    autoattack.write_per_image(run, checkpoint_dir())
    card.evaluation[figure_key] = record
    write_card(card)
    return record
