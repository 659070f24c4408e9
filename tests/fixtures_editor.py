"""Helpers for the editor tests: ten real test digits, tiny stand-in models, isolated settings, mouse events."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import torch
from PyQt6.QtCore import QEvent, QPointF, QSettings, Qt
from PyQt6.QtGui import QMouseEvent
from PyQt6.QtWidgets import QApplication
from torch import nn

from core.collection import Collection
from core.data import load_mnist
from core.errors import ModelError
from core.images import to_float
from core.zoo import ZooEntry
from editor.settings import EditorSettings
from editor.state.sources import StaticSource
from editor.widgets.canvas import DigitCanvas
from editor.widgets.window import UnsavedChoice


def digits(count: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """The first ``count`` MNIST test digits: uint8 (count, 28, 28), int64 (count,)."""
    images, labels = load_mnist("test")
    return images[:count].copy(), labels[:count].copy()


def linear_model(seed: int) -> nn.Sequential:
    """A tiny deterministic (N, 1, 28, 28) -> (N, 10) network (certifiable by IBP: Flatten + Linear)."""
    generator = torch.Generator().manual_seed(seed)
    layer = nn.Linear(784, 10)
    with torch.no_grad():
        layer.weight.copy_(torch.randn(10, 784, generator=generator) * 0.05)
        layer.bias.copy_(torch.randn(10, generator=generator) * 0.1)
    return nn.Sequential(nn.Flatten(), layer).eval()


def stand_in_entry(
    name: str,
    family: str = "test",
    norm: str | None = None,
    eps: float | None = None,
    *,
    certified: bool = False,
    slow: bool = False,
    description: str = "",
) -> ZooEntry:
    """What the editor shows about a stand-in model: a zoo entry with no architecture or recipe of its own."""
    return ZooEntry(
        name, family, description, "stand-in", "stand-in", norm=norm, eps=eps, certified=certified, slow=slow
    )


class BrokenSource(StaticSource):
    """A StaticSource in which the model called "broken" fails to load like a corrupt checkpoint."""

    def load(self, name: str, device: torch.device) -> nn.Module:
        if name == "broken":
            raise ModelError("checkpoints/broken.safetensors: corrupt checkpoint (stand-in)")
        return super().load(name, device)


def stand_in_source(*, slow: bool = False, certified: bool = False, broken: bool = False) -> StaticSource:
    """Two fast linear models, optionally a slow one, a certified one (real IBP) and one that fails to load."""
    from core.certify import certified as ibp_certified

    models: dict[str, tuple[ZooEntry, nn.Module]] = {
        "tiny-a": (stand_in_entry("tiny-a", "test", description="stand-in A"), linear_model(1)),
        "tiny-b": (stand_in_entry("tiny-b", "test", "linf", 0.3, description="stand-in B"), linear_model(2)),
    }
    if slow:
        models["tiny-slow"] = (stand_in_entry("tiny-slow", "test", slow=True), linear_model(3))
    if certified:
        models["tiny-cert"] = (stand_in_entry("tiny-cert", "test", "linf", 0.1, certified=True), linear_model(4))
    if broken:
        models["broken"] = (stand_in_entry("broken", "test"), linear_model(5))
    return BrokenSource(models, certifier=ibp_certified)


def answer_discard(parent: object, where: str, action: str) -> UnsavedChoice:
    """The window's ``ask_unsaved`` for tests about other things: an unsaved edit is discarded without a dialog
    (pytest-qt closes windows before fixtures end, and a modal dialog would wait forever offscreen)."""
    return UnsavedChoice.DISCARD


def isolated_settings(folder: Path) -> EditorSettings:
    """Settings in an INI file under ``folder`` (never the user's real settings)."""
    return EditorSettings(QSettings(str(folder / "editor.ini"), QSettings.Format.IniFormat))


def probabilities(model: nn.Module, image: np.ndarray) -> np.ndarray:
    """Softmax (10,) of ``model`` on float (28, 28) ``image``, computed directly (the expected value)."""
    with torch.no_grad():
        logits = model(torch.from_numpy(np.asarray(image, dtype=np.float32))[None, None])
    return torch.softmax(logits, dim=1)[0].numpy()


def send_mouse(canvas: DigitCanvas, kind: QEvent.Type, row: int, col: int, pressed: bool) -> None:
    """Deliver one real QMouseEvent to the edited view's viewport at the centre of pixel (row, col)."""
    viewport = canvas.edited_view.viewport()
    assert viewport is not None
    point = QPointF(canvas.cell_center(row, col))
    left = Qt.MouseButton.LeftButton
    no = Qt.MouseButton.NoButton
    if kind == QEvent.Type.MouseButtonPress:
        button, buttons = left, left
    elif kind == QEvent.Type.MouseButtonRelease:
        button, buttons = left, no
    else:
        button, buttons = no, (left if pressed else no)
    event = QMouseEvent(kind, point, viewport.mapToGlobal(point), button, buttons, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(viewport, event)


def drag(canvas: DigitCanvas, cells: list[tuple[int, int]], after_each=None) -> None:  # type: ignore[no-untyped-def]
    """Press on ``cells[0]``, move through the rest with the button held, release on the last cell."""
    send_mouse(canvas, QEvent.Type.MouseButtonPress, *cells[0], pressed=True)
    if after_each is not None:
        after_each()
    for row, col in cells[1:]:
        send_mouse(canvas, QEvent.Type.MouseMove, row, col, pressed=True)
        if after_each is not None:
            after_each()
    send_mouse(canvas, QEvent.Type.MouseButtonRelease, *cells[-1], pressed=False)


def run_editor(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``invariance-editor --device cpu ARGS`` in a subprocess, offscreen, with config and data under ``tmp_path``."""
    env = dict(
        os.environ,
        QT_QPA_PLATFORM="offscreen",
        XDG_CONFIG_HOME=str(tmp_path / "config"),
        XDG_DATA_HOME=str(tmp_path / "data"),
        INVARIANCE_THREADS="1",
    )
    command = [sys.executable, "-c", "from editor.app import run; run()", "--device", "cpu", *args]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=120, check=False, cwd=tmp_path)


def make_collection(path: Path, count: int) -> list[str]:
    """A collection at ``path`` of ``count`` ℓ0 edits of test digits 20, 21, … (a bar painted in); their ids."""
    images, labels = load_mnist("test")
    ids = []
    with Collection.create(path, "c") as collection:
        for k in range(count):
            index = 20 + k
            edited = images[index].copy()
            edited[3:6, 5:20] = 255
            item = collection.add(
                edited, original=to_float(images[index]), source_split="test", source_index=index,
                original_label=int(labels[index]), intended_label=(int(labels[index]) + 1) % 10, norm="l0", eps=60.0,
            )  # fmt: skip
            ids.append(item.id)
    return ids


def show_window(qtbot, window):  # type: ignore[no-untyped-def]
    """Show ``window`` at the tests' size and wait until every model has predicted on the first digit."""
    qtbot.addWidget(window)
    window.resize(1300, 820)
    window.show()
    qtbot.waitExposed(window)
    qtbot.waitUntil(window.model_panel.up_to_date, timeout=10_000)
    return window
