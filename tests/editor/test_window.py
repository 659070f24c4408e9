"""The editor window with pytest-qt (offscreen) and tiny stand-in models."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
from PyQt6.QtCore import Qt

from core import budget
from core.certify import certified
from core.labels import NOT_A_DIGIT
from editor.screenshot import capture_when_ready
from editor.state.tools import Tool
from editor.widgets.suggestions import Proposal
from editor.widgets.window import MainWindow
from editor.workers.tasks import ProgressCallback, TaskThread
from tests.fixtures_editor import (
    answer_discard,
    digits,
    drag,
    isolated_settings,
    linear_model,
    probabilities,
    show_window,
    stand_in_source,
)

CPU = torch.device("cpu")


def fake_suggest(
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
    """Two deterministic 'suggestions': a bar added on top, projected into the budget."""
    proposals = []
    for number in range(2):
        wanted = image.copy()
        wanted[2 + number, 4:20] = 1.0
        projected = budget.project(image, wanted, norm, 0.0 if eps is None else eps)
        progress((number + 1) / 2, "searching")
        distortion = {name: float(budget.distance(image, projected, name)) for name in budget.NORMS}
        proposals.append(Proposal(projected, (label + 1 + number) % 10, distortion))
    return proposals


def make_window(qtbot, tmp_path: Path, **source_options: bool) -> MainWindow:  # type: ignore[no-untyped-def]
    images, labels = digits(10)
    settings = isolated_settings(tmp_path)
    settings.norm = "linf"
    settings.set_eps("linf", 1.0)
    window = MainWindow(
        images,
        labels,
        source=stand_in_source(**source_options),
        settings=settings,
        device=CPU,
        collection=tmp_path / "collection",
        suggest=fake_suggest,
        author="tester",
        ask_unsaved=answer_discard,
    )
    return show_window(qtbot, window)


@pytest.fixture
def window(qtbot, tmp_path: Path) -> Iterator[MainWindow]:  # type: ignore[no-untyped-def]
    win = make_window(qtbot, tmp_path)
    yield win
    win.shutdown()


def changed_cells(window: MainWindow) -> set[tuple[int, int]]:
    rows, cols = np.nonzero(window.state.edited != window.state.original)
    return set(zip(rows.tolist(), cols.tolist(), strict=True))


def test_drag_changes_exactly_the_pixels_under_the_path(window: MainWindow) -> None:
    window.state.set_tool(Tool.BRUSH)
    window.state.set_value(1.0)
    window.state.set_brush_size(1)
    drag(window.canvas, [(2, 3), (2, 5), (2, 8)])  # row 2 of digit 0 is empty
    assert changed_cells(window) == {(2, col) for col in range(3, 9)}
    assert np.all(window.state.edited[2, 3:9] == 1.0)
    window.state.undo()
    assert changed_cells(window) == set()
    # a fast diagonal move in one event still paints every pixel in between
    drag(window.canvas, [(10, 2), (14, 6)])
    expected = {(10, 2), (11, 3), (12, 4), (13, 5), (14, 6)}
    assert {cell for cell in changed_cells(window)} == {c for c in expected if window.state.original[c] != 1.0}
    window.state.undo()
    window.state.set_brush_size(2)  # a plus-shaped footprint along the path
    drag(window.canvas, [(2, 3), (2, 8)])
    expected = {(2, c) for c in range(2, 10)} | {(1, c) for c in range(3, 9)} | {(3, c) for c in range(3, 9)}
    assert changed_cells(window) == expected


@pytest.mark.parametrize(("norm", "eps"), [("linf", 0.1), ("l0", 5.0), ("l2", 1.5)])
def test_a_stroke_beyond_the_budget_stays_within_eps_after_every_event(
    window: MainWindow,
    qtbot,
    norm: str,
    eps: float,  # type: ignore[no-untyped-def]
) -> None:
    window.state.set_budget(norm, eps)
    window.state.set_brush_size(2)
    state = window.state
    distances: list[float] = []

    def check() -> None:
        assert budget.within_budget(state.original, state.edited, norm, eps)
        distances.append(state.used())

    with qtbot.waitSignal(window.canvas.sigStrokeApplied):
        drag(window.canvas, [(1, c) for c in range(1, 27, 2)] + [(26, 26)], after_each=check)
    assert max(distances) == pytest.approx(eps, rel=1e-3)  # the budget is used up ...
    assert window.canvas.flashing  # ... and the held-back pixels flash
    qtbot.waitUntil(lambda: not window.canvas.flashing, timeout=3000)


def test_undo_redo_round_trip_through_the_window(window: MainWindow) -> None:
    start = window.state.edited.copy()
    drag(window.canvas, [(3, 3), (3, 9)])
    after_first = window.state.edited.copy()
    drag(window.canvas, [(5, 3), (5, 9)])
    after_second = window.state.edited.copy()
    window.undo_action.trigger()
    np.testing.assert_array_equal(window.state.edited, after_first)
    window.undo_action.trigger()
    np.testing.assert_array_equal(window.state.edited, start)
    assert not window.undo_action.isEnabled()
    window.redo_action.trigger()
    window.redo_action.trigger()
    np.testing.assert_array_equal(window.state.edited, after_second)


def test_model_panel_updates_after_a_stroke(window: MainWindow, qtbot) -> None:  # type: ignore[no-untyped-def]
    with qtbot.waitSignal(window.model_panel.sigPredictionsUpdated, timeout=5000):
        drag(window.canvas, [(4, 4), (20, 20)])
    qtbot.waitUntil(window.model_panel.up_to_date, timeout=5000)
    for name, seed in (("tiny-a", 1), ("tiny-b", 2)):
        row = window.model_panel.rows[name]
        assert row.probabilities is not None
        np.testing.assert_allclose(row.probabilities, probabilities(linear_model(seed), window.state.edited), atol=1e-5)
        assert row.prediction.text() == str(int(np.argmax(row.probabilities)))


def test_mismatch_mark_and_intended_label(window: MainWindow) -> None:
    row = window.model_panel.rows["tiny-a"]
    predicted = row.predicted
    assert predicted is not None
    other = (predicted + 1) % 10
    window.set_intended(other)
    assert "≠" in row.mark.text()
    window.set_intended(other)  # pressing the same label again clears it
    assert window.state.intended_label is None
    window.set_intended(predicted)
    assert "≠" not in row.mark.text() and "=" in row.mark.text()


def test_slow_and_certified_models_and_load_errors(qtbot, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    window = make_window(qtbot, tmp_path, slow=True, certified=True, broken=True)
    try:
        panel = window.model_panel
        assert "broken" in window.last_error  # reported in the status bar, no crash
        assert panel.rows["broken"].prediction.text() == "!"
        assert panel.rows["tiny-slow"].probabilities is not None
        assert not panel.rows["tiny-slow"].busy.isVisible()
        window.state.set_budget("linf", 0.05)
        qtbot.waitUntil(panel.up_to_date, timeout=5000)
        x = torch.from_numpy(window.state.original)[None, None]
        expected = bool(certified(linear_model(4), x, torch.tensor([window.state.original_label]), 0.05)[0])
        text = panel.rows["tiny-cert"].certificate.text()
        assert ("✓" in text) == expected and "0.05" in text
        window.state.set_budget("l0", 5)  # certification is for ℓ∞ only
        qtbot.waitUntil(panel.up_to_date, timeout=5000)
        assert panel.rows["tiny-cert"].certificate.text() == ""
    finally:
        window.shutdown()


def test_keyboard_shortcuts(window: MainWindow, qtbot) -> None:  # type: ignore[no-untyped-def]
    window.activateWindow()
    window.canvas.setFocus()
    qtbot.keyClick(window, Qt.Key.Key_7)
    assert window.state.intended_label == 7
    qtbot.keyClick(window, Qt.Key.Key_N)
    assert window.state.intended_label == NOT_A_DIGIT
    qtbot.keyClick(window, Qt.Key.Key_E)
    assert window.state.tool is Tool.ERASER and window.tool_panel.buttons[Tool.ERASER].isChecked()
    qtbot.keyClick(window, Qt.Key.Key_B)
    assert window.state.tool is Tool.BRUSH and window.tool_panel.buttons[Tool.BRUSH].isChecked()
    qtbot.keyClick(window, Qt.Key.Key_BracketRight)
    assert window.state.brush_size == 2 and window.tool_panel.size_box.value() == 2
    qtbot.keyClick(window, Qt.Key.Key_V)
    assert window.state.view_mode == "overlay" and window.tool_panel.view_box.currentData() == "overlay"
    assert not window.canvas.original_view.isVisible()  # the canvas follows the state's view mode
    drag(window.canvas, [(2, 2), (2, 6)])
    edited = window.state.edited.copy()
    qtbot.keyClick(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    np.testing.assert_array_equal(window.state.edited, window.state.original)
    qtbot.keyClick(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    np.testing.assert_array_equal(window.state.edited, edited)
    qtbot.keyClick(window, Qt.Key.Key_R)
    np.testing.assert_array_equal(window.state.edited, window.state.original)
    qtbot.keyClick(window, Qt.Key.Key_Period)
    assert window.state.source.index == 1
    qtbot.keyClick(window, Qt.Key.Key_Question, Qt.KeyboardModifier.ShiftModifier)
    assert window.overlay.isVisible()
    qtbot.keyClick(window.overlay, Qt.Key.Key_Escape)
    assert not window.overlay.isVisible()


def test_hover_shows_original_and_current_values(window: MainWindow) -> None:
    drag(window.canvas, [(2, 2)])
    window.canvas.sigHover.emit(2, 2)
    assert "original 0.000 (0)" in window.hover_label.text() and "current 1.000 (255)" in window.hover_label.text()


def test_save_records_the_rounded_edit_and_predictions(window: MainWindow, qtbot, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    window.state.set_budget("linf", 0.3)
    window.state.set_value(0.77)  # not on the uint8 grid: the save rounds it within the budget
    drag(window.canvas, [(4, 4), (4, 20)])
    window.save_edit()
    assert "intended label" in window.last_error  # refuses without an intended label
    window.set_intended(3)
    with qtbot.waitSignal(window.sigSaved, timeout=5000) as saved:
        window.save_edit()
    from core.collection import Collection

    window.shutdown()  # closes the collection
    with Collection.open(tmp_path / "collection", read_only=True) as collection:
        item = collection.get(saved.args[0])
    assert item.intended_label == 3 and item.norm == "linf" and item.eps == pytest.approx(0.3)
    assert item.source_index == 0 and item.original_label == int(digits(1)[1][0])
    assert budget.within_budget(item.original_float(), item.image_float(), "linf", 0.3)
    for name, seed in (("tiny-a", 1), ("tiny-b", 2)):
        assert item.predictions[name] == int(np.argmax(probabilities(linear_model(seed), item.image_float())))


def test_suggestions_load_as_edits_and_cancel(window: MainWindow, qtbot) -> None:  # type: ignore[no-untyped-def]
    panel = window.suggestions
    window.state.set_budget("linf", 0.3)
    with qtbot.waitSignal(panel.sigFinished, timeout=5000) as finished:
        panel.start()
    assert finished.args == [2] and panel.list.count() == 2
    panel.list.itemClicked.emit(panel.list.item(1))
    proposal = panel.proposals[1]
    np.testing.assert_array_equal(window.state.edited, proposal.image)
    assert window.state.intended_label == proposal.target_label
    assert budget.within_budget(window.state.original, window.state.edited, "linf", 0.3)

    started = threading.Event()

    def endless(*args, **kwargs) -> list[Proposal]:  # type: ignore[no-untyped-def]
        cancelled = args[-1]
        started.set()
        while not cancelled():
            threading.Event().wait(0.005)
        return []

    panel.suggest = endless
    panel.start()
    qtbot.waitUntil(started.is_set, timeout=3000)
    assert panel.running
    with qtbot.waitSignal(panel.task.sigCancelled, timeout=3000):  # type: ignore[union-attr]
        panel.cancel()
    qtbot.waitUntil(lambda: not panel.running, timeout=3000)


@pytest.mark.parametrize("outcome", ["done", "failed", "cancelled"])
def test_a_task_reports_its_outcome_only_after_its_thread_stopped(qtbot, outcome: str) -> None:  # type: ignore[no-untyped-def]
    def work(progress: ProgressCallback, cancelled: Callable[[], bool]) -> int:
        if outcome == "failed":
            raise ValueError("broken")
        if outcome == "cancelled":
            task.cancel()
        return 7

    task = TaskThread(work, threads=1)
    seen: list[tuple[str, object, bool]] = []
    task.sigDone.connect(lambda value: seen.append(("done", value, task.isRunning())))
    task.sigFailed.connect(lambda message: seen.append(("failed", message, task.isRunning())))
    task.sigCancelled.connect(lambda: seen.append(("cancelled", None, task.isRunning())))
    task.start()
    qtbot.waitUntil(lambda: bool(seen), timeout=3000)
    qtbot.wait(50)
    expected = {"done": 7, "failed": "ValueError: broken", "cancelled": None}[outcome]
    assert seen == [(outcome, expected, False)]


def test_screenshot_is_written_after_first_predictions(window: MainWindow, qtbot, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    codes: list[int] = []
    path = tmp_path / "shot.png"
    capture_when_ready(window, path, codes.append)
    qtbot.waitUntil(lambda: codes == [0], timeout=10_000)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    from PyQt6.QtGui import QImage

    image = QImage(str(path))
    assert image.width() == window.width() and image.height() == window.height()


def test_a_corrupt_collection_is_reported_not_a_crash(qtbot, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    folder = tmp_path / "collection"
    folder.mkdir()
    (folder / "manifest.json").write_text("{ this is not json")
    window = make_window(qtbot, tmp_path)
    try:
        assert "collection" in window.last_error
        window.set_intended(1)
        window.save_edit()  # tries again, reports again, still no crash
        assert "collection" in window.last_error
        drag(window.canvas, [(2, 2), (2, 5)])  # the editor keeps working
        assert window.state.can_undo()
    finally:
        window.shutdown()


def test_device_chooser_reports_an_unavailable_device(window: MainWindow) -> None:
    if torch.cuda.is_available():
        pytest.skip("CUDA is available here")
    window.device_box.setCurrentText("cuda")
    assert "CUDA" in window.last_error and window.device_box.currentText() == "auto"
    window.device_box.setCurrentText("cpu")
    assert window.settings.device == "cpu" and window.model_panel.device == CPU


def test_a_saved_item_reopens_as_an_edit(window: MainWindow, qtbot) -> None:  # type: ignore[no-untyped-def]
    window.state.set_budget("l0", 10)
    drag(window.canvas, [(2, 2), (2, 8)])
    window.set_intended(NOT_A_DIGIT)
    with qtbot.waitSignal(window.sigSaved, timeout=5000):
        window.save_edit()
    saved = window.state.edited.copy()
    window.browser.choose(4)
    assert not np.array_equal(window.state.edited, saved)
    assert window.saver is not None
    item = window.saver.collection.items[-1]
    window.collection_panel.sigOpenItem.emit(item)
    np.testing.assert_allclose(window.state.edited, saved, atol=0.5 / 255)
    assert (window.state.norm, window.state.eps, window.state.intended_label) == ("l0", 10.0, NOT_A_DIGIT)
    assert window.state.source.kind == "collection" and window.state.source.index == 0


def test_choosing_models_in_the_menu_is_remembered(window: MainWindow, qtbot) -> None:  # type: ignore[no-untyped-def]
    panel = window.model_panel
    assert window.settings.models is None  # never chosen: every available model is shown
    panel._fill_menu()
    actions = {action.text(): action for action in panel.menu.actions()}
    with qtbot.waitSignal(panel.sigModelsChosen):
        actions["tiny-a"].setChecked(False)
    assert list(panel.rows) == ["tiny-b"] and window.settings.models == ["tiny-b"]
    qtbot.waitUntil(panel.up_to_date, timeout=5000)
    assert panel.predicted_labels().keys() == {"tiny-b"}
