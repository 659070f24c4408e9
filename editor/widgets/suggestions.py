"""Suggestions panel: GenInv proposals for the current digit, computed in a worker with progress and cancel.

Each proposal is shown as a thumbnail with its target label and distortion; clicking one loads it as the edit.
The search function is injectable (tests use a tiny stand-in); by default it is ``core.geninv.suggest``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from PyQt6.QtCore import QSize, Qt, pyqtSignal
from PyQt6.QtGui import QIcon
from PyQt6.QtWidgets import (
    QHBoxLayout,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from core.errors import BudgetError
from core.labels import label_name
from editor.state.editing import EditorState
from editor.widgets.pixmap import grey_pixmap
from editor.workers.tasks import ProgressCallback, RunsOneTask, TaskControls, TaskThread, show_fraction

log = logging.getLogger(__name__)

THUMBNAIL = 84
IDLE_MESSAGE = "Suggestions for the current digit within the current budget."


@dataclass(frozen=True)
class Proposal:
    """One suggestion as the editor uses it: image float32 (28, 28) in [0, 1], target label, distortions."""

    image: np.ndarray
    target_label: int
    distortion: dict[str, float]
    seconds: float = 0.0


SuggestFunction = Callable[
    [np.ndarray, int, str, float | None, int, int, torch.device, ProgressCallback, Callable[[], bool]], list[Proposal]
]
"""What the panel asks for suggestions, called as :func:`geninv_suggest` is: (image, label, norm, eps, k, seed,
device, progress, cancelled) -> proposals, best first."""


def geninv_suggest(
    image: np.ndarray,
    label: int,
    norm: str,
    eps: float | None,
    k: int,
    seed: int,
    device: torch.device,
    progress: ProgressCallback,
    cancelled: Callable[[], bool],
) -> list[Proposal]:
    """``core.geninv`` as a :class:`SuggestFunction`; the editor passes its ε so proposals fit the budget.

    Raises :class:`BudgetError` for a norm GenInv does not support (it searches ℓ0 and ℓ∞).
    """
    from core import geninv

    if norm not in geninv.SUPPORTED_NORMS:
        raise BudgetError(f"GenInv suggests for {' and '.join(geninv.SUPPORTED_NORMS)} only, not {norm}")
    progress(0.0, "searching (the first search also builds the candidate bank)")

    def report(done: int, total: int) -> None:
        progress(done / max(1, total), "searching")

    found = geninv.suggest_batch(image[None], [label], norm, eps, k, seed, device, progress=report, cancel=cancelled)[0]
    return [
        Proposal(np.asarray(s.image, dtype=np.float32), int(s.target_label), dict(s.distortion), float(s.seconds))
        for s in found
    ]


class SuggestionsPanel(RunsOneTask, QWidget):
    """Ask for suggestions for the state's original digit; click one to load it.

    Signals:
        sigChosen(object): the :class:`Proposal` the user clicked.
        sigFinished(int): a search finished with that many proposals.
        sigError(str): a search failed (one line).
    """

    sigChosen = pyqtSignal(object)
    sigFinished = pyqtSignal(int)
    sigError = pyqtSignal(str)

    def __init__(
        self,
        state: EditorState,
        device: torch.device,
        suggest: SuggestFunction = geninv_suggest,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.state = state
        self.device = device
        self.suggest = suggest
        self.proposals: list[Proposal] = []
        self._searched = state.original.copy()  # the original of the last search
        self.seed = 0
        self.find_button = QPushButton("Suggest (Ctrl+G)")
        self.find_button.setToolTip("GenInv: the closest label-changing training digit, aligned and refined")
        controls = self.controls = TaskControls.around(self.find_button, IDLE_MESSAGE)
        self.cancel_button, self.progress, self.message = controls.cancel_button, controls.bar, controls.status
        self.count_box = QSpinBox()
        self.count_box.setRange(1, 12)
        self.count_box.setValue(5)
        self.count_box.setPrefix("k = ")
        self.list = QListWidget()
        self.list.setViewMode(QListWidget.ViewMode.IconMode)
        self.list.setIconSize(QSize(THUMBNAIL, THUMBNAIL))
        self.list.setResizeMode(QListWidget.ResizeMode.Adjust)
        self.list.setMovement(QListWidget.Movement.Static)
        self.list.setMinimumHeight(THUMBNAIL + 12)
        row = QHBoxLayout()
        row.addWidget(self.find_button)
        row.addWidget(self.count_box)
        row.addWidget(self.cancel_button)
        row.addWidget(self.progress, 1)
        layout = QVBoxLayout(self)
        layout.addLayout(row)
        layout.addWidget(self.message)
        layout.addWidget(self.list, 1)
        self.find_button.clicked.connect(self.start)
        self.cancel_button.clicked.connect(self.cancel)
        self.list.itemClicked.connect(self._clicked)
        self.list.itemActivated.connect(self._clicked)
        state.events.digit.connect(self._digit_changed)

    def start(self) -> None:
        """Search for suggestions for the current original (ignored while a search runs)."""
        if self.task is not None:
            return
        state = self.state
        image, label, norm, eps = state.original.copy(), state.original_label, state.norm, state.eps
        if label < 0:
            self.sigError.emit("suggestions need a digit with a known label")
            return
        k, seed, device, suggest = self.count_box.value(), self.seed, self.device, self.suggest
        self._searched = image

        def work(progress: ProgressCallback, cancelled: Callable[[], bool]) -> list[Proposal]:
            return suggest(image, label, norm, eps, k, seed, device, progress, cancelled)

        task = TaskThread(
            work, on_progress=self._progress, on_done=self._done, on_failed=self._failed, on_cancelled=self._cancelled
        )
        self.controls.start(task, f"Searching for {norm} suggestions for a {label} (ε = {eps:g})…")

    def _progress(self, fraction: float, message: str) -> None:
        self.message.setText(message[:1].upper() + message[1:] + "…")
        show_fraction(self.progress, fraction)

    def _done(self, proposals: list[Proposal]) -> None:
        self._idle()
        if not np.array_equal(self._searched, self.state.original):
            self.message.setText("The digit changed during the search: its suggestions were dropped.")
            return
        self.proposals = list(proposals)
        self.list.clear()
        for index, proposal in enumerate(self.proposals):
            distortion = proposal.distortion
            text = f"→ {label_name(proposal.target_label)}\n" + (
                f"ℓ0 {distortion.get('l0', float('nan')):.0f} · ℓ∞ {distortion.get('linf', float('nan')):.2f}"
            )
            item = QListWidgetItem(QIcon(grey_pixmap(proposal.image, THUMBNAIL)), text)
            item.setData(Qt.ItemDataRole.UserRole, index)
            item.setToolTip(", ".join(f"{k} {v:.3g}" for k, v in distortion.items()))
            self.list.addItem(item)
        self.message.setText(
            f"{len(self.proposals)} suggestion(s); click one to load it." if self.proposals else "No suggestion found."
        )
        self.sigFinished.emit(len(self.proposals))

    def _failed(self, message: str) -> None:
        self._idle()
        self.message.setText(f"Suggestions failed: {message}")
        self.sigError.emit(message)

    def _cancelled(self) -> None:
        self._idle()
        self.message.setText("Cancelled.")

    def _idle(self) -> None:
        self.controls.finish()

    def _digit_changed(self) -> None:
        """Suggestions belong to one digit: another digit drops them and their hint (unless a search runs)."""
        self.list.clear()
        self.proposals = []
        if self.task is None:
            self.message.setText(IDLE_MESSAGE)

    def _clicked(self, item: QListWidgetItem) -> None:
        index = item.data(Qt.ItemDataRole.UserRole)
        if isinstance(index, int) and 0 <= index < len(self.proposals):
            self.sigChosen.emit(self.proposals[index])
