"""Make the editor screenshots of the "nothing lost" dialogs and details with the real window and zoo models.

Usage (offscreen works): ``QT_QPA_PLATFORM=offscreen python docs/make_editor_dialogs.py OUT_FOLDER``

Writes ``editor-unsaved-dialog.png`` (an unsaved edit, then Next: the "Unsaved changes" question over the window),
``editor-restore-draft.png`` (the question at start after a crash) and ``editor-l0-busy.png`` (an ℓ0 budget:
the sensitivity check says why it is off, while a suggestion search shows its busy bar).
"""

from __future__ import annotations

import sys
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyqtgraph as pg
import torch
from PyQt6.QtCore import QEventLoop, QPoint, QSettings, QTimer
from PyQt6.QtGui import QPainter, QPixmap
from PyQt6.QtWidgets import QApplication, QWidget

from core.data import load_mnist
from editor.runtime import configure_runtime
from editor.settings import EditorSettings
from editor.state.drafts import Draft
from editor.state.sources import ZooSource
from editor.widgets.suggestions import Proposal
from editor.widgets.window import MainWindow, restore_draft_dialog, unsaved_dialog
from editor.workers.tasks import ProgressCallback


def wait_for(condition: Callable[[], bool], timeout_ms: int = 60_000) -> None:
    """Run the event loop until ``condition()`` holds (checked every 20 ms) or the timeout passes."""
    loop = QEventLoop()
    timer = QTimer()
    timer.timeout.connect(lambda: loop.quit() if condition() else None)
    timer.start(20)
    QTimer.singleShot(timeout_ms, loop.quit)
    loop.exec()
    timer.stop()


def over_window(window: MainWindow, dialog: QWidget, path: Path) -> None:
    """The window with ``dialog`` drawn centred over it, as the user sees a modal question."""
    dialog.show()
    wait_for(lambda: dialog.isVisible(), 2000)
    shot = window.grab()
    box = dialog.grab()
    painter = QPainter(shot)
    try:
        painter.drawPixmap(QPoint((shot.width() - box.width()) // 2, (shot.height() - box.height()) // 3), box)
    finally:
        painter.end()
    save(shot, path)
    dialog.close()


def save(shot: QPixmap, path: Path) -> None:
    if not shot.save(str(path)):
        raise SystemExit(f"cannot write {path}")
    print(f"wrote {path}")


def main(out: Path) -> None:
    pg.setConfigOptions(imageAxisOrder="row-major", antialias=False)
    configure_runtime()
    app = QApplication.instance() or QApplication(sys.argv[:1])
    images, labels = load_mnist("test")
    release = threading.Event()

    def held_search(
        image: np.ndarray, label: int, norm: str, eps: float | None, k: int, seed: int,
        device: torch.device, progress: ProgressCallback, cancelled: Callable[[], bool],
    ) -> list[Proposal]:  # fmt: skip
        progress(0.0, "searching (the first search also builds the candidate bank)")
        while not release.wait(0.02) and not cancelled():
            pass
        return []

    with tempfile.TemporaryDirectory() as scratch:
        settings = EditorSettings(QSettings(str(Path(scratch) / "shots.ini"), QSettings.Format.IniFormat))
        settings.norm, settings.index = "linf", 4
        settings.set_eps("linf", 0.3)
        window = MainWindow(
            images, labels, source=ZooSource(), settings=settings, device=torch.device("cpu"),
            collection=Path(scratch) / "collection", suggest=held_search,
        )  # fmt: skip
        window.resize(1280, 800)
        window.show()
        wait_for(window.model_panel.up_to_date)
        mask = np.zeros((28, 28), dtype=bool)
        mask[3:6, 8:20] = True
        window.state.begin_stroke()
        window.state.extend_stroke(mask)
        window.state.end_stroke()
        window.set_intended(9)
        wait_for(window.model_panel.up_to_date)
        over_window(
            window, unsaved_dialog(window, "test digit #4", "opening test digit #5"), out / "editor-unsaved-dialog.png"
        )
        over_window(
            window, restore_draft_dialog(window, Draft.of(window.state).describe()), out / "editor-restore-draft.png"
        )

        window.state.discard_changes()
        window.state.choose_norm("l0")
        window.suggestions.start()
        wait_for(lambda: window.suggestions.progress.maximum() == 0, 5000)
        wait_for(window.model_panel.up_to_date)
        save(window.grab(), out / "editor-l0-busy.png")
        release.set()
        wait_for(lambda: not window.suggestions.running, 5000)
        window.shutdown()
    app.processEvents()


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    main(Path(sys.argv[1]))
