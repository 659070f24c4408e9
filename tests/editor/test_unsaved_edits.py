"""Nothing is lost in the editor: the "Unsaved changes" guard on every route, undo per item, the crash draft and
the start-up refusals. pytest-qt, offscreen; the dialog is answered through the window's ``ask_unsaved`` hook."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
from PyQt6.QtCore import Qt, QTimer
from PyQt6.QtWidgets import QApplication, QMessageBox, QWidget

from editor.state.drafts import DraftFile
from editor.widgets.guide import GuideImage
from editor.widgets.window import UNSAVED_TITLE, MainWindow, UnsavedChoice, ask_unsaved_dialog
from tests.editor.test_window import fake_suggest
from tests.fixtures_editor import (
    digits,
    drag,
    isolated_settings,
    make_collection,
    run_editor,
    show_window,
    stand_in_source,
)

CPU = torch.device("cpu")


class Answers:
    """Stands in for the person at the dialog: records each question and gives the next prepared answer."""

    def __init__(self) -> None:
        self.choice = UnsavedChoice.CANCEL
        self.asked: list[tuple[str, str]] = []

    def __call__(self, parent: QWidget, where: str, action: str) -> UnsavedChoice:
        self.asked.append((where, action))
        return self.choice


def plain_guide(original: np.ndarray, target: int, norm: str, eps: float, device: torch.device) -> GuideImage:
    """A blank guide at once (the real one builds GenInv's bank, which these tests do not need)."""
    return GuideImage(np.zeros((28, 28), dtype=np.float32), target, "stand-in")


def open_window(qtbot, tmp_path: Path, answers: Answers, **options: object) -> MainWindow:  # type: ignore[no-untyped-def]
    images, labels = digits(10)
    settings = isolated_settings(tmp_path)
    settings.norm = "linf"
    settings.set_eps("linf", 1.0)
    window = MainWindow(
        images,
        labels,
        source=stand_in_source(),
        settings=settings,
        device=CPU,
        collection=tmp_path / "collection",
        suggest=fake_suggest,
        guide=plain_guide,
        author="tester",
        ask_unsaved=answers,
        **options,  # type: ignore[arg-type]
    )
    return show_window(qtbot, window)


@pytest.fixture
def answers() -> Answers:
    return Answers()


@pytest.fixture
def window(qtbot, tmp_path: Path, answers: Answers) -> Iterator[MainWindow]:  # type: ignore[no-untyped-def]
    make_collection(tmp_path / "collection", 2)
    make_collection(tmp_path / "other", 1)
    win = open_window(qtbot, tmp_path, answers)
    yield win
    win.shutdown()


def paint(window: MainWindow, row: int = 2) -> np.ndarray:
    """One stroke across an empty row of the digit; the edit after it."""
    drag(window.canvas, [(row, 3), (row, 9)])
    assert window.state.modified
    return window.state.edited.copy()


def suggestion_click(window: MainWindow, qtbot) -> None:  # type: ignore[no-untyped-def]
    panel = window.suggestions
    panel.list.itemClicked.emit(panel.list.item(0))


ROUTES: dict[str, Callable[[MainWindow, object], object]] = {
    "next button": lambda w, qtbot: w.browser.next_button.click(),
    "previous key": lambda w, qtbot: qtbot.keyClick(w, Qt.Key.Key_Comma),  # type: ignore[attr-defined]
    "page down": lambda w, qtbot: qtbot.keyClick(w, Qt.Key.Key_PageDown),  # type: ignore[attr-defined]
    "digit browser": lambda w, qtbot: w.browser.index_box.setValue(5),
    "suggestion": suggestion_click,
    "collection item": lambda w, qtbot: w.collection_panel.sigOpenItem.emit(w.collection_items()[1]),
    "another collection": lambda w, qtbot: w.open_collection(w.collection_path.parent / "other"),  # type: ignore[union-attr]
    "close": lambda w, qtbot: w.close(),
    "quit": lambda w, qtbot: w.quit_action.trigger(),
}


@pytest.mark.parametrize("route", list(ROUTES))
def test_every_route_asks_and_cancel_keeps_the_edit_and_the_digit(
    window: MainWindow,
    answers: Answers,
    qtbot,
    route: str,  # type: ignore[no-untyped-def]
) -> None:
    if route == "suggestion":
        with qtbot.waitSignal(window.suggestions.sigFinished, timeout=5000):
            window.suggestions.start()
    window.activateWindow()
    window.canvas.setFocus()
    edit = paint(window)
    source, title = window.state.source, window.windowTitle()
    assert "unsaved" in title
    ROUTES[route](window, qtbot)
    assert answers.asked == [("test digit #0", answers.asked[0][1])]
    np.testing.assert_array_equal(window.state.edited, edit)  # Cancel: nothing replaced ...
    assert window.state.source == source and window.state.can_undo()
    assert window.browser.index_box.value() == 0  # ... and the browser still shows the digit being edited
    assert window.isVisible() and window.collection_path == window.saver.collection.path  # type: ignore[union-attr]


def test_the_dialog_is_titled_unsaved_changes_and_offers_save_discard_cancel(qtbot) -> None:  # type: ignore[no-untyped-def]
    parent = QWidget()
    qtbot.addWidget(parent)
    seen: list[tuple[str, list[str | None]]] = []

    def answer_cancel() -> None:
        box = QApplication.activeModalWidget()
        assert isinstance(box, QMessageBox)
        seen.append((box.windowTitle(), [box.standardButton(b).name for b in box.buttons()]))
        box.button(QMessageBox.StandardButton.Cancel).click()  # type: ignore[union-attr]

    QTimer.singleShot(0, answer_cancel)
    assert ask_unsaved_dialog(parent, "test digit #3", "opening test digit #4") is UnsavedChoice.CANCEL
    assert seen and seen[0][0] == UNSAVED_TITLE == "Unsaved changes"
    assert sorted(str(name) for name in seen[0][1]) == ["Cancel", "Discard", "Save"]


def test_discard_proceeds_and_the_edit_is_one_undo_away_when_going_back(window: MainWindow, answers: Answers) -> None:
    first = paint(window)
    paint(window, row=4)
    second = window.state.edited.copy()
    answers.choice = UnsavedChoice.DISCARD
    window.browser.next_button.click()
    assert window.state.source.index == 1 and not window.state.modified
    window.browser.previous_button.click()  # back: the discarded edit is one undo away, the strokes before it too
    assert window.state.source.index == 0 and len(answers.asked) == 1
    np.testing.assert_array_equal(window.state.edited, window.state.original)
    window.undo_action.trigger()
    np.testing.assert_array_equal(window.state.edited, second)
    window.undo_action.trigger()
    np.testing.assert_array_equal(window.state.edited, first)


def test_save_saves_then_goes_on_and_going_back_restores_the_edit_and_its_undo(
    window: MainWindow,
    answers: Answers,
    qtbot,  # type: ignore[no-untyped-def]
) -> None:
    first = paint(window)
    window.set_intended(3)
    answers.choice = UnsavedChoice.SAVE
    with qtbot.waitSignal(window.sigSaved, timeout=5000):
        window.browser.next_button.click()
    qtbot.waitUntil(lambda: window.state.source.index == 1, timeout=5000)
    assert len(window.saver.collection) == 3  # type: ignore[union-attr]  # two made by the fixture, one saved now
    other = paint(window, row=1)
    answers.choice = UnsavedChoice.DISCARD
    window.browser.previous_button.click()
    np.testing.assert_array_equal(window.state.edited, first)  # the saved edit, not the original
    assert window.state.intended_label == 3 and not window.state.modified
    window.undo_action.trigger()
    np.testing.assert_array_equal(window.state.edited, window.state.original)
    window.browser.next_button.click()  # digit 1: its discarded stroke is still one undo away
    window.undo_action.trigger()
    np.testing.assert_array_equal(window.state.edited, other)


def test_save_without_an_intended_label_stays(window: MainWindow, answers: Answers) -> None:
    edit = paint(window)
    answers.choice = UnsavedChoice.SAVE
    window.browser.next_button.click()
    assert "intended label" in window.last_error
    np.testing.assert_array_equal(window.state.edited, edit)
    assert window.state.source.index == 0 and window.browser.index_box.value() == 0


def test_close_with_discard_closes_and_an_unmodified_edit_asks_nothing(
    window: MainWindow,
    answers: Answers,
    qtbot,  # type: ignore[no-untyped-def]
) -> None:
    window.browser.next_button.click()  # nothing edited: no question
    assert answers.asked == [] and window.state.source.index == 1
    paint(window)
    answers.choice = UnsavedChoice.DISCARD
    window.close()
    qtbot.waitUntil(lambda: not window.isVisible(), timeout=3000)
    assert len(answers.asked) == 1


def test_the_draft_follows_the_edit_and_is_removed_once_saved(qtbot, tmp_path: Path, answers: Answers) -> None:  # type: ignore[no-untyped-def]
    drafts = DraftFile(tmp_path / "user" / "editor" / "draft.npz")
    window = open_window(qtbot, tmp_path, answers, drafts=drafts)
    keeper = window.draft_keeper
    assert keeper is not None
    try:
        with qtbot.waitSignal(keeper.sigWritten, timeout=5000) as written:
            edit = paint(window)
        assert written.args == [True]
        draft = drafts.read()
        assert draft is not None and draft.source == window.state.source
        np.testing.assert_array_equal(draft.edited, edit)
        np.testing.assert_array_equal(draft.clean, window.state.original)
        window.set_intended(3)
        with qtbot.waitSignal(keeper.sigWritten, timeout=5000, check_params_cb=lambda kept: not kept):
            window.save_edit()
        assert not drafts.path.exists()
    finally:
        window.shutdown()


CRASHING_EDITOR = textwrap.dedent(
    """
    import sys
    from pathlib import Path

    import torch
    from PyQt6.QtWidgets import QApplication

    import numpy as np
    from editor.state.drafts import DraftFile
    from editor.widgets.guide import GuideImage
    from editor.widgets.window import MainWindow
    from tests.fixtures_editor import digits, isolated_settings, stand_in_source

    folder = Path(sys.argv[1])
    app = QApplication([])
    images, labels = digits(10)
    window = MainWindow(
        images, labels, source=stand_in_source(), settings=isolated_settings(folder), device=torch.device("cpu"),
        collection=folder / "collection", drafts=DraftFile(folder / "draft.npz"),
        guide=lambda original, target, *_: GuideImage(np.zeros((28, 28), np.float32), target, "stand-in"),
    )
    window.show()
    window.browser.choose(3)
    window.state.set_budget("linf", 0.5)
    mask = np.zeros((28, 28), dtype=bool)
    mask[2, 3:12] = True
    window.state.extend_stroke(mask)
    window.state.end_stroke()
    window.state.set_intended_label(8)
    window.draft_keeper.sigWritten.connect(lambda kept: print("draft", kept, flush=True))
    app.exec()
    """
)


def test_a_draft_survives_a_crash_and_is_offered_at_the_next_start(qtbot, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", INVARIANCE_THREADS="1", PYTHONPATH=os.getcwd())
    crashing = subprocess.Popen(
        [sys.executable, "-c", CRASHING_EDITOR, str(tmp_path)], env=env, stdout=subprocess.PIPE, text=True
    )
    watchdog = threading.Timer(120, crashing.kill)  # a child that never writes must not hang the test
    watchdog.start()
    try:
        assert crashing.stdout is not None
        lines = (line.strip() for line in crashing.stdout)
        assert next((line for line in lines if line != "draft False"), "") == "draft True"  # the edit is on disk ...
        crashing.send_signal(signal.SIGKILL)  # ... and the editor dies without a chance to clean up
        assert crashing.wait(timeout=30) == -signal.SIGKILL
    finally:
        watchdog.cancel()
        crashing.kill()
    offered: list[str] = []

    def restore(parent: QWidget, description: str) -> bool:
        offered.append(description)
        return True

    window = open_window(qtbot, tmp_path, Answers(), drafts=DraftFile(tmp_path / "draft.npz"), ask_restore=restore)
    try:
        assert window.offer_draft()
        assert len(offered) == 1 and "test digit #3" in offered[0] and "intended 8" in offered[0]
        state = window.state
        assert state.source.index == 3 and state.intended_label == 8 and (state.norm, state.eps) == ("linf", 0.5)
        assert np.all(state.edited[2, 3:12] == 0.5) and state.modified  # painted to 1, held at ε = 0.5
        assert window.browser.index_box.value() == 3
        window.undo_action.trigger()
        np.testing.assert_array_equal(state.edited, state.original)
    finally:
        window.shutdown()


def test_a_missing_collection_is_refused_unless_create(tmp_path: Path) -> None:
    typo = tmp_path / "colection"
    done = run_editor(tmp_path, "--collection", str(typo), "--screenshot", str(tmp_path / "shot.png"))
    assert done.returncode == 1
    line = done.stderr.strip().splitlines()[-1]
    assert line.startswith("invariance-editor: error: --collection") and "--create" in line and str(typo) in line
    assert not typo.exists() and not (tmp_path / "shot.png").exists()


def test_an_unknown_model_is_refused_with_the_known_names(tmp_path: Path) -> None:
    done = run_editor(tmp_path, "--models", "undefended,no-such-model")
    assert done.returncode == 1
    line = done.stderr.strip().splitlines()[-1]
    assert "no-such-model" in line and "known models:" in line
    from core import zoo

    assert all(name in line for name in zoo.available())


def test_a_draft_left_by_an_earlier_run_waits_for_the_offer(qtbot, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    drafts = DraftFile(tmp_path / "draft.npz")
    earlier = open_window(qtbot, tmp_path, Answers(), drafts=drafts)
    with qtbot.waitSignal(earlier.draft_keeper.sigWritten, timeout=5000, check_params_cb=bool):  # type: ignore[union-attr]
        paint(earlier)
    left = drafts.path.read_bytes()  # the earlier run stays open with its edit: as if it had crashed
    later = open_window(qtbot, tmp_path / "later", Answers(), drafts=drafts)
    try:
        with qtbot.waitSignal(later.draft_keeper.sigWritten, timeout=5000):  # type: ignore[union-attr]
            later.browser.next_button.click()  # nothing unsaved in this run ...
        assert drafts.path.read_bytes() == left  # ... and the earlier run's draft is still there
        asked: list[str] = []

        def discard(parent: QWidget, description: str) -> bool:
            asked.append(description)
            return False

        later.ask_restore = discard
        assert not later.offer_draft() and len(asked) == 1 and not drafts.path.exists()  # Discard deletes it
    finally:
        later.shutdown()
        earlier.shutdown()
