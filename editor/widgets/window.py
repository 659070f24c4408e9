"""The editor's main window: digit browser, canvas, budget, tools, model panel, suggestions, collection, study
and reports over one :class:`editor.state.editing.EditorState`. ``invariance-editor`` (:mod:`editor.app`) opens it."""

from __future__ import annotations

import dataclasses
import enum
import logging
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Final

import numpy as np
import torch
from PyQt6.QtCore import Qt, QTimer, pyqtSignal
from PyQt6.QtGui import QAction, QCloseEvent, QGuiApplication, QKeySequence, QShowEvent
from PyQt6.QtWidgets import (
    QButtonGroup,
    QComboBox,
    QFileDialog,
    QGridLayout,
    QGroupBox,
    QLabel,
    QMainWindow,
    QMessageBox,
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
from editor.state.drafts import DraftFile
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
from editor.workers.autosave import DraftKeeper
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
    ("Ctrl+O", "open another collection"),
    ("Ctrl+Q", "quit (asks first when the edit is unsaved)"),
    ("?  /  F1", "this overlay"),
]
PREFERRED_SIZE: Final = (1400, 860)
UNSAVED_TITLE: Final = "Unsaved changes"


class UnsavedChoice(enum.Enum):
    """The answer to "the edit is unsaved: what now?"."""

    SAVE = "save"
    DISCARD = "discard"
    CANCEL = "cancel"


AskUnsaved = Callable[[QWidget, str, str], UnsavedChoice]
"""``ask(parent, where, action)``: what to do with the unsaved edit of ``where`` before ``action``."""
AskRestore = Callable[[QWidget, str], bool]
"""``ask(parent, description)``: restore the draft described (True) or drop it (False)?"""

_CHOICES: Final = {
    QMessageBox.StandardButton.Save: UnsavedChoice.SAVE,
    QMessageBox.StandardButton.Discard: UnsavedChoice.DISCARD,
}


def unsaved_dialog(parent: QWidget, where: str, action: str) -> QMessageBox:
    """The "Unsaved changes" box (Save, Discard, Cancel; Save is the default, Escape cancels)."""
    box = QMessageBox(QMessageBox.Icon.Warning, UNSAVED_TITLE, f"The edit of {where} is not saved.", parent=parent)
    box.setInformativeText(
        f"Save it to the collection before {action}? Discard keeps it one Undo away on this digit for the session."
    )
    buttons = QMessageBox.StandardButton
    box.setStandardButtons(buttons.Save | buttons.Discard | buttons.Cancel)
    box.setDefaultButton(buttons.Save)
    box.setEscapeButton(buttons.Cancel)
    return box


def ask_unsaved_dialog(parent: QWidget, where: str, action: str) -> UnsavedChoice:
    """Ask with :func:`unsaved_dialog` (modal)."""
    box = unsaved_dialog(parent, where, action)
    box.exec()
    clicked = box.standardButton(box.clickedButton())
    return _CHOICES.get(clicked, UnsavedChoice.CANCEL)


def restore_draft_dialog(parent: QWidget, description: str) -> QMessageBox:
    """The "Restore unsaved edit" box shown at start when a draft survived (Restore or Discard)."""
    box = QMessageBox(
        QMessageBox.Icon.Question,
        "Restore unsaved edit",
        "The editor stopped last time with an unsaved edit.",
        parent=parent,
    )
    box.setInformativeText(f"{description}\n\nRestore it? (Discard deletes the draft.)")
    buttons = QMessageBox.StandardButton
    box.setStandardButtons(buttons.RestoreDefaults | buttons.Discard)
    restore = box.button(buttons.RestoreDefaults)
    if restore is not None:
        restore.setText("Restore")
    box.setDefaultButton(buttons.RestoreDefaults)
    return box


def ask_restore_dialog(parent: QWidget, description: str) -> bool:
    """Ask with :func:`restore_draft_dialog` (modal)."""
    box = restore_draft_dialog(parent, description)
    box.exec()
    return box.standardButton(box.clickedButton()) == QMessageBox.StandardButton.RestoreDefaults


class MainWindow(QMainWindow):
    """The editor window. Everything it needs is passed in, so tests can use tiny data and stand-in models.

    ``images``: uint8 (N, 28, 28) test digits; ``labels``: int64 (N,). ``collection``: where saves go
    (opened lazily on the first save unless given). The editing state starts from ``settings`` and every change
    of it is stored there. Signal ``sigSaved(str)``: the id of a saved edit.

    Nothing the user edits is lost: every route that would replace an unsaved edit (another digit, a suggestion,
    a collection item, another collection, closing, quitting) goes through :meth:`guard_edit`, which asks
    ``ask_unsaved`` (default: the "Unsaved changes" dialog; tests pass their own). With ``drafts`` the unsaved
    edit is autosaved there and :meth:`offer_draft` offers it again after a crash (asking ``ask_restore``).
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
        drafts: DraftFile | None = None,
        ask_unsaved: AskUnsaved = ask_unsaved_dialog,
        ask_restore: AskRestore = ask_restore_dialog,
    ) -> None:
        super().__init__()
        self.ask_unsaved = ask_unsaved
        self.ask_restore = ask_restore
        self._shut_down = False
        self._after_save: tuple[Callable[[], None], Callable[[], None]] | None = None  # then, otherwise
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
        self.state.events.image.connect(self._sync_title)
        self.state.events.saved.connect(self._sync_title)
        settings.follow(self.state)
        self.draft_keeper = None if drafts is None else DraftKeeper(self.state, drafts, self)
        if self.draft_keeper is not None:
            self.draft_keeper.sigError.connect(self.show_error)

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
        action("Open collection…", ["Ctrl+O"], self.choose_collection, "Open another collection (Ctrl+O)")
        self.quit_action = action("Quit", ["Ctrl+Q"], self.close, "Quit (Ctrl+Q)")

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
    def guard_edit(self, action: str, proceed: Callable[[], None], cancelled: Callable[[], None] | None = None) -> None:
        """The one guard before the edit is replaced: ``proceed()`` at once when nothing is unsaved; otherwise ask
        (:data:`UNSAVED_TITLE`): Save saves first and proceeds once saved, Discard sets the edit back to its clean
        image (one undo step) and proceeds, Cancel keeps everything and calls ``cancelled()``."""
        if not self.state.modified:
            proceed()
            return
        give_up = cancelled or (lambda: None)
        if self._saving:
            self.show_error(f"the edit is being saved; try {action} again in a moment")
            give_up()
            return
        choice = self.ask_unsaved(self, self._where(), action)
        if choice is UnsavedChoice.DISCARD:
            self.state.discard_changes()
            proceed()
        elif choice is UnsavedChoice.SAVE:
            if not self.save_edit(then=proceed, otherwise=give_up):
                give_up()
        else:
            give_up()

    def load_index(self, index: int) -> None:
        """Go to test digit ``index`` (as it was left this session, else fresh with the current norm and ε)."""
        self.guard_edit(f"opening test digit #{index}", lambda: self._open_index(index), self._sync_browser)

    def _open_index(self, index: int) -> None:
        source = Source("mnist", "test", int(index))
        if not self.state.resume(source):
            self.state.load(to_float(self.images[index]), int(self.labels[index]), source)
        self._suggested = None
        self.settings.index = index
        self._sync_browser()

    def load_proposal(self, proposal: Proposal) -> None:
        """Make a GenInv suggestion for the current digit the edit (one undo step; the original stays)."""
        self.guard_edit("loading the suggestion", lambda: self._apply_proposal(proposal))

    def _apply_proposal(self, proposal: Proposal) -> None:
        state = self.state
        state.replace_edit(proposal.image, proposal.target_label)
        self._suggested = (state.edited.copy(), state.norm)
        self.status_bar.showMessage(f"Loaded a suggestion: target label {proposal.target_label}", 5000)

    def load_item(self, item: Item) -> None:
        """Open a collection item (as it was left this session, else its original, edit, budget and label)."""
        self.guard_edit(f"opening item {item.id[:8]}", lambda: self._open_item(item), self._sync_browser)

    def _open_item(self, item: Item) -> None:
        try:
            index = item.source_index if item.source_index is not None else -1
            source = Source("collection", item.source_split or "test", index, item.id)
            if not self.state.resume(source):
                label = item.original_label if item.original_label is not None else NOT_A_DIGIT
                # An item without a budget keeps the current norm, and without ε takes the one last used with it.
                original, edited = item.original_float(), item.image_float()
                self.state.load(original, label, source, edited, norm=item.norm or None, eps=item.eps)
                self.state.set_intended_label(item.intended_label)
        except (InvarianceError, ValueError) as error:
            self.show_error(f"cannot open that item: {error}")
            return
        self._sync_browser()
        self._suggested = None
        self.collection_panel.select_items([item.id])
        self.tabs.setCurrentIndex(0)

    def _sync_browser(self) -> None:
        """Show the open digit in the browser (after a cancelled choice too, so it never shows another one)."""
        source = self.state.source
        shown = source.index if source.split == "test" and source.index >= 0 else None
        self.browser.show_index(shown, self.state.original_label)

    def _where(self) -> str:
        source = self.state.source
        if source.kind == "collection":
            return f"collection item {source.detail[:8]}"
        return f"test digit #{source.index}" if source.index >= 0 else "this digit"

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
        return self.state.source.kind == "collection" and self.state.source.detail == chosen.id

    def choose_collection(self) -> None:
        """Ask for a collection folder and open it (Ctrl+O)."""
        start = str(self.collection_path or default_collection_path())
        folder = QFileDialog.getExistingDirectory(self, "Open a collection", start)
        if folder:
            self.open_collection(Path(folder))

    def open_collection(self, path: Path) -> bool:
        """Save further edits to the existing collection at ``path`` and open its first item (guarded); False
        (and one line) when it is not a collection or the user cancelled."""
        opened: list[bool] = []
        self.guard_edit(f"opening the collection {path}", lambda: opened.append(self._switch_collection(path)))
        return bool(opened and opened[0])

    def _switch_collection(self, path: Path) -> bool:
        try:
            saver = CollectionSaver(path, self.author, create=False)
        except InvarianceError as error:
            self.show_error(f"cannot open the collection: {error}")
            return False
        if self.saver is not None:
            try:
                self.saver.close()
            except InvarianceError as error:
                log.warning("closing the collection: %s", error)
        self.saver, self.collection_path = None, Path(path)
        self.settings.collection = str(path)
        self._adopt_saver(saver)
        if self.collection_items():
            self.open_item(None)
        return True

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
            saver = CollectionSaver(path, self.author)
        except InvarianceError as error:
            self.show_error(f"cannot open the collection: {error}")
            return None
        return self._adopt_saver(saver)

    def _adopt_saver(self, saver: CollectionSaver) -> CollectionSaver:
        self.saver = saver
        self.study_widget.collections = [str(saver.path)]
        self.report_panel.collections = [str(saver.path)]
        self.collection_panel.set_collection(saver.collection)
        self.status_bar.showMessage(f"Saving to {saver.description}", 5000)
        return saver

    def save_edit(self, *, then: Callable[[], None] | None = None, otherwise: Callable[[], None] | None = None) -> bool:
        """Round the edit to uint8 within the budget, predict every shown model on it, then save it; ``then()``
        runs once it is saved, ``otherwise()`` when saving fails after it started. False (and one line) when the
        save cannot start."""
        state = self.state
        if state.intended_label is None:
            self.show_error("choose the intended label first (keys 0–9, or N for not a digit)")
            return False
        if self._saving:
            return False
        try:
            image = rounded_edit(state.original, state.edited, state.norm, state.eps)
        except InvarianceError as error:
            self.show_error(str(error))
            return False
        if self._open_saver() is None:
            return False
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
        self._after_save = None if then is None else (then, otherwise or (lambda: None))
        saved_edit, saved_source = state.edited.copy(), state.source
        self.status_bar.showMessage("Saving: predicting on the rounded edit…")
        self.model_panel.predict_exact(
            to_float(image), lambda labels, errors: self._finish_save(record, saved_edit, saved_source, labels, errors)
        )
        return True

    def _finish_save(
        self,
        record: EditRecord,
        saved_edit: np.ndarray,
        saved_source: Source,
        labels: dict[str, int],
        errors: dict[str, str],
    ) -> None:
        self._saving = False
        after, self._after_save = self._after_save, None
        saver = self.saver
        try:
            if saver is None:
                raise InvarianceError("the collection was closed")
            item_id = saver.save(dataclasses.replace(record, predictions=dict(labels)))
        except InvarianceError as error:
            self.status_bar.clearMessage()  # the "Saving…" hint ends with the save
            self.show_error(f"not saved: {error}")
            if after is not None:
                after[1]()
            return
        if self.state.source == saved_source:
            self.state.mark_saved(saved_edit)
        self.collection_panel.refresh()
        skipped = f" ({len(errors)} model(s) failed)" if errors else ""
        self.status_bar.showMessage(f"Saved {item_id[:8]} to {saver.description}{skipped}", 6000)
        self.sigSaved.emit(item_id)
        if after is not None:
            after[0]()

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
        unsaved = " — unsaved" if self.state.modified else ""
        label = label_name(self.state.original_label)
        self.setWindowTitle(f"Invariance Lab — editor — {where} (label {label}){unsaved}")

    def _remember_models(self, names: list[str]) -> None:
        self.settings.models = names

    # ------------------------------------------------------------------------------------------ closing
    def offer_draft(self) -> bool:
        """Offer the autosaved draft left by a crash (call once, at start); True when it was restored.

        Restored, the draft's digit is open with its clean image one Undo below the unsaved edit."""
        keeper = self.draft_keeper
        if keeper is None:
            return False
        try:
            draft = keeper.drafts.read()
        except InvarianceError as error:
            self.show_error(str(error))
            return False
        if draft is None:
            return False
        if not self.ask_restore(self, draft.describe()):
            keeper.drafts.clear()
            return False
        try:
            self.state.load(
                draft.original, draft.original_label, draft.source, draft.clean, norm=draft.norm, eps=draft.eps
            )
            self.state.replace_edit(draft.edited)
            self.state.set_intended_label(draft.intended_label)
        except (InvarianceError, ValueError) as error:
            self.show_error(f"cannot restore the draft {keeper.drafts.path}: {error}")
            return False
        self._sync_browser()
        self.status_bar.showMessage(f"Restored the unsaved edit of {self._where()}", 8000)
        return True

    def shutdown(self) -> None:
        """Stop workers, write or clear the draft, close the collection and store settings (idempotent)."""
        self._shut_down = True
        if self.draft_keeper is not None:
            self.draft_keeper.stop()
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
        """Closing (or Ctrl+Q) asks first when the edit is unsaved; Cancel keeps the window open."""
        if not self._shut_down and self.state.modified:
            if event is not None:
                event.ignore()
            self.guard_edit("closing the editor", lambda: QTimer.singleShot(0, self.close))  # not from inside a close
            return
        self.shutdown()
        super().closeEvent(event)
