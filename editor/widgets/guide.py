"""Target guide panel: computes GenInv's aligned target digit for the intended label, in a worker.

When the intended label is a digit other than the source label, the panel asks ``guide`` (by default
:func:`core.geninv.guide.aligned_target`) for the bank digit of that class aligned onto the original, off the
GUI thread, and stores it in the :class:`~editor.state.editing.EditorState` (``set_guide``); the canvas overlays it and
the "toward target" tool paints toward it. A newer request replaces one that is still waiting.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import torch
from PyQt6.QtCore import pyqtSignal
from PyQt6.QtWidgets import QCheckBox, QLabel, QVBoxLayout, QWidget

from core.labels import label_name
from editor.state.editing import EditorState
from editor.workers.tasks import ProgressCallback, TaskThread

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class GuideImage:
    """The aligned target digit: float32 (28, 28) in [0, 1], its class and where it came from."""

    image: np.ndarray
    target: int
    detail: str


class GuideFunction(Protocol):
    def __call__(
        self, original: np.ndarray, target: int, norm: str, eps: float, device: torch.device
    ) -> GuideImage: ...


def geninv_guide(original: np.ndarray, target: int, norm: str, eps: float, device: torch.device) -> GuideImage:
    """:func:`core.geninv.guide.aligned_target` on the default candidate bank (built once per process)."""
    from core.geninv.guide import aligned_target

    guide = aligned_target(original, target, norm, eps, device=device)
    return GuideImage(guide.image, guide.target, f"MNIST train #{guide.train_index}")


@dataclass(frozen=True)
class _Request:
    original: np.ndarray
    target: int
    norm: str
    eps: float


class GuidePanel(QWidget):
    """Show/hide the guide and see what it is. Signals: sigReady(int target), sigError(str)."""

    sigReady = pyqtSignal(int)
    sigError = pyqtSignal(str)

    def __init__(
        self,
        state: EditorState,
        device: torch.device,
        guide: GuideFunction = geninv_guide,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.state = state
        self.device = device
        self.guide = guide
        self.task: TaskThread | None = None
        self._pending: _Request | None = None
        self._running: _Request | None = None
        self.show_box = QCheckBox("Show target guide (G)")
        self.show_box.setChecked(state.guide_visible)
        self.show_box.setToolTip("Overlay, in cyan, the training digit of the intended class aligned onto this one")
        self.message = QLabel("Choose an intended label 0–9 to see its guide.")
        self.message.setWordWrap(True)
        self.message.setStyleSheet("color: #999999")
        # room for two lines from the start: a wrapped label that grows later is squeezed inside a group box
        self.message.setMinimumHeight(2 * self.message.fontMetrics().lineSpacing() + 2)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.show_box)
        layout.addWidget(self.message)
        self.show_box.toggled.connect(state.set_guide_visible)
        state.events.guide.connect(self._sync)
        state.events.label.connect(self.request)
        state.events.digit.connect(self.request)

    @property
    def running(self) -> bool:
        return self.task is not None

    def toggle(self) -> None:
        self.state.set_guide_visible(not self.state.guide_visible)

    def request(self) -> None:
        """Compute the guide for the current original and intended label (or clear it when there is none)."""
        state = self.state
        target = state.intended_label
        if target is None or not 0 <= target <= 9 or target == state.original_label:
            self._pending = None
            if state.guide is not None:
                state.set_guide(None, None)
            self.message.setText("Choose an intended label 0–9 (not the source label) to see its guide.")
            return
        wanted = _Request(state.original.copy(), int(target), state.norm, float(state.eps))
        if state.guide is not None and state.guide_target == target and self._running is None:
            return
        self._pending = wanted
        self._start_pending()

    def _start_pending(self) -> None:
        if self.task is not None or self._pending is None:
            return
        request, self._pending = self._pending, None
        guide, device = self.guide, self.device

        def work(progress: ProgressCallback, cancelled: Callable[[], bool]) -> GuideImage:
            progress(0.0, "aligning")
            return guide(request.original, request.target, request.norm, request.eps, device)

        self._running = request
        self.task = TaskThread(work, threads=1, on_done=self._done, on_failed=self._failed, on_cancelled=self._finished)
        self.message.setText(f"Aligning a {request.target} onto this digit…")
        self.task.start()

    def _done(self, found: GuideImage) -> None:
        request = self._running
        self._finished()
        state = self.state
        if (
            request is not None
            and np.array_equal(request.original, state.original)
            and state.intended_label == found.target
        ):
            state.set_guide(found.image, found.target)
            self.message.setText(f"Guide: a {label_name(found.target)} aligned by GenInv ({found.detail}).")
            self.sigReady.emit(found.target)
        self._start_pending()

    def _failed(self, message: str) -> None:
        self._finished()
        self.message.setText(f"No guide: {message}")
        self.sigError.emit(f"target guide: {message}")
        self._start_pending()

    def _finished(self) -> None:
        self.task = None
        self._running = None

    def _sync(self) -> None:
        self.show_box.blockSignals(True)
        self.show_box.setChecked(self.state.guide_visible)
        self.show_box.blockSignals(False)

    def shutdown(self) -> None:
        self._pending = None
        if self.task is not None:
            self.task.stop()
