"""Model panel: one row per chosen zoo model with its prediction on the edit, updated on every change.

Requests are coalesced (a zero-delay timer merges all changes made in one event-loop turn) and run off the
GUI thread: all fast models in one call on one worker thread, slow models (``ModelInfo.slow``) on a second
worker with a busy indicator. Each worker runs at most one request and keeps only the newest pending one,
so stale requests are dropped.

Each row shows the predicted label, softmax bars (0-9; the intended label outlined), a mark when the
prediction differs from the intended label, and for certified models whether the ORIGINAL digit is
certified at the current ε (the model cannot change its answer within this budget).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Final

import numpy as np
import torch
from PyQt6.QtCore import QRectF, Qt, QTimer, pyqtSignal
from PyQt6.QtGui import QAction, QColor, QFont, QPainter, QPaintEvent, QPen, QPixmap
from PyQt6.QtWidgets import (
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QMenu,
    QProgressBar,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from core.errors import InvarianceError
from core.labels import NOT_A_DIGIT, label_name
from editor.sources import ModelInfo, ModelSource
from editor.state import EditorState
from editor.workers import INFERENCE_THREADS, PredictionChannel, PredictionRequest, PredictionResult

log = logging.getLogger(__name__)

_BAR_COLOR: Final = QColor("#4a90d9")
_TOP_COLOR: Final = QColor("#2ecc71")
_INTENDED_COLOR: Final = QColor("#f5a623")
_DIFFERS_COLOR: Final = "#e74c3c"
_AGREES_COLOR: Final = "#2ecc71"
_LABEL_HEIGHT: Final = 14


class ProbabilityBars(QWidget):
    """Ten vertical bars (classes 0-9) of softmax probabilities; the top class green, the intended outlined."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.probabilities: np.ndarray | None = None
        self.intended: int | None = None
        self._label_cache: tuple[tuple[int, int, int], QPixmap] | None = None
        self.setMinimumSize(120, 56)

    def set_probabilities(self, probabilities: np.ndarray | None) -> None:
        self.probabilities = None if probabilities is None else np.asarray(probabilities, dtype=np.float32)
        self.update()

    def set_intended(self, label: int | None) -> None:
        self.intended = label
        self.update()

    def _labels(self) -> QPixmap:
        """The digits 0-9 under the bars, drawn once per size and palette."""
        key = (self.width(), self.height(), self.palette().text().color().rgba())
        if self._label_cache is None or self._label_cache[0] != key:
            pixmap = QPixmap(self.width(), _LABEL_HEIGHT)
            pixmap.fill(Qt.GlobalColor.transparent)
            painter = QPainter(pixmap)
            painter.setFont(QFont(painter.font().family(), 8))
            painter.setPen(QPen(self.palette().text().color()))
            slot = self.width() / 10.0
            for k in range(10):
                painter.drawText(QRectF(k * slot, 0, slot, _LABEL_HEIGHT), Qt.AlignmentFlag.AlignCenter, str(k))
            painter.end()
            self._label_cache = (key, pixmap)
        return self._label_cache[1]

    def paintEvent(self, event: QPaintEvent | None) -> None:  # noqa: N802 - Qt override
        painter = QPainter(self)
        width, height = self.width(), self.height()
        slot = width / 10.0
        area = height - _LABEL_HEIGHT - 2
        painter.drawPixmap(0, height - _LABEL_HEIGHT, self._labels())
        if self.probabilities is not None:
            top = int(np.argmax(self.probabilities))
            for k, value in enumerate(self.probabilities.tolist()):
                bar = value * area
                color = _TOP_COLOR if k == top else _BAR_COLOR
                painter.fillRect(QRectF(k * slot + 1, 1 + area - bar, slot - 2, bar), color)
        if self.intended is not None and 0 <= self.intended <= 9:
            painter.setPen(QPen(_INTENDED_COLOR, 1.5))
            painter.drawRect(QRectF(self.intended * slot + 1, 1, slot - 2, area))
        painter.end()


class ModelRow(QFrame):
    """Prediction, bars, mismatch mark, certification and busy indicator for one model."""

    def __init__(self, info: ModelInfo, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.info = info
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.name = QLabel(f"<b>{info.name}</b>")
        threat = f"{info.norm} ε={info.eps:g}" if info.norm is not None and info.eps is not None else "undefended"
        self.name.setToolTip(f"{info.description}\nfamily: {info.family}; trained for {threat}")
        kind = threat if info.norm else (info.family or "no ℓp threat model").replace("standard", "no defence")
        self.kind = QLabel(("certified · " if info.certified else "") + kind)
        self.kind.setStyleSheet("color: #999999; font-size: 9pt")
        self.prediction = QLabel("–")
        self.prediction.setStyleSheet("font-size: 20pt; font-weight: bold")
        self.prediction.setMinimumWidth(28)
        self.prediction.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.mark = QLabel("")
        self.mark.setMinimumWidth(60)
        self.bars = ProbabilityBars()
        self.certificate = QLabel("")
        self.certificate.setStyleSheet("font-size: 9pt")
        self.busy = QProgressBar()
        self.busy.setRange(0, 0)
        self.busy.setMaximumHeight(8)
        self.busy.setTextVisible(False)
        self.busy.setVisible(False)
        self.probabilities: np.ndarray | None = None
        grid = QGridLayout(self)
        grid.setContentsMargins(6, 3, 6, 3)
        grid.setVerticalSpacing(1)
        grid.addWidget(self.name, 0, 0)
        grid.addWidget(self.kind, 1, 0)
        grid.addWidget(self.mark, 2, 0)
        grid.addWidget(self.prediction, 0, 1, 3, 1)
        grid.addWidget(self.bars, 0, 2, 3, 1)
        grid.addWidget(self.certificate, 3, 0, 1, 3)
        grid.addWidget(self.busy, 4, 0, 1, 3)
        grid.setColumnStretch(2, 1)

    @property
    def predicted(self) -> int | None:
        return None if self.probabilities is None else int(np.argmax(self.probabilities))

    def show_result(
        self, probabilities: np.ndarray | None, certified: bool | None, error: str | None, eps: float
    ) -> None:
        self.probabilities = probabilities
        self.bars.set_probabilities(probabilities)
        if error is not None:
            self.prediction.setText("!")
            self.prediction.setToolTip(error)
            self.certificate.setText(f"<span style='color:{_DIFFERS_COLOR}'>error: {error[:80]}</span>")
            self.certificate.setWordWrap(True)
            return
        assert probabilities is not None
        top = int(np.argmax(probabilities))
        self.prediction.setText(str(top))
        self.prediction.setToolTip(f"p({top}) = {probabilities[top]:.3f}")
        if certified is None:
            self.certificate.setText("")
            self.certificate.setToolTip("")
        elif certified:
            self.certificate.setText(f"<span style='color:{_AGREES_COLOR}'>✓ original certified at ε={eps:g}</span>")
            self.certificate.setToolTip(
                "This model provably cannot change its answer on the original within this budget"
            )
        else:
            self.certificate.setText(f"not certified at ε={eps:g}")
            self.certificate.setToolTip("No certificate for the original at this ε")

    def show_intended(self, intended: int | None) -> None:
        self.bars.set_intended(intended if intended is not None and intended != NOT_A_DIGIT else None)
        predicted = self.predicted
        if intended is None or predicted is None:
            self.mark.setText("")
        elif predicted != intended:
            self.mark.setText(f"<span style='color:{_DIFFERS_COLOR}'>✗ ≠ {label_name(intended)}</span>")
            self.mark.setToolTip("The prediction differs from the intended (human) label")
        else:
            self.mark.setText(f"<span style='color:{_AGREES_COLOR}'>✓ = {intended}</span>")
            self.mark.setToolTip("The prediction matches the intended label")


class _ExactJob:
    """Collects the results of one :meth:`ModelPanel.predict_exact` call over the fast and slow lanes."""

    def __init__(self, parts: int, done: Callable[[dict[str, int], dict[str, str]], None]) -> None:
        self.parts = parts
        self.done = done
        self.labels: dict[str, int] = {}
        self.errors: dict[str, str] = {}

    def add(self, result: PredictionResult) -> None:
        self.labels.update({name: int(np.argmax(p)) for name, p in result.probabilities.items()})
        self.errors.update(result.errors)
        self.parts -= 1
        if self.parts == 0:
            self.done(self.labels, self.errors)


class ModelPanel(QWidget):
    """Rows of model predictions for the edit in an :class:`EditorState`.

    Signals:
        sigPredictionsUpdated(object): the :class:`PredictionResult` just shown (rows already updated).
        sigModelsChosen(list): the names of the models the user chose to show (in the Models menu).
        sigError(str): a model could not be loaded or run.
    """

    sigPredictionsUpdated = pyqtSignal(object)  # noqa: N815 - pyqtgraph-style signal name
    sigModelsChosen = pyqtSignal(list)  # noqa: N815 - pyqtgraph-style signal name
    sigError = pyqtSignal(str)  # noqa: N815 - pyqtgraph-style signal name

    def __init__(
        self,
        state: EditorState,
        source: ModelSource,
        device: torch.device,
        parent: QWidget | None = None,
        *,
        threads: int = INFERENCE_THREADS,
    ) -> None:
        super().__init__(parent)
        self.state = state
        self.source = source
        self.device = device
        self.rows: dict[str, ModelRow] = {}
        self.chosen: list[str] = []
        self._infos: dict[str, ModelInfo] = {}
        self._next_id = 0
        self._shown_id: dict[str, int] = {"fast": -1, "slow": -1}
        self._shown: dict[str, PredictionRequest | None] = {"fast": None, "slow": None}
        self._requested: dict[int, PredictionRequest] = {}
        self._exact_jobs: dict[int, _ExactJob] = {}
        self.fast = PredictionChannel(source, device, "fast-models", threads)
        self.slow = PredictionChannel(source, device, "slow-models", threads)
        for channel in (self.fast, self.slow):
            channel.sigResult.connect(self._show)
            channel.sigLoaded.connect(self._report_load_errors)
        self.slow.sigBusy.connect(self._slow_busy)

        self.menu = QMenu(self)
        self.choose = QToolButton()
        self.choose.setText("Models ▾")
        self.choose.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.choose.setMenu(self.menu)
        self.menu.aboutToShow.connect(self._fill_menu)
        self.status = QLabel("")
        self.status.setStyleSheet("color: #999999")
        header = QHBoxLayout()
        header.addWidget(QLabel("<b>Model predictions</b>"))
        header.addStretch(1)
        header.addWidget(self.choose)
        self.rows_layout = QVBoxLayout()
        self.rows_layout.setSpacing(3)
        layout = QVBoxLayout(self)
        layout.addLayout(header)
        layout.addLayout(self.rows_layout)
        layout.addWidget(self.status)
        layout.addStretch(1)

        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(0)
        self._timer.timeout.connect(self._submit)
        state.events.image.connect(self.schedule)
        state.events.digit.connect(self.schedule)
        state.events.budget.connect(self.schedule)
        state.events.label.connect(self._intended_changed)

    # ---------------------------------------------------------------------------------------- choosing
    def available(self) -> list[str]:
        return self.source.available()

    def set_models(self, names: list[str]) -> None:
        """Show rows for ``names`` (unknown or unavailable names are reported and skipped) and predict."""
        available = set(self.available())
        chosen: list[str] = []
        missing: list[str] = []
        for name in names:
            (chosen if name in available else missing).append(name)
        if missing:
            self.sigError.emit(f"model(s) without a checkpoint: {', '.join(missing)}")
        infos = {}
        for name in chosen:
            try:
                infos[name] = self.source.info(name)
            except InvarianceError as error:
                self.sigError.emit(str(error))
        self._infos = infos
        self.chosen = list(infos)
        self._shown = {"fast": None, "slow": None}
        for row in self.rows.values():
            row.setParent(None)
            row.deleteLater()
        self.rows = {}
        for name, info in infos.items():
            row = ModelRow(info)
            self.rows[name] = row
            self.rows_layout.addWidget(row)
        self.status.setText("" if self.rows else "No models chosen (Models ▾), or no checkpoints yet.")
        self.fast.load(self._names(slow=False))
        self.slow.load(self._names(slow=True))
        self.schedule()

    def set_device(self, device: torch.device) -> None:
        """Move every model to ``device`` (reloaded in the workers) and predict again."""
        self.device = device
        self.fast.load(self._names(slow=False), device)
        self.slow.load(self._names(slow=True), device)
        self.schedule()

    def _names(self, *, slow: bool) -> tuple[str, ...]:
        return tuple(name for name, info in self._infos.items() if info.slow == slow)

    def _fill_menu(self) -> None:
        self.menu.clear()
        names = self.available()
        if not names:
            action = self.menu.addAction("No checkpoints found")
            assert action is not None
            action.setEnabled(False)
        for name in names:
            action = QAction(name, self.menu)
            action.setCheckable(True)
            action.setChecked(name in self.chosen)
            action.toggled.connect(lambda checked, chosen=name: self._toggle(chosen, checked))
            self.menu.addAction(action)

    def _toggle(self, name: str, checked: bool) -> None:
        names = [n for n in self.chosen if n != name]
        if checked:
            order = self.available()
            names = [n for n in order if n in set(names) | {name}]
        self.set_models(names)
        self.sigModelsChosen.emit(list(self.chosen))

    # -------------------------------------------------------------------------------------- predicting
    def schedule(self) -> None:
        """Ask for new predictions for the state's current edit.

        When both workers are idle the request goes out at once (lowest latency: the worker computes while
        the GUI thread repaints); otherwise every call made during one event-loop turn becomes one request,
        and a request still waiting behind a running one is replaced by the newest.
        """
        if not self._timer.isActive() and not self.fast.busy and not self.slow.busy:
            self._submit()
        elif not self._timer.isActive():
            self._timer.start()

    def _submit(self) -> None:
        if not self.rows:
            return
        state = self.state
        for channel, slow in ((self.fast, False), (self.slow, True)):
            names = self._names(slow=slow)
            if not names:
                continue
            request = PredictionRequest(
                request_id=self._next_id,
                image=state.edited.copy(),
                names=names,
                original=state.original.copy(),
                original_label=state.original_label,
                norm=state.norm,
                eps=state.eps,
            )
            self._next_id += 1
            self._requested[request.request_id] = request
            channel.submit(request)

    def _in_flight(self) -> set[int]:
        ids = set()
        for channel in (self.fast, self.slow):
            for request in (channel.running, channel.pending):
                if request is not None:
                    ids.add(request.request_id)
        return ids

    def _is_current(self, request: PredictionRequest) -> bool:
        state = self.state
        return (
            request.norm == state.norm
            and request.eps == state.eps
            and request.original_label == state.original_label
            and np.array_equal(request.image, state.edited)
            and np.array_equal(request.original, state.original)
        )

    def up_to_date(self) -> bool:
        """True when every shown model's latest result is for the current edit and nothing is scheduled."""
        if self._timer.isActive():
            return False
        for lane, slow in (("fast", False), ("slow", True)):
            if not self._names(slow=slow):
                continue
            shown = self._shown[lane]
            if shown is None or not self._is_current(shown):
                return False
        return True

    def predict_exact(self, image: np.ndarray, done: Callable[[dict[str, int], dict[str, str]], None]) -> None:
        """Predict every shown model on ``image`` (never dropped); ``done(labels, errors)`` on the GUI thread."""
        state = self.state
        lanes = [(channel, self._names(slow=slow)) for channel, slow in ((self.fast, False), (self.slow, True))]
        lanes = [(channel, names) for channel, names in lanes if names]
        if not lanes:
            done({}, {})
            return
        job = _ExactJob(len(lanes), done)
        for channel, names in lanes:
            request = PredictionRequest(
                self._next_id,
                np.asarray(image, dtype=np.float32).copy(),
                names,
                state.original.copy(),
                state.original_label,
                state.norm,
                state.eps,
                exact=True,
            )
            self._next_id += 1
            self._exact_jobs[request.request_id] = job
            channel.submit(request)

    def _show(self, result: PredictionResult) -> None:
        if result.exact:
            job = self._exact_jobs.pop(result.request_id, None)
            if job is not None:
                job.add(result)
            return
        names = set(result.probabilities) | set(result.errors)
        lane = "slow" if any(self._infos.get(n, ModelInfo(n)).slow for n in names) else "fast"
        if result.request_id < self._shown_id[lane]:
            return
        self._shown_id[lane] = result.request_id
        request = self._requested.pop(result.request_id, None)
        for stale in [key for key in self._requested if key < result.request_id and key not in self._in_flight()]:
            del self._requested[stale]
        self._shown[lane] = request
        eps = self.state.eps if request is None else request.eps
        for name in names:
            row = self.rows.get(name)
            if row is None:
                continue
            row.show_result(result.probabilities.get(name), result.certified.get(name), result.errors.get(name), eps)
            row.show_intended(self.state.intended_label)
        self.sigPredictionsUpdated.emit(result)

    def _intended_changed(self) -> None:
        for row in self.rows.values():
            row.show_intended(self.state.intended_label)

    def _slow_busy(self, busy: bool) -> None:
        for name in self._names(slow=True):
            self.rows[name].busy.setVisible(busy)

    def _report_load_errors(self, errors: dict[str, str]) -> None:
        for name, message in errors.items():
            self.sigError.emit(f"cannot load model {name}: {message}")

    def predicted_labels(self) -> dict[str, int]:
        """The label each shown model currently predicts for the edit (models without a result left out)."""
        return {name: row.predicted for name, row in self.rows.items() if row.predicted is not None}

    def shutdown(self) -> None:
        """Stop the worker threads (call when the window closes)."""
        self._timer.stop()
        self.fast.shutdown()
        self.slow.shutdown()
