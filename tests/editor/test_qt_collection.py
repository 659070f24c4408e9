"""CollectionPanel: thumbnails, filters, open signal, delete with undo (offscreen, pytest-qt)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PyQt6.QtCore import Qt
from PyQt6.QtGui import QIcon

from core.collection import Collection
from core.labels import NOT_A_DIGIT
from editor.widgets.collection import CollectionPanel, ItemRole


@pytest.fixture
def collection(tmp_path: Path):
    rng = np.random.default_rng(0)
    coll = Collection.create(tmp_path / "c", "panel")
    specs = [
        (3, 3, "manual", {"a": 3, "b": 3}),  # models agree with the intended label
        (5, None, "geninv-l0", {"a": 5, "b": 1}),  # one model disagrees
        (NOT_A_DIGIT, NOT_A_DIGIT, "manual", {}),  # no predictions
        (3, 8, "imported", {"a": 2}),
    ]
    for intended, human, method, predictions in specs:
        coll.add(
            rng.integers(0, 256, (28, 28)).astype(np.uint8),
            intended_label=intended,
            human_label=human,
            method=method,
            predictions=predictions,
        )
    yield coll
    coll.close()


def ids(items) -> list[str]:
    return [item.id for item in items]


def test_grid_shows_every_item_with_thumbnail_and_caption(qtbot, collection) -> None:
    panel = CollectionPanel()
    qtbot.addWidget(panel)
    panel.set_collection(collection)
    assert ids(panel.visible_items()) == ids(collection.items)
    index = panel.proxy.index(0, 0)
    assert isinstance(panel.proxy.data(index, Qt.ItemDataRole.DecorationRole), QIcon)
    assert panel.proxy.data(index, Qt.ItemDataRole.DisplayRole) == "→3  h:3\nmanual ✓"
    second = panel.proxy.index(1, 0)
    assert panel.proxy.data(second, Qt.ItemDataRole.DisplayRole) == "→5  h:?\ngeninv-l0 ✗"
    assert "predictions: a=3, b=3" in panel.proxy.data(index, Qt.ItemDataRole.ToolTipRole)
    assert panel.count_label.text() == "4 of 4 item(s)"


def test_filters_by_label_method_and_agreement(qtbot, collection) -> None:
    panel = CollectionPanel()
    qtbot.addWidget(panel)
    panel.set_collection(collection)
    items = collection.items
    panel.set_filters(label=3)
    assert ids(panel.visible_items()) == [items[0].id, items[3].id]
    panel.set_filters(label_kind="human", label=NOT_A_DIGIT)
    assert ids(panel.visible_items()) == [items[2].id]
    panel.set_filters(label="unlabeled")
    assert ids(panel.visible_items()) == [items[1].id]
    panel.set_filters(label="any", method="manual")
    assert ids(panel.visible_items()) == [items[0].id, items[2].id]
    panel.set_filters(method="any", agreement="disagree")
    assert ids(panel.visible_items()) == [items[1].id, items[3].id]
    panel.set_filters(agreement="agree")
    assert ids(panel.visible_items()) == [items[0].id]
    panel.set_filters(agreement="none")
    assert ids(panel.visible_items()) == [items[2].id]
    assert panel.count_label.text() == "1 of 4 item(s)"


def test_double_click_and_enter_open_the_item(qtbot, collection) -> None:
    panel = CollectionPanel()
    qtbot.addWidget(panel)
    panel.set_collection(collection)
    panel.show()
    qtbot.waitExposed(panel)
    target = collection.items[2]
    panel.select_items([target.id])
    with qtbot.waitSignal(panel.sigOpenItem) as blocker:
        qtbot.keyClick(panel.view, Qt.Key.Key_Return)
    assert blocker.args[0].id == target.id
    index = panel.view.currentIndex()
    rect = panel.view.visualRect(index)
    # QAbstractItemView only accepts a double click on the item the preceding press hit, as with a real mouse.
    qtbot.mouseClick(panel.view.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    with qtbot.waitSignal(panel.sigOpenItem) as blocker:
        qtbot.mouseDClick(panel.view.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert blocker.args[0].id == panel.proxy.data(index, ItemRole).id


def test_delete_key_then_undo_restores_durably(qtbot, collection, tmp_path: Path) -> None:
    panel = CollectionPanel()
    qtbot.addWidget(panel)
    panel.set_collection(collection)
    panel.show()
    qtbot.waitExposed(panel)
    before = ids(collection.items)
    victims = [collection.items[1].id, collection.items[2].id]
    panel.select_items(victims)
    with qtbot.waitSignal(panel.sigItemsDeleted) as blocker:
        qtbot.keyClick(panel.view, Qt.Key.Key_Delete)
    assert ids(blocker.args[0]) == victims
    assert ids(collection.items) == [before[0], before[3]]
    assert ids(panel.visible_items()) == [before[0], before[3]]
    assert panel.undo_button.isEnabled()
    with qtbot.waitSignal(panel.sigItemsRestored):
        qtbot.keyClick(panel.view, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert ids(collection.items) == before and ids(panel.visible_items()) == before
    assert not panel.undo_button.isEnabled()
    panel.select_items([before[0]])
    qtbot.mouseClick(panel.delete_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: panel.undo_button.isEnabled())
    qtbot.mouseClick(panel.undo_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: ids(panel.visible_items()) == before)
    collection.close()
    with Collection.open(collection.path, read_only=True) as reopened:
        assert ids(reopened.items) == before


def test_refresh_and_read_only_collection_reports_errors(qtbot, collection) -> None:
    panel = CollectionPanel()
    qtbot.addWidget(panel)
    assert panel.count_label.text() == "no collection" and not panel.delete_button.isEnabled()
    panel.set_collection(collection)
    collection.add(np.zeros((28, 28), np.uint8), intended_label=1)
    assert len(panel.visible_items()) == 4
    panel.refresh()
    assert len(panel.visible_items()) == 5
    collection.close()
    with Collection.open(collection.path, read_only=True) as reader:
        panel.set_collection(reader)
        panel.select_items([reader.items[0].id])
        assert panel.delete_selected() == []
        assert "read-only" in panel.status_label.text()
        assert len(panel.visible_items()) == 5
