"""Make the README's crafting example with the real window: the guide brush, real mouse drags, then Save.

Usage (on a real X server, e.g. ``xvfb-run -s "-screen 0 1280x800x24"``):
    python docs/make_crafting_example.py COLLECTION INDEX TARGET EPS

Opens MNIST test digit INDEX at ℓ∞ EPS with every zoo model, clicks the intended-label button TARGET (which asks
for the target guide), picks the Toward tool at size 3 and drags it across rows from the top until the undefended
model predicts TARGET, checking the budget after every drag, then clicks "Save edit" into COLLECTION.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path

import pyqtgraph as pg
import torch
from PyQt6.QtCore import QEvent, QEventLoop, QPointF, QSettings, Qt
from PyQt6.QtGui import QMouseEvent
from PyQt6.QtWidgets import QApplication

from core import budget
from core.data import load_mnist
from editor.runtime import configure_runtime
from editor.settings import EditorSettings
from editor.state.sources import ZooSource
from editor.state.tools import Tool
from editor.widgets.canvas import DigitCanvas
from editor.widgets.window import MainWindow


def send(canvas: DigitCanvas, kind: QEvent.Type, row: int, col: int) -> None:
    """One real mouse event on the edited view at the centre of pixel (row, col), left button held."""
    viewport = canvas.edited_view.viewport()
    assert viewport is not None
    point = QPointF(canvas.cell_center(row, col))
    left, none = Qt.MouseButton.LeftButton, Qt.MouseButton.NoButton
    button = none if kind == QEvent.Type.MouseMove else left
    buttons = none if kind == QEvent.Type.MouseButtonRelease else left
    event = QMouseEvent(kind, point, viewport.mapToGlobal(point), button, buttons, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(viewport, event)


def main() -> int:
    collection = Path(sys.argv[1]).resolve()
    index, target, eps = int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
    pg.setConfigOptions(imageAxisOrder="row-major", antialias=False)
    configure_runtime()
    app = QApplication(sys.argv[:1])
    images, labels = load_mnist("test")
    settings = EditorSettings(QSettings(str(collection.parent / "demo.ini"), QSettings.Format.IniFormat))
    settings.norm = "linf"
    settings.set_eps("linf", eps)
    settings.index = index
    window = MainWindow(
        images, labels, source=ZooSource(), settings=settings, device=torch.device("cpu"), collection=collection
    )
    window.show()

    def wait(condition: Callable[[], bool], seconds: float = 120) -> bool:
        end = time.monotonic() + seconds
        while not condition() and time.monotonic() < end:
            app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 50)
        return condition()

    assert wait(window.model_panel.up_to_date)
    print(f"window {window.width()}×{window.height()} on platform {app.platformName()}")
    window.label_buttons[target].click()  # the intended label is the guide's target
    assert wait(lambda: window.state.guide is not None), "no guide"
    window.tool_panel.buttons[Tool.TOWARD].click()
    window.tool_panel.size_box.setValue(3)
    row = window.model_panel.rows["undefended"]
    drags = 0
    for top in range(1, 28, 3):
        drags += 1
        send(window.canvas, QEvent.Type.MouseButtonPress, top, 0)
        for col in range(1, 28):
            send(window.canvas, QEvent.Type.MouseMove, top, col)
        send(window.canvas, QEvent.Type.MouseButtonRelease, top, 27)
        assert budget.distance(window.state.original, window.state.edited, "linf") <= eps + 1e-6
        wait(window.model_panel.up_to_date)
        if row.predicted == target:
            break
    print(f"{drags} drag(s); predictions: {window.model_panel.predicted_labels()}")
    saved: list[str] = []
    window.sigSaved.connect(saved.append)
    window.save_button.click()
    assert wait(lambda: bool(saved)), window.last_error
    print(f"saved item {saved[0]} to {collection}")
    window.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
