"""Model table: one compact row per chosen model with its prediction on the edit, updated on every change.

Requests are coalesced (a zero-delay timer merges all changes made in one event-loop turn) and run off the
GUI thread: all fast models in one call on one worker thread, slow models (``ZooEntry.slow``) on a second
worker with a busy indicator. Each worker runs at most one request and keeps only the newest pending one,
so stale requests are dropped.

Columns (one grid, so they line up from row to row): model name, origin (zoo or user), predicted label, the
top-3 softmax probabilities, agreement with the intended label, for certified models the IBP status of the
ORIGINAL and of the CURRENT edit at the current ε (recomputed with every prediction), and the result of the
last sensitivity check (can the model's answer be flipped within the budget, and to which class).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Final

import numpy as np
import torch
from PyQt6.QtCore import Qt, QTimer, pyqtSignal
from PyQt6.QtGui import QAction, QFont, QFontDatabase, QFontMetrics
from PyQt6.QtWidgets import (
    QApplication,
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
from core.labels import NOT_A_DIGIT
from core.sensitivity import Flip
from core.zoo import ZooEntry
from editor.state.editing import EditorState
from editor.state.sources import ModelSource
from editor.workers.prediction import INFERENCE_THREADS, PredictionChannel, PredictionRequest, PredictionResult

log = logging.getLogger(__name__)

_DIFFERS_COLOR: Final = "#e74c3c"
_AGREES_COLOR: Final = "#2ecc71"
_MUTED_COLOR: Final = "#999999"
COLUMNS: Final = ("model", "from", "pred", "top 3", "vs<br>intended", "IBP<br>orig", "IBP<br>edit", "flip<br>within ε")
_TIPS: Final = {
    "from": "zoo: shipped checkpoint; user: a model you added",
    "pred": "The model's label for the current edit",
    "top 3": "The three most likely classes and their softmax probabilities",
    "vs<br>intended": "✓: the prediction equals the intended (human) label; ✗: it differs (an invariance example "
    "when the intended label differs from the source label)",
    "IBP<br>orig": "Certified models: IBP proves the ORIGINAL keeps its label within ε (✓) or cannot (✗)",
    "IBP<br>edit": "Certified models: IBP proves the model's answer on the CURRENT edit holds within ε around it",
    "flip<br>within ε": "Sensitivity check: → k when an attack within the budget around the image flips the model "
    "to k; 'holds' when it found none",
}


MAX_NAME_CHARS: Final = 22
"""Longer model names are shortened in the middle ("…") in the table; the tooltip shows the whole name."""


def short_name(name: str) -> str:
    """``name``, or its first and last characters around "…" when longer than :data:`MAX_NAME_CHARS`."""
    if len(name) <= MAX_NAME_CHARS:
        return name
    head = (MAX_NAME_CHARS - 1) // 2
    return f"{name[:head]}…{name[-(MAX_NAME_CHARS - 1 - head) :]}"


def top_k_text(probabilities: np.ndarray, k: int = 3) -> str:
    """``"4 .98 9 .01 7 .00"``: the k most likely classes with their probabilities."""
    order = np.argsort(-probabilities)[:k]
    return " ".join(f"{int(c)} {_probability_text(float(probabilities[c]))}" for c in order)


def _probability_text(value: float) -> str:
    """Three characters: ".98", ".00", "1.0"."""
    text = f"{value:.2f}"
    return "1.0" if text == "1.00" else text[1:]


def table_font(points: float, *, bold: bool = False, monospace: bool = False) -> QFont:
    font = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont) if monospace else QFont(QApplication.font())
    font.setPointSizeF(points)
    font.setBold(bold)
    return font


def _cell(
    text: str = "",
    *,
    font: QFont,
    sample: str = "",
    height: int = 0,
    align: Qt.AlignmentFlag = Qt.AlignmentFlag.AlignLeft,
) -> QLabel:
    """A table cell. With ``sample`` (its widest text) the cell gets a fixed size, so the text changing with every
    stroke never re-lays out the whole table."""
    label = QLabel(text)
    label.setFont(font)
    label.setAlignment(align | Qt.AlignmentFlag.AlignVCenter)
    label.setTextFormat(Qt.TextFormat.RichText)
    if sample:
        label.setFixedSize(QFontMetrics(font).horizontalAdvance(sample) + 2, height)
    return label


class ModelRow:
    """The cells of one model in the :class:`ModelPanel` grid (prediction, top-3, marks, busy indicator)."""

    def __init__(self, info: ZooEntry, grid: QGridLayout, row: int) -> None:
        self.info = info
        self.row = row
        threat = f"{info.norm} ε={info.eps:g}" if info.norm is not None and info.eps is not None else "undefended"
        normal, small = table_font(9), table_font(8)
        height = QFontMetrics(table_font(11, bold=True)).height()
        self.name = _cell(short_name(info.name), font=normal)
        self.name.setToolTip(
            f"{info.name}: {info.description}\nfamily: {info.family}; trained for {threat}"
            + ("; IBP-certified" if info.certified else "")
        )
        self.busy = QProgressBar()
        self.busy.setRange(0, 0)
        self.busy.setFixedSize(18, 6)
        self.busy.setTextVisible(False)
        self.busy.setVisible(False)
        name_box = QWidget()
        name_layout = QHBoxLayout(name_box)
        name_layout.setContentsMargins(0, 0, 0, 0)
        name_layout.setSpacing(2)
        name_layout.addWidget(self.name, 1)
        name_layout.addWidget(self.busy)
        center = Qt.AlignmentFlag.AlignCenter
        self.origin = _cell(f"<span style='color:{_MUTED_COLOR}'>{info.origin}</span>", font=small, align=center)
        self.prediction = _cell("–", font=table_font(11, bold=True), sample="8", height=height, align=center)
        self.top = _cell("", font=table_font(8, monospace=True), sample="8 1.0 8 .00 8 .00", height=height)
        self.mark = _cell("", font=normal, sample="✗≠8", height=height, align=center)
        self.certificate = _cell("", font=normal, sample="✓ 0.05", height=height, align=center)
        self.edit_certificate = _cell("", font=normal, sample="✓ 0.05", height=height, align=center)
        self.flip = _cell("", font=normal, sample="holds", height=height, align=center)
        self.cells: list[QWidget] = [
            name_box, self.origin, self.prediction, self.top, self.mark, self.certificate, self.edit_certificate,
            self.flip,
        ]  # fmt: skip
        for column, widget in enumerate(self.cells):
            grid.addWidget(widget, row, column)
        self.probabilities: np.ndarray | None = None
        self.error: str | None = None

    def remove(self) -> None:
        for widget in self.cells:
            widget.setParent(None)
            widget.deleteLater()

    @property
    def predicted(self) -> int | None:
        return None if self.probabilities is None else int(np.argmax(self.probabilities))

    def show_result(
        self,
        probabilities: np.ndarray | None,
        certified: bool | None,
        error: str | None,
        eps: float,
        edit_certified: bool | None = None,
    ) -> None:
        self.probabilities = probabilities
        self.error = error
        if error is not None:
            self.prediction.setText("!")
            self.prediction.setToolTip(error)
            self.top.setText(f"<span style='color:{_DIFFERS_COLOR}'>error</span>")
            self.top.setToolTip(error)
            return
        assert probabilities is not None
        top = int(np.argmax(probabilities))
        self.prediction.setText(str(top))
        self.prediction.setToolTip(f"p({top}) = {probabilities[top]:.3f}")
        self.top.setText(top_k_text(probabilities))
        self.top.setToolTip("  ".join(f"{k}: {p:.3f}" for k, p in enumerate(probabilities.tolist())))
        _show_certificate(self.certificate, certified, eps, "the original keeps its label")
        _show_certificate(self.edit_certificate, edit_certified, eps, f"the answer {top} on the current edit holds")

    def show_intended(self, intended: int | None) -> None:
        predicted = self.predicted
        if intended is None or predicted is None:
            self.mark.setText("")
            self.mark.setToolTip("")
        elif predicted != intended:
            shown = "N" if intended == NOT_A_DIGIT else str(intended)
            self.mark.setText(f"<span style='color:{_DIFFERS_COLOR}'>✗≠{shown}</span>")
            self.mark.setToolTip("The prediction differs from the intended (human) label")
        else:
            self.mark.setText(f"<span style='color:{_AGREES_COLOR}'>✓={intended}</span>")
            self.mark.setToolTip("The prediction matches the intended label")

    def show_flip(self, flip: Flip | None, note: str = "", *, stale: bool = False) -> None:
        """The sensitivity check's result (None: not checked; ``note`` explains, e.g. "slow model")."""
        if flip is None:
            self.flip.setText(f"<span style='color:{_MUTED_COLOR}'>{note}</span>")
            self.flip.setToolTip("Not checked" + (f": {note}" if note else ""))
            return
        color = _MUTED_COLOR if stale else (_DIFFERS_COLOR if flip.flipped else _AGREES_COLOR)
        text = f"→{flip.to_label}" if flip.flipped else "holds"
        self.flip.setText(f"<span style='color:{color}'>{text}</span>")
        where = "an earlier image (edit changed since)" if stale else "the image at the time of the check"
        what = f"flipped from {flip.label} to {flip.to_label}" if flip.flipped else f"kept {flip.label}"
        self.flip.setToolTip(f"On {where}: the attack {what} within the budget")


def _show_certificate(cell: QLabel, certified: bool | None, eps: float, claim: str) -> None:
    if certified is None:
        cell.setText("")
        cell.setToolTip("")
    elif certified:
        cell.setText(f"<span style='color:{_AGREES_COLOR}'>✓ {eps:g}</span>")
        cell.setToolTip(f"IBP proves {claim} for every change within ℓ∞ ε = {eps:g}")
    else:
        cell.setText(f"<span style='color:{_MUTED_COLOR}'>✗ {eps:g}</span>")
        cell.setToolTip(f"IBP cannot prove {claim} within ℓ∞ ε = {eps:g}")


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

    sigPredictionsUpdated = pyqtSignal(object)
    sigModelsChosen = pyqtSignal(list)
    sigError = pyqtSignal(str)

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
        self._infos: dict[str, ZooEntry] = {}
        self._next_id = 0
        self._shown_id: dict[str, int] = {"fast": -1, "slow": -1}
        self._shown: dict[str, PredictionRequest | None] = {"fast": None, "slow": None}
        self._requested: dict[int, PredictionRequest] = {}
        self._exact_jobs: dict[int, _ExactJob] = {}
        self.flips: dict[str, Flip] = {}
        self._flips_for: tuple[np.ndarray, str, float] | None = None  # image, norm, ε the flips were checked at
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
        self.status.setStyleSheet(f"color: {_MUTED_COLOR}")
        self.status.setWordWrap(True)
        header = QHBoxLayout()
        header.addWidget(QLabel("<b>Models</b>"))
        header.addStretch(1)
        header.addWidget(self.choose)
        self.table = QWidget()
        self.table.setFont(table_font(9))
        self.grid = QGridLayout(self.table)
        self.grid.setContentsMargins(0, 0, 0, 0)
        self.grid.setHorizontalSpacing(4)
        self.grid.setVerticalSpacing(0)
        for column, title in enumerate(COLUMNS):
            cell = QLabel(f"<span style='color:{_MUTED_COLOR}'>{title}</span>")
            cell.setToolTip(_TIPS.get(title, "The model (hover a name for its description)"))
            cell.setAlignment(Qt.AlignmentFlag.AlignLeft if column == 0 else Qt.AlignmentFlag.AlignCenter)
            self.grid.addWidget(cell, 0, column, Qt.AlignmentFlag.AlignBottom)
        self.grid.setColumnStretch(0, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.setSpacing(2)
        layout.addLayout(header)
        layout.addWidget(self.table)
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
        state.events.digit.connect(self.clear_flips)

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
            row.remove()
        self.rows = {}
        for position, (name, info) in enumerate(infos.items()):
            self.rows[name] = ModelRow(info, self.grid, position + 1)
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
        lane = "slow" if any(n in self._infos and self._infos[n].slow for n in names) else "fast"
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
            row.show_result(
                result.probabilities.get(name),
                result.certified.get(name),
                result.errors.get(name),
                eps,
                result.edit_certified.get(name),
            )
            row.show_intended(self.state.intended_label)
            if self._flips_for is not None and not self._is_flip_current():
                self._mark_flips_stale()
        self.sigPredictionsUpdated.emit(result)

    # ------------------------------------------------------------------------------------ sensitivity
    def show_flips(
        self, flips: dict[str, Flip], image: np.ndarray, norm: str, eps: float, skipped: dict[str, str]
    ) -> None:
        """Show a sensitivity check's results (``skipped``: name -> why it was not checked)."""
        self.flips = dict(flips)
        self._flips_for = (np.asarray(image, dtype=np.float32).copy(), norm, float(eps))
        for name, row in self.rows.items():
            row.show_flip(self.flips.get(name), skipped.get(name, ""))

    def clear_flips(self) -> None:
        self.flips = {}
        self._flips_for = None
        for row in self.rows.values():
            row.show_flip(None)

    def _is_flip_current(self) -> bool:
        if self._flips_for is None:
            return False
        image, norm, eps = self._flips_for
        return norm == self.state.norm and eps == self.state.eps and np.array_equal(image, self.state.edited)

    def _mark_flips_stale(self) -> None:
        for name, flip in self.flips.items():
            row = self.rows.get(name)
            if row is not None:
                row.show_flip(flip, stale=True)

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
