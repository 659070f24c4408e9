"""The editor's collection panel: a filterable thumbnail grid of a :class:`core.collection.Collection`.

``CollectionPanel(parent=None)`` knows nothing about the rest of the app; give it a collection with
:meth:`CollectionPanel.set_collection` and call :meth:`CollectionPanel.refresh` after saving items elsewhere.

Signals:

- ``sigOpenItem(object)``: the :class:`~core.collection.Item` double-clicked or activated with Enter;
- ``sigItemsDeleted(list)`` / ``sigItemsRestored(list)``: items removed by Delete, put back by "Undo delete".

Each thumbnail shows the intended label ("→3"), the human label ("h:3", "h:?" when unknown), the method, and a
frame colour telling whether the saved model predictions agree with the intended label (green: all agree,
orange: at least one model disagrees, grey: no predictions or no intended label).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

import numpy as np
from PyQt6.QtCore import (
    QAbstractListModel,
    QEvent,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QSize,
    QSortFilterProxyModel,
    Qt,
    pyqtSignal,
)
from PyQt6.QtGui import QColor, QIcon, QKeyEvent, QKeySequence, QPainter, QPixmap, QShortcut
from PyQt6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QListView,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from core.collection import METHODS, Collection, Item
from core.errors import InvarianceError
from core.labels import NOT_A_DIGIT, label_name
from editor.widgets.pixmap import grey_pixmap

THUMB: Final = 56
"""Thumbnail side in pixels (2x the 28-pixel digit, nearest-neighbour)."""
FRAME: Final = 3
AGREE_COLOURS: Final = {True: QColor(46, 160, 67), False: QColor(230, 126, 34), None: QColor(120, 120, 120)}

ItemRole: Final = Qt.ItemDataRole.UserRole + 1
"""Model role returning the :class:`Item` of a row."""

ANY: Final = "any"
UNLABELED: Final = "unlabeled"

ModelIndex = QModelIndex | QPersistentModelIndex
_ROOT: Final = QModelIndex()
"""The invalid index: a list model's root."""


def short_label(label: int | None) -> str:
    if label is None:
        return "?"
    return "∅" if label == NOT_A_DIGIT else str(label)


AGREE_MARKS: Final = {True: " ✓", False: " ✗", None: ""}
"""Caption suffix: saved predictions all agree with the intended label (✓), some do not (✗), unknown ()."""


def caption(item: Item) -> str:
    """Two-line text under a thumbnail: labels, then method and model agreement."""
    agree = AGREE_MARKS[item.predictions_agree()]
    return f"→{short_label(item.intended_label)}  h:{short_label(item.human_label)}\n{item.method}{agree}"


def tooltip(item: Item) -> str:
    lines = [
        f"id {item.id}",
        f"set {item.set_name or '-'} · method {item.method}",
        f"source {item.source_split}[{item.source_index}]" if item.source_split else "source unknown",
        f"original label {short_label(item.original_label)} · intended "
        f"{label_name(item.intended_label) if item.intended_label is not None else '?'} · human "
        f"{label_name(item.human_label) if item.human_label is not None else '?'}",
    ]
    if item.norm is not None:
        lines.append(f"{item.norm} {item.distances.get(item.norm, float('nan')):.4g} / eps {item.eps:g}")
    if item.budget_violation is not None:
        lines.append(f"OVER BUDGET ({item.budget_violation:.4g})")
    if item.predictions:
        lines.append("predictions: " + ", ".join(f"{m}={p}" for m, p in sorted(item.predictions.items())))
    if item.human_labels:
        lines.append("raters: " + ", ".join(f"{r}={short_label(v)}" for r, v in sorted(item.human_labels.items())))
    if item.notes:
        lines.append(item.notes)
    return "\n".join(lines)


def thumbnail(image: np.ndarray, agree: bool | None) -> QPixmap:
    """A framed, nearest-neighbour scaled pixmap of a uint8 (28, 28) image."""
    side = THUMB + 2 * FRAME
    pixmap = QPixmap(side, side)
    pixmap.fill(AGREE_COLOURS[agree])
    painter = QPainter(pixmap)
    try:
        painter.drawPixmap(FRAME, FRAME, grey_pixmap(image, THUMB))
    finally:
        painter.end()
    return pixmap


class CollectionModel(QAbstractListModel):
    """The items of a collection, one row each, with cached thumbnails (built lazily, when first shown)."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._items: list[Item] = []
        self._icons: dict[tuple[str, bool | None], QIcon] = {}

    def set_items(self, items: Sequence[Item]) -> None:
        self.beginResetModel()
        self._items = list(items)
        live = {(item.image_file, item.predictions_agree()) for item in self._items}
        self._icons = {key: icon for key, icon in self._icons.items() if key in live}
        self.endResetModel()

    def items(self) -> list[Item]:
        return list(self._items)

    def rowCount(self, parent: ModelIndex = _ROOT) -> int:
        return 0 if parent.isValid() else len(self._items)

    def data(self, index: ModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> object:
        if not index.isValid() or not 0 <= index.row() < len(self._items):
            return None
        item = self._items[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return caption(item)
        if role == Qt.ItemDataRole.DecorationRole:
            key = (item.image_file, item.predictions_agree())
            if key not in self._icons:
                self._icons[key] = QIcon(thumbnail(item.image, key[1]))
            return self._icons[key]
        if role == Qt.ItemDataRole.ToolTipRole:
            return tooltip(item)
        if role == ItemRole:
            return item
        return None


class CollectionFilter(QSortFilterProxyModel):
    """Filters rows by label (intended or human), method and model agreement."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.label_kind = "intended"
        self.label: int | str = ANY  # ANY, UNLABELED or a label (0-9, NOT_A_DIGIT)
        self.method = ANY
        self.agreement = ANY  # ANY, "agree", "disagree", "none"

    def update(self) -> None:
        self.invalidateFilter()

    def filterAcceptsRow(self, source_row: int, source_parent: ModelIndex) -> bool:
        model = self.sourceModel()
        if model is None:
            return False
        if source_parent.isValid():
            return False
        item = model.data(model.index(source_row, 0), ItemRole)
        if not isinstance(item, Item):
            return False
        value = item.intended_label if self.label_kind == "intended" else item.human_label
        if self.label == UNLABELED and value is not None:
            return False
        if self.label not in (ANY, UNLABELED) and value != self.label:
            return False
        if self.method != ANY and item.method != self.method:
            return False
        agree = item.predictions_agree()
        wanted = {ANY: (True, False, None), "agree": (True,), "disagree": (False,), "none": (None,)}[self.agreement]
        return agree in wanted


class CollectionPanel(QWidget):
    """Thumbnail grid of a collection with filters, open-on-activate and delete with undo."""

    sigOpenItem = pyqtSignal(object)
    """The :class:`Item` to open in the editor (double-click or Enter)."""
    sigItemsDeleted = pyqtSignal(list)
    """Items just deleted from the collection."""
    sigItemsRestored = pyqtSignal(list)
    """Items just put back by "Undo delete"."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._collection: Collection | None = None
        self._undo: list[list[tuple[int, Item]]] = []
        self.model = CollectionModel(self)
        self.proxy = CollectionFilter(self)
        self.proxy.setSourceModel(self.model)

        self.label_kind_combo = QComboBox()
        self.label_kind_combo.addItem("intended label", "intended")
        self.label_kind_combo.addItem("human label", "human")
        self.label_combo = QComboBox()
        self.label_combo.addItem("any", ANY)
        for digit in range(10):
            self.label_combo.addItem(str(digit), digit)
        self.label_combo.addItem("not a digit", NOT_A_DIGIT)
        self.label_combo.addItem("unlabeled", UNLABELED)
        self.method_combo = QComboBox()
        self.method_combo.addItem("any method", ANY)
        for method in METHODS:
            self.method_combo.addItem(method, method)
        self.agreement_combo = QComboBox()
        for text, value in (
            ("any models", ANY),
            ("models agree", "agree"),
            ("models disagree", "disagree"),
            ("no predictions", "none"),
        ):
            self.agreement_combo.addItem(text, value)
        for combo in (self.label_kind_combo, self.label_combo, self.method_combo, self.agreement_combo):
            combo.currentIndexChanged.connect(self._apply_filters)
            # narrow enough for the editor's centre column at 1280 px (so the model table keeps its width); the
            # popup still shows whole names
            combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
            combo.setMinimumContentsLength(4)

        self.view = QListView()
        self.view.setViewMode(QListView.ViewMode.IconMode)
        self.view.setModel(self.proxy)
        self.view.setIconSize(QSize(THUMB + 2 * FRAME, THUMB + 2 * FRAME))
        self.view.setGridSize(QSize(THUMB + 40, THUMB + 52))
        self.view.setResizeMode(QListView.ResizeMode.Adjust)
        self.view.setMovement(QListView.Movement.Static)
        self.view.setUniformItemSizes(True)
        self.view.setWordWrap(True)
        self.view.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.view.doubleClicked.connect(self._open_index)
        self.view.installEventFilter(self)

        self.count_label = QLabel("no collection")
        self.status_label = QLabel("")
        self.delete_button = QPushButton("Delete")
        self.delete_button.setToolTip("Delete the selected items (Delete key)")
        self.delete_button.clicked.connect(self.delete_selected)
        self.undo_button = QPushButton("Undo delete")
        self.undo_button.setToolTip("Put back the last deleted items (Ctrl+Z)")
        self.undo_button.clicked.connect(self.undo_delete)
        self.undo_shortcut = QShortcut(QKeySequence(QKeySequence.StandardKey.Undo), self)
        self.undo_shortcut.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        self.undo_shortcut.activated.connect(self.undo_delete)

        filters = QHBoxLayout()
        for widget in (self.label_kind_combo, self.label_combo, self.method_combo, self.agreement_combo):
            filters.addWidget(widget)
        filters.addStretch(1)
        buttons = QHBoxLayout()
        buttons.addWidget(self.delete_button)
        buttons.addWidget(self.undo_button)
        buttons.addWidget(self.status_label, 1)
        buttons.addWidget(self.count_label)
        layout = QVBoxLayout(self)
        layout.addLayout(filters)
        layout.addWidget(self.view, 1)
        layout.addLayout(buttons)
        self._update_controls()

    # ------------------------------------------------------------------ public API

    @property
    def collection(self) -> Collection | None:
        return self._collection

    def set_collection(self, collection: Collection | None) -> None:
        """Show ``collection`` (or nothing); clears the undo history."""
        self._collection = collection
        self._undo.clear()
        self.refresh()

    def refresh(self) -> None:
        """Re-read the items of the collection (call after saving or labelling elsewhere)."""
        self.model.set_items(self._collection.items if self._collection is not None else [])
        self._update_controls()

    def visible_items(self) -> list[Item]:
        """Items that pass the filters, in display order."""
        return [self.proxy.data(self.proxy.index(row, 0), ItemRole) for row in range(self.proxy.rowCount())]

    def set_filters(
        self,
        *,
        label_kind: str | None = None,
        label: int | str | None = None,
        method: str | None = None,
        agreement: str | None = None,
    ) -> None:
        """Set filters programmatically (same values as the combo boxes' data); None leaves one unchanged."""
        for combo, value in (
            (self.label_kind_combo, label_kind),
            (self.label_combo, label),
            (self.method_combo, method),
            (self.agreement_combo, agreement),
        ):
            if value is not None:
                position = combo.findData(value)
                if position < 0:
                    raise ValueError(f"unknown filter value {value!r}")
                combo.setCurrentIndex(position)

    def select_items(self, item_ids: Sequence[str]) -> None:
        """Select the visible items with these ids."""
        selection = self.view.selectionModel()
        if selection is None:
            return
        selection.clearSelection()
        wanted = set(item_ids)
        for row in range(self.proxy.rowCount()):
            index = self.proxy.index(row, 0)
            item = self.proxy.data(index, ItemRole)
            if isinstance(item, Item) and item.id in wanted:
                selection.select(index, selection.SelectionFlag.Select)
                selection.setCurrentIndex(index, selection.SelectionFlag.NoUpdate)

    def selected_items(self) -> list[Item]:
        selection = self.view.selectionModel()
        if selection is None:
            return []
        rows = sorted(selection.selectedIndexes(), key=lambda index: index.row())
        return [item for item in (self.proxy.data(index, ItemRole) for index in rows) if isinstance(item, Item)]

    def delete_selected(self) -> list[Item]:
        """Delete the selected items from the collection; they can be put back with :meth:`undo_delete`."""
        if self._collection is None:
            return []
        deleted: list[tuple[int, Item]] = []
        try:
            for item in self.selected_items():
                position = self._collection.index_of(item.id)
                deleted.append((position, self._collection.delete(item.id)))
        except InvarianceError as error:
            self.status_label.setText(str(error))
        if deleted:
            self._undo.append(deleted)
            self.status_label.setText(f"deleted {len(deleted)} item(s)")
        self.refresh()
        if deleted:
            self.sigItemsDeleted.emit([item for _, item in deleted])
        return [item for _, item in deleted]

    def undo_delete(self) -> list[Item]:
        """Restore the items removed by the last delete, at their former positions."""
        if self._collection is None or not self._undo:
            return []
        batch = self._undo.pop()
        restored = []
        try:
            for position, item in reversed(batch):
                restored.append(self._collection.restore(item, position))
        except InvarianceError as error:
            self.status_label.setText(str(error))
        else:
            self.status_label.setText(f"restored {len(restored)} item(s)")
        self.refresh()
        if restored:
            self.sigItemsRestored.emit(restored)
        return restored

    # ------------------------------------------------------------------ internals

    def eventFilter(self, watched: QObject | None, event: QEvent | None) -> bool:
        if watched is self.view and isinstance(event, QKeyEvent) and event.type() == QEvent.Type.KeyPress:
            if event.key() in (Qt.Key.Key_Delete, Qt.Key.Key_Backspace):
                self.delete_selected()
                return True
            if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
                self._open_index(self.view.currentIndex())
                return True
            if event.matches(QKeySequence.StandardKey.Undo):  # when the window-level shortcut did not fire
                self.undo_delete()
                return True
        return super().eventFilter(watched, event)

    def _open_index(self, index: QModelIndex) -> None:
        item = self.proxy.data(index, ItemRole) if index.isValid() else None
        if isinstance(item, Item):
            self.sigOpenItem.emit(item)

    def _apply_filters(self) -> None:
        self.proxy.label_kind = self.label_kind_combo.currentData()
        self.proxy.label = self.label_combo.currentData()
        self.proxy.method = self.method_combo.currentData()
        self.proxy.agreement = self.agreement_combo.currentData()
        self.proxy.update()
        self._update_controls()

    def _update_controls(self) -> None:
        total = self.model.rowCount()
        if self._collection is None:
            self.count_label.setText("no collection")
        else:
            self.count_label.setText(f"{self.proxy.rowCount()} of {total} item(s)")
        self.delete_button.setEnabled(self._collection is not None and total > 0)
        self.undo_button.setEnabled(bool(self._undo))
