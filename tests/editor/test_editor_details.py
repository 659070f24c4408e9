"""Editor details that make work visible: busy progress bars, hints that end with their action, the ℓ0 check's
reason, model names that fit. pytest-qt, offscreen."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
import torch

from editor.widgets.models import MAX_NAME_CHARS, short_name
from editor.widgets.suggestions import IDLE_MESSAGE, Proposal
from editor.widgets.window import MainWindow
from editor.workers.tasks import ProgressCallback
from tests.editor.test_unsaved_edits import Answers, open_window


@pytest.fixture
def window(qtbot, tmp_path: Path) -> Iterator[MainWindow]:  # type: ignore[no-untyped-def]
    win = open_window(qtbot, tmp_path, Answers())
    yield win
    win.shutdown()


def test_a_running_search_shows_a_busy_bar_then_its_fraction_and_no_zero_percent_when_idle(
    window: MainWindow,
    qtbot,  # type: ignore[no-untyped-def]
) -> None:
    panel = window.suggestions
    bar = panel.progress
    assert bar.format() == ""  # idle: no frozen "0%"
    reported = threading.Event()
    go_on = threading.Event()

    def search(
        image: np.ndarray, label: int, norm: str, eps: float | None, k: int, seed: int,
        device: torch.device, progress: ProgressCallback, cancelled: Callable[[], bool],
    ) -> list[Proposal]:  # fmt: skip
        progress(0.0, "building the bank")
        go_on.wait(10)
        progress(0.5, "searching")
        reported.set()
        while not cancelled():
            threading.Event().wait(0.005)
        return []

    panel.suggest = search
    panel.start()
    assert bar.maximum() == 0  # busy from the start, before any fraction
    qtbot.waitUntil(lambda: panel.message.text() == "Building the bank…", timeout=5000)
    assert bar.maximum() == 0
    go_on.set()
    qtbot.waitUntil(lambda: bar.value() == 50, timeout=5000)
    assert bar.maximum() == 100 and bar.text() == "50%"
    with qtbot.waitSignal(panel.task.sigCancelled, timeout=5000):  # type: ignore[union-attr]
        panel.cancel()
    assert bar.format() == "" and bar.value() == 0


def test_suggestions_and_their_hint_go_with_their_digit(window: MainWindow, qtbot) -> None:  # type: ignore[no-untyped-def]
    panel = window.suggestions
    with qtbot.waitSignal(panel.sigFinished, timeout=5000):
        panel.start()
    assert "click one" in panel.message.text()
    window.browser.next_button.click()
    assert panel.list.count() == 0 and panel.message.text() == IDLE_MESSAGE


def test_the_saving_hint_ends_when_the_save_fails(window: MainWindow, qtbot) -> None:  # type: ignore[no-untyped-def]
    window.set_intended(2)
    assert window.save_edit()
    assert window.statusBar().currentMessage().startswith("Saving")  # type: ignore[union-attr]
    window.saver.close()  # type: ignore[union-attr]  # the collection goes away while the models predict
    qtbot.waitUntil(lambda: not window._saving, timeout=5000)
    message = window.statusBar().currentMessage()  # type: ignore[union-attr]
    assert message.startswith("⚠ not saved") and "Saving" not in message


def test_the_l0_check_says_why_it_is_off(window: MainWindow) -> None:
    check = window.sensitivity
    window.state.set_budget("l0", 10)
    assert not check.run_button.isEnabled()
    assert "ℓ0" in check.run_button.toolTip() and "ℓ0" in check.summary.text() and "off" in check.summary.text()
    window.state.set_budget("linf", 0.3)
    assert check.run_button.isEnabled() and "off" not in check.summary.text()


def test_long_model_names_are_shortened_with_the_whole_name_in_the_tooltip() -> None:
    long = "my-user-model-with-a-rather-long-name"
    short = short_name(long)
    assert len(short) == MAX_NAME_CHARS and short.startswith("my-user-mo") and short.endswith("long-name")
    assert short_name("undefended") == "undefended"
