"""Sensitivity check panel: can each shown model be flipped within the current budget? (worker, with cancel)

The other failure mode beside the invariance view: :func:`core.sensitivity.check` runs our PGD (ℓ∞, ℓ2) or
SLIDE (ℓ1) against every fast model shown in the model table, from the current edit, inside the current
norm's ε-ball around it. The results go to the table's "flip" column; the summary line puts them next to the
invariance view (which models keep the source label while the intended label changed).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from PyQt6.QtCore import pyqtSignal
from PyQt6.QtWidgets import QHBoxLayout, QPushButton, QVBoxLayout, QWidget
from torch import nn

from core import budget
from core.attacks import ATTACK_NORMS
from core.labels import NOT_A_DIGIT, label_name
from core.sensitivity import ATTACK_NAMES, Flip, check
from editor.state.editing import EditorState
from editor.state.sources import ModelSource
from editor.widgets.models import ModelPanel
from editor.workers.tasks import ProgressCallback, RunsOneTask, TaskControls, TaskThread, show_fraction

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CheckOutcome:
    """What one check found: flips per checked model, the image/budget it ran on, models left out and why."""

    flips: dict[str, Flip]
    image: np.ndarray
    norm: str
    eps: float
    skipped: dict[str, str]


class SensitivityPanel(RunsOneTask, QWidget):
    """A button that runs the check, a progress bar with cancel, and a one-paragraph summary.

    Signals: sigFinished(object): the :class:`CheckOutcome`; sigError(str): the check failed (one line).
    """

    sigFinished = pyqtSignal(object)
    sigError = pyqtSignal(str)

    def __init__(
        self,
        state: EditorState,
        models: ModelPanel,
        source: ModelSource,
        device: torch.device,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.state = state
        self.models = models
        self.source = source
        self.device = device
        self.outcome: CheckOutcome | None = None
        self._loaded: dict[tuple[str, str], nn.Module] = {}
        self.run_button = QPushButton("Sensitivity check (K)")
        self.run_button.setToolTip(
            "Attack every fast model from the current edit within the current budget: PGD for ℓ∞/ℓ2, SLIDE for ℓ1"
        )
        controls = self.controls = TaskControls.around(self.run_button)
        self.cancel_button, self.progress, self.summary = controls.cancel_button, controls.bar, controls.status
        self.progress.setMaximumHeight(14)
        row = QHBoxLayout()
        row.addWidget(self.run_button)
        row.addWidget(self.cancel_button)
        row.addWidget(self.progress, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(row)
        layout.addWidget(self.summary)
        self.run_button.clicked.connect(self.start)
        self.cancel_button.clicked.connect(self.cancel)
        state.events.budget.connect(self._sync_enabled)
        state.events.digit.connect(self._digit_changed)
        models.sigPredictionsUpdated.connect(self._refresh_summary)
        state.events.label.connect(self._refresh_summary)
        self._sync_enabled()

    def start(self) -> None:
        """Check every shown fast model on the current edit (ignored while a check runs)."""
        if self.task is not None:
            return
        state = self.state
        if state.norm not in ATTACK_NORMS:
            self.sigError.emit(f"the sensitivity check attacks {', '.join(ATTACK_NORMS)} budgets, not {state.norm}")
            return
        infos = {name: self.source.info(name) for name in self.models.chosen}
        names = [name for name, info in infos.items() if not info.slow]
        skipped = {name: "slow" for name, info in infos.items() if info.slow}
        image, norm, eps = state.edited.copy(), state.norm, float(state.eps)
        source, device, loaded = self.source, self.device, self._loaded

        def work(progress: ProgressCallback, cancelled: Callable[[], bool]) -> CheckOutcome:
            modules: dict[str, nn.Module] = {}
            for name in names:
                key = (name, str(device))
                if key not in loaded:
                    loaded[key] = source.load(name, device)
                modules[name] = loaded[key]

            def report(done: int, total: int) -> None:
                progress(done / max(1, total), f"attacked {done} of {total} models")

            flips = check(modules, image, norm, eps, device=device, cancelled=cancelled, progress=report)
            return CheckOutcome(flips, image, norm, eps, skipped)

        task = TaskThread(
            work,
            threads=1,
            on_progress=self._progress,
            on_done=self._done,
            on_failed=self._failed,
            on_cancelled=self._cancelled,
        )
        self.controls.start(task, f"Attacking {len(names)} model(s) with {ATTACK_NAMES[norm]}, ε = {eps:g}…")

    def _progress(self, fraction: float, message: str) -> None:
        show_fraction(self.progress, fraction)

    def _done(self, outcome: CheckOutcome) -> None:
        self._idle()
        self.outcome = outcome
        self.models.show_flips(outcome.flips, outcome.image, outcome.norm, outcome.eps, outcome.skipped)
        self._refresh_summary()
        self.sigFinished.emit(outcome)

    def _failed(self, message: str) -> None:
        self._idle()
        self.summary.setText(f"Sensitivity check failed: {message}")
        self.sigError.emit(f"sensitivity check: {message}")

    def _cancelled(self) -> None:
        self._idle()
        self.summary.setText("Sensitivity check cancelled.")

    def _idle(self) -> None:
        self.controls.finish()
        self._sync_enabled()

    def disabled_reason(self) -> str:
        """Why the check cannot run for the current budget ("" when it can)."""
        if self.state.norm in ATTACK_NORMS:
            return ""
        choices = ", ".join(budget.get_norm(name).label for name in ATTACK_NORMS)
        return (
            f"No gradient attack searches {budget.get_norm(self.state.norm).label} budgets: choose {choices} to check."
        )

    def _sync_enabled(self) -> None:
        reason = self.disabled_reason()
        self.run_button.setEnabled(not reason and self.task is None)
        self.run_button.setToolTip(
            reason
            or "Attack every fast model from the current edit within the current budget: PGD for ℓ∞/ℓ2, SLIDE for ℓ1"
        )
        self._refresh_summary()

    def _digit_changed(self) -> None:
        self.outcome = None
        self._refresh_summary()

    def _refresh_summary(self, *_: object) -> None:
        """Invariance view (models keeping the source label while the intended one changed) and sensitivity."""
        if self.task is not None:
            return
        state = self.state
        lines = []
        predicted = self.models.predicted_labels()
        intended, source = state.intended_label, state.original_label
        if intended is not None and intended != source and predicted:
            kept = sorted(name for name, label in predicted.items() if label == source)
            lines.append(
                f"<b>Invariance</b> (intended {label_name(intended)}, source {label_name(source)}): "
                f"{len(kept)} of {len(predicted)} models still say {label_name(source)}"
                + (f": {', '.join(kept)}" if kept else "")
            )
        elif intended is None or intended in (NOT_A_DIGIT, source):
            lines.append("<b>Invariance</b>: choose an intended label that differs from the source label.")
        reason = self.disabled_reason()
        if reason:
            lines.append(f"<b>Sensitivity check off</b>: {reason}")
        outcome = self.outcome
        if outcome is not None:
            flipped = {name: flip for name, flip in outcome.flips.items() if flip.flipped}
            current = (
                outcome.norm == state.norm and outcome.eps == state.eps and np.array_equal(outcome.image, state.edited)
            )
            where = "this edit" if current else "an earlier edit"
            lines.append(
                f"<b>Sensitivity</b> ({ATTACK_NAMES[outcome.norm]}, ε = {outcome.eps:g} around {where}): "
                f"{len(flipped)} of {len(outcome.flips)} models can be flipped"
                + (": " + ", ".join(f"{name} → {flip.to_label}" for name, flip in flipped.items()) if flipped else "")
            )
        self.summary.setText("<br>".join(lines))
