"""The editor's main window: digit browser, canvas, budget, tools, model panel, suggestions, collection, study
and reports over one :class:`editor.state.editing.EditorState`. ``invariance-editor`` (:mod:`editor.app`) opens it."""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Final

import numpy as np
import torch
from PyQt6.QtCore import Qt, pyqtSignal
from PyQt6.QtGui import QAction, QCloseEvent, QGuiApplication, QKeySequence, QShowEvent
from PyQt6.QtWidgets import (
    QButtonGroup,
    QComboBox,
    QGridLayout,
    QGroupBox,
    QLabel,
    QMainWindow,
    QPushButton,
    QScrollArea,
    QSplitter,
    QStatusBar,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from core.collection import Item
from core.device import DEVICE_CHOICES, resolve_device
from core.errors import InvarianceError
from core.images import to_float
from core.labels import NOT_A_DIGIT, label_name
from core.paths import user_data_dir
from editor.settings import EditorSettings
from editor.state.editing import Source
from editor.state.saving import CollectionSaver, EditRecord, default_collection_path, rounded_edit
from editor.state.sources import ModelSource
from editor.widgets.browser import DigitBrowser
from editor.widgets.budget import BudgetPanel
from editor.widgets.canvas import DigitCanvas
from editor.widgets.collection import CollectionPanel
from editor.widgets.guide import GuideFunction, GuidePanel, geninv_guide
from editor.widgets.models import ModelPanel
from editor.widgets.overlay import ShortcutOverlay
from editor.widgets.reports import ReportPanel
from editor.widgets.sensitivity import SensitivityPanel
from editor.widgets.study import StudyWidget
from editor.widgets.suggestions import Proposal, SuggestFunction, SuggestionsPanel, geninv_suggest
from editor.widgets.tools import TOOL_KEYS, ToolPanel
from editor.workers.prediction import INFERENCE_THREADS

log = logging.getLogger(__name__)

SHORTCUTS: Final = [
    ("0 – 9", "intended (human) label of the edit (again: clear it)"),
    ("N", "intended label: not a digit"),
    ("S  /  Ctrl+S", "save the edit to the collection"),
    ("Ctrl+Z", "undo"),
    ("Ctrl+Shift+Z  /  Ctrl+Y", "redo"),
    ("R", "reset the edit to the original"),
    ("B  L  D  E  T", "brush, lighten, darken, eraser, toward target"),
    ("G", "show / hide the target guide (for the intended label)"),
    ("K", "sensitivity check: can each model be flipped within ε?"),
    ("[  ]", "smaller / larger brush"),
    ("+  −", "zoom the edited view in / out (around the pixel under the cursor)"),
    ("V", "side-by-side / overlay view"),
    (",  .", "previous / next digit"),
    ("PgUp  PgDn", "previous / next item of the open collection"),
    ("X", "random digit"),
    ("Ctrl+G", "GenInv suggestions for this digit"),
    ("?  /  F1", "this overlay"),
]
PREFERRED_SIZE: Final = (1400, 860)


class MainWindow(QMainWindow):
    """The editor window. Everything it needs is passed in, so tests can use tiny data and stand-in models.

    ``images``: uint8 (N, 28, 28) test digits; ``labels``: int64 (N,). ``collection``: where saves go
    (opened lazily on the first save unless given). The editing state starts from ``settings`` and every change
    of it is stored there. Signal ``sigSaved(str)``: the id of a saved edit.
    """

    sigSaved = pyqtSignal(str)

    def __init__(
        self,
        images: np.ndarray,
        labels: np.ndarray,
        *,
        source: ModelSource,
        settings: EditorSettings,
        device: torch.device,
        collection: Path | None = None,
        models: list[str] | None = None,
        suggest: SuggestFunction = geninv_suggest,
        guide: GuideFunction = geninv_guide,
        author: str = "",
        inference_threads: int = INFERENCE_THREADS,
    ) -> None:
        super().__init__()
        self.setWindowTitle("Invariance Lab — editor")
        self.images, self.labels = images, labels
        self.settings = settings
        self.device = device
        self.author = author or os.environ.get("USER", "")
        self.collection_path = collection or (Path(settings.collection) if settings.collection else None)
        self.saver: CollectionSaver | None = None
        self.last_error = ""
        self._saving = False
        self._suggested: tuple[np.ndarray, str] | None = None  # a loaded suggestion's image and norm

        self.state = settings.editing_state()
        # First to connect to the state's signals, so a stroke's prediction request leaves before the redraws.
        self.model_panel = ModelPanel(self.state, source, device, threads=inference_threads)
        self.canvas = DigitCanvas(self.state)
        self.browser = DigitBrowser(labels)
        self.budget_panel = BudgetPanel(self.state)
        self.tool_panel = ToolPanel(self.state)
        self.suggestions = SuggestionsPanel(self.state, device, suggest)
        self.guide_panel = GuidePanel(self.state, device, guide)
        self.sensitivity = SensitivityPanel(self.state, self.model_panel, source, device)
        self.overlay = ShortcutOverlay(SHORTCUTS, self)
        self.label_buttons: dict[int, QPushButton] = {}
        self.hover_label = QLabel("")
        self.collection_panel = CollectionPanel()
        shown_collection = self.collection_path or default_collection_path()
        answers = user_data_dir() / "studies"
        self.study_widget = StudyWidget([shown_collection], answers)
        self.report_panel = ReportPanel([shown_collection], device=self.device)
        self.status_bar = QStatusBar()
        self.setStatusBar(self.status_bar)

        self._build_layout()
        self._build_actions()
        self.status_bar.addPermanentWidget(self.hover_label)

        self.collection_panel.sigOpenItem.connect(self.load_item)
        self.study_widget.sigError.connect(self.show_error)
        self.report_panel.sigError.connect(self.show_error)
        self.browser.sigDigitChosen.connect(self.load_index)
        self.canvas.sigHover.connect(self._hover)
        self.model_panel.sigError.connect(self.show_error)
        self.model_panel.sigModelsChosen.connect(self._remember_models)
        self.suggestions.sigChosen.connect(self.load_proposal)
        self.suggestions.sigError.connect(self.show_error)
        self.guide_panel.sigError.connect(self.show_error)
        self.sensitivity.sigError.connect(self.show_error)
        self.state.events.label.connect(self._sync_label_buttons)
        self.state.events.history.connect(self._sync_history)
        self.state.events.digit.connect(self._sync_title)
        settings.follow(self.state)

        chosen = models if models is not None else settings.models
        self.model_panel.set_models(self.model_panel.available() if chosen is None else chosen)
        self._fit_models_column()
        self.model_panel.sigModelsChosen.connect(self._fit_models_column)
        if self.collection_path is not None and collection is not None:
            self._open_saver()
        geometry = settings.geometry
        if geometry is not None:
            self.restoreGeometry(geometry)
        self.fit_to_screen(remembered=geometry is not None)
        index = settings.index if 0 <= settings.index < len(labels) else 0
        self.browser.choose(index)
        self._sync_history()

    # ---------------------------------------------------------------------------------------- building
    def _build_layout(self) -> None:
        """Left: digit, budget, tools, label, guide. Centre: the large canvas over suggestions/collection tabs.
        Right: the model table with the sensitivity check under it."""
        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(2, 2, 2, 2)
        left_layout.setSpacing(2)
        for title, widget in (
            ("Digit", self.browser),
            ("Budget", self.budget_panel),
            ("Tools", self.tool_panel),
            ("Intended label", self._label_box()),
            ("Target guide", self.guide_panel),
        ):
            box = QGroupBox(title)
            box_layout = QVBoxLayout(box)
            box_layout.setContentsMargins(4, 2, 4, 2)
            box_layout.addWidget(widget)
            inner = widget.layout()
            if inner is not None:
                inner.setContentsMargins(0, 0, 0, 0)
            left_layout.addWidget(box)
        left_layout.addStretch(1)
        left_scroll = QScrollArea()
        left_scroll.setWidget(left)
        left_scroll.setWidgetResizable(True)
        left_scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        left_scroll.setMinimumWidth(222)
        self.left_scroll, self._left_column = left_scroll, left

        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(0, 0, 0, 0)
        right_layout.addWidget(self.model_panel)
        right_layout.addWidget(self.sensitivity)
        right_layout.addStretch(1)
        self.models_scroll = QScrollArea()
        self.models_scroll.setWidget(right)
        self.models_scroll.setWidgetResizable(True)
        self.models_scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self._models_column = right

        bottom = QTabWidget()
        bottom.addTab(self.suggestions, "Suggestions")
        bottom.addTab(self.collection_panel, "Collection")
        self.bottom_tabs = bottom

        center = QSplitter(Qt.Orientation.Vertical)
        center.addWidget(self.canvas)
        center.addWidget(bottom)
        center.setStretchFactor(0, 1)
        center.setStretchFactor(1, 0)
        center.setSizes([500, 160])

        editor_page = QSplitter(Qt.Orientation.Horizontal)
        editor_page.addWidget(left_scroll)
        editor_page.addWidget(center)
        editor_page.addWidget(self.models_scroll)
        editor_page.setStretchFactor(0, 0)
        editor_page.setStretchFactor(1, 1)
        editor_page.setStretchFactor(2, 0)
        editor_page.setSizes([222, 580, 470])
        self.editor_page = editor_page

        self.tabs = QTabWidget()
        self.tabs.addTab(editor_page, "Edit")
        self.tabs.addTab(self.study_widget, "Study")
        self.tabs.addTab(self.report_panel, "Reports")
        self.setCentralWidget(self.tabs)

    def showEvent(self, event: QShowEvent | None) -> None:
        super().showEvent(event)
        self._fit_models_column()  # style sheets apply once shown: the table's width is known now
        self.left_scroll.setMinimumWidth(self._left_column.minimumSizeHint().width() + 2)

    def _fit_models_column(self, *_: object) -> None:
        """Give the model table the width its columns need (it changes with the chosen models)."""
        # No room is kept for a vertical scroll bar: 16+ rows fit at 800 px; with more the bar narrows the table.
        self.models_scroll.setMinimumWidth(self._models_column.minimumSizeHint().width() + 2)

    def fit_to_screen(self, *, remembered: bool = False) -> None:
        """First size: the preferred size, shrunk to the screen's available geometry; a remembered geometry
        that no longer fits (another screen) is shrunk and moved onto the screen too."""
        screen = self.screen() or QGuiApplication.primaryScreen()
        if screen is None:
            return
        available = screen.availableGeometry()
        frame = self.frameGeometry().size() - self.geometry().size()  # title bar and borders (0 before show)
        width_limit = max(640, available.width() - frame.width())
        height_limit = max(480, available.height() - frame.height())
        if remembered:
            width, height = min(self.width(), width_limit), min(self.height(), height_limit)
        else:
            width, height = min(PREFERRED_SIZE[0], width_limit), min(PREFERRED_SIZE[1], height_limit)
        self.resize(width, height)
        x = min(max(self.x(), available.x()), available.right() - width)
        y = min(max(self.y(), available.y()), available.bottom() - height)
        self.move(max(available.x(), x), max(available.y(), y))

    def _label_box(self) -> QWidget:
        box = QWidget()
        grid = QGridLayout(box)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.setSpacing(3)
        group = QButtonGroup(box)
        group.setExclusive(False)
        for position, label in enumerate([*range(10), NOT_A_DIGIT]):
            button = QPushButton("N" if label == NOT_A_DIGIT else str(label))
            button.setCheckable(True)
            button.setToolTip(f"Intended label: {label_name(label)} (key {button.text()})")
            button.setMaximumWidth(31)
            button.setMinimumWidth(0)
            button.clicked.connect(lambda _checked, chosen=label: self.set_intended(chosen))
            group.addButton(button)
            self.label_buttons[label] = button
            grid.addWidget(button, position // 6, position % 6)
        self.save_button = QPushButton("Save edit (S)")
        self.save_button.clicked.connect(self.save_edit)
        grid.addWidget(self.save_button, 2, 0, 1, 6)
        return box

    def _build_actions(self) -> None:
        toolbar = self.addToolBar("Edit")
        assert toolbar is not None
        toolbar.setObjectName("edit-toolbar")

        def action(
            text: str, keys: Sequence[str], slot: Callable[..., object], tip: str = "", add: bool = False
        ) -> QAction:
            act = QAction(text, self)
            act.setShortcuts([QKeySequence(k) for k in keys])
            act.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
            act.setToolTip(tip or text)
            act.triggered.connect(slot)
            self.addAction(act)
            if add:
                toolbar.addAction(act)
            return act

        self.undo_action = action("Undo", ["Ctrl+Z"], self.state.undo, "Undo (Ctrl+Z)", add=True)
        self.redo_action = action("Redo", ["Ctrl+Shift+Z", "Ctrl+Y"], self.state.redo, "Redo (Ctrl+Shift+Z)", add=True)
        action("Reset", ["R"], self.state.reset, "Reset the edit to the original (R)", add=True)
        action("Save", ["S", "Ctrl+S"], self.save_edit, "Save the edit to the collection (S)", add=True)
        action("Suggest", ["Ctrl+G"], self.suggestions.start, "GenInv suggestions (Ctrl+G)", add=True)
        action("Shortcuts", ["?", "F1", "Shift+?"], self.overlay.open, "Keyboard shortcuts (?)", add=True)
        for digit in range(10):
            action(str(digit), [str(digit)], lambda _=False, d=digit: self.set_intended(d))
        action("Not a digit", ["N"], lambda: self.set_intended(NOT_A_DIGIT))
        for tool, key in TOOL_KEYS.items():
            action(tool.value, [key], lambda _=False, t=tool: self.state.set_tool(t))
        action("Smaller brush", ["["], lambda: self.state.step_brush(-1))
        action("Larger brush", ["]"], lambda: self.state.step_brush(1))
        action("Zoom in", ["+", "=", "Ctrl++"], lambda: self.state.zoom(1))
        action("Zoom out", ["-", "Ctrl+-"], lambda: self.state.zoom(-1))
        action("Guide", ["G"], self.guide_panel.toggle, "Show / hide the target guide (G)")
        action("Check", ["K"], self.sensitivity.start, "Sensitivity check (K)", add=True)
        action("Previous item", ["PgUp"], lambda: self.step_item(-1), "Previous collection item (PgUp)")
        action("Next item", ["PgDown"], lambda: self.step_item(1), "Next collection item (PgDn)")
        action("Toggle view", ["V"], self.state.toggle_view)
        action("Previous digit", [","], lambda: self.browser.step(-1))
        action("Next digit", ["."], lambda: self.browser.step(1))
        action("Random digit", ["X"], self.browser.random)

        toolbar.addSeparator()
        toolbar.addWidget(QLabel(" Device "))
        self.device_box = QComboBox()
        for choice in DEVICE_CHOICES:
            self.device_box.addItem(choice)
        self.device_box.setCurrentText(self.settings.device)
        self.device_box.setToolTip(f"Where models run (now: {self.device})")
        self.device_box.currentTextChanged.connect(self.set_device)
        toolbar.addWidget(self.device_box)

    # ----------------------------------------------------------------------------------------- loading
    def load_index(self, index: int) -> None:
        """Start an edit of test digit ``index`` (keeps the current norm and ε)."""
        self.state.load(to_float(self.images[index]), int(self.labels[index]), Source("mnist", "test", int(index)))
        self._suggested = None
        self.settings.index = index

    def load_proposal(self, proposal: Proposal) -> None:
        """Start an edit from a GenInv suggestion for the current digit (the original stays the same)."""
        state = self.state
        source = Source("geninv", state.source.split, state.source.index, f"→ {proposal.target_label}")
        state.load(state.original.copy(), state.original_label, source, proposal.image)
        state.set_intended_label(proposal.target_label)
        self._suggested = (state.edited.copy(), state.norm)
        self.status_bar.showMessage(f"Loaded a suggestion: target label {proposal.target_label}", 5000)

    def load_item(self, item: Item) -> None:
        """Start an edit from a collection item (its original, edit, budget and intended label)."""
        try:
            index = item.source_index if item.source_index is not None else -1
            source = Source("collection", item.source_split or "test", index, item.id)
            label = item.original_label if item.original_label is not None else NOT_A_DIGIT
            # An item without a budget keeps the current norm, and without ε takes the one last used with its norm.
            original, edited = item.original_float(), item.image_float()
            self.state.load(original, label, source, edited, norm=item.norm or None, eps=item.eps)
            self.browser.show_index(index if source.split == "test" and index >= 0 else None, label)
            self.state.set_intended_label(item.intended_label)
        except (InvarianceError, ValueError) as error:
            self.show_error(f"cannot open that item: {error}")
            return
        self._suggested = None
        self.tabs.setCurrentIndex(0)

    def collection_items(self) -> list[Item]:
        """The open collection's items in the collection tab's order (its filters applied), or []."""
        if self.collection_panel.collection is None:
            return []
        return self.collection_panel.visible_items()

    def open_item(self, item_id: str | None = None) -> bool:
        """Open the collection item ``item_id`` (None: the first one); False (and one line) when there is none."""
        items = self.collection_items()
        if not items:
            self.show_error("the collection has no items to open")
            return False
        chosen = items[0] if item_id is None else next((i for i in items if i.id.startswith(item_id)), None)
        if chosen is None:
            self.show_error(f"no item {item_id!r} in the collection")
            return False
        self.load_item(chosen)
        self.collection_panel.select_items([chosen.id])
        return self.state.source.kind == "collection"

    def step_item(self, direction: int) -> None:
        """Open the next (+1) or previous (-1) item of the collection tab, wrapping around."""
        items = self.collection_items()
        if not items:
            self.show_error("no collection items to step through (open a collection with items)")
            return
        ids = [item.id for item in items]
        current = self.state.source.detail if self.state.source.kind == "collection" else None
        position = ids.index(current) + direction if current in ids else (0 if direction > 0 else -1)
        self.open_item(ids[position % len(ids)])

    def busy(self) -> bool:
        """True while a guide or a sensitivity check is being computed."""
        return self.guide_panel.running or self.sensitivity.running

    def set_intended(self, label: int) -> None:
        self.state.set_intended_label(None if self.state.intended_label == label else label)

    def set_device(self, name: str) -> None:
        """Move the models to ``name`` ("auto", "cpu", "cuda"); an unavailable device is reported."""
        try:
            device = resolve_device(name)
        except InvarianceError as error:
            self.show_error(str(error))
            self.device_box.blockSignals(True)
            self.device_box.setCurrentText(self.settings.device)
            self.device_box.blockSignals(False)
            return
        self.device = device
        self.settings.device = name
        self.model_panel.set_device(device)
        self.suggestions.device = device
        self.guide_panel.device = device
        self.sensitivity.device = device
        self.device_box.setToolTip(f"Where models run (now: {device})")
        self.status_bar.showMessage(f"Models now run on {device}", 4000)

    # ------------------------------------------------------------------------------------------ saving
    def _open_saver(self) -> CollectionSaver | None:
        if self.saver is not None:
            return self.saver
        path = self.collection_path or default_collection_path()
        try:
            self.saver = CollectionSaver(path, self.author)
        except InvarianceError as error:
            self.show_error(f"cannot open the collection: {error}")
            return None
        self.study_widget.collections = [str(path)]
        self.report_panel.collections = [str(path)]
        self.collection_panel.set_collection(self.saver.collection)
        self.status_bar.showMessage(f"Saving to {self.saver.description}", 5000)
        return self.saver

    def save_edit(self) -> None:
        """Round the edit to uint8 within the budget, predict every shown model on it, then save it."""
        state = self.state
        if state.intended_label is None:
            self.show_error("choose the intended label first (keys 0–9, or N for not a digit)")
            return
        if self._saving:
            return
        try:
            image = rounded_edit(state.original, state.edited, state.norm, state.eps)
        except InvarianceError as error:
            self.show_error(str(error))
            return
        if self._open_saver() is None:
            return
        method = "manual"
        if self._suggested is not None and np.array_equal(self._suggested[0], state.edited):
            method = f"geninv-{self._suggested[1]}"  # GenInv searched in the norm the suggestion was made for
        record = EditRecord(
            original=state.original.copy(),
            image=image,
            original_label=state.original_label,
            intended_label=int(state.intended_label),
            norm=state.norm,
            eps=state.eps,
            source_split=state.source.split if state.source.index >= 0 else None,
            source_index=state.source.index if state.source.index >= 0 else None,
            method=method,
            author=self.author,
        )
        self._saving = True
        self.status_bar.showMessage("Saving: predicting on the rounded edit…")
        self.model_panel.predict_exact(
            to_float(image), lambda labels, errors: self._finish_save(record, labels, errors)
        )

    def _finish_save(self, record: EditRecord, labels: dict[str, int], errors: dict[str, str]) -> None:
        self._saving = False
        saver = self.saver
        if saver is None:
            return
        try:
            item_id = saver.save(dataclasses.replace(record, predictions=dict(labels)))
        except InvarianceError as error:
            self.show_error(f"not saved: {error}")
            return
        self.collection_panel.refresh()
        skipped = f" ({len(errors)} model(s) failed)" if errors else ""
        self.status_bar.showMessage(f"Saved {item_id[:8]} to {saver.description}{skipped}", 6000)
        self.sigSaved.emit(item_id)

    # ----------------------------------------------------------------------------------------- display
    def show_error(self, message: str) -> None:
        """One clear line in the status bar (and the log); never a crash."""
        log.warning("%s", message)
        self.last_error = message
        self.status_bar.showMessage(f"⚠ {message}", 10_000)

    def _hover(self, row: int, col: int) -> None:
        if row < 0:
            self.hover_label.setText("")
            return
        before, now = float(self.state.original[row, col]), float(self.state.edited[row, col])
        self.hover_label.setText(
            f"pixel (row {row}, col {col}): original {before:.3f} ({round(before * 255)}) → "
            f"current {now:.3f} ({round(now * 255)})"
        )

    def _sync_label_buttons(self) -> None:
        for label, button in self.label_buttons.items():
            button.setChecked(label == self.state.intended_label)

    def _sync_history(self) -> None:
        self.undo_action.setEnabled(self.state.can_undo())
        self.redo_action.setEnabled(self.state.can_redo())

    def _sync_title(self) -> None:
        source = self.state.source
        if source.kind == "collection":
            where = f"collection item {source.detail[:8]}"
        else:
            where = f"test #{source.index}" if source.index >= 0 else source.kind
        self.setWindowTitle(f"Invariance Lab — editor — {where} (label {label_name(self.state.original_label)})")

    def _remember_models(self, names: list[str]) -> None:
        self.settings.models = names

    # ------------------------------------------------------------------------------------------ closing
    def shutdown(self) -> None:
        """Stop workers, close the collection and store settings (idempotent)."""
        self.settings.geometry = self.saveGeometry()
        self.settings.sync()
        self.suggestions.shutdown()
        self.guide_panel.shutdown()
        self.sensitivity.shutdown()
        self.model_panel.shutdown()
        if self.saver is not None:
            try:
                self.saver.close()
            except InvarianceError as error:
                log.warning("closing the collection: %s", error)
            self.saver = None

    def closeEvent(self, event: QCloseEvent | None) -> None:
        self.shutdown()
        super().closeEvent(event)
