"""The editor as a crafting instrument: large canvas, compact model table, target guide, sensitivity
check, collection navigation and the platform-plugin error line. pytest-qt, offscreen."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
from PyQt6.QtCore import Qt
from torch import nn

from core import budget, zoo
from core.certify import certified
from core.data import load_mnist
from core.geninv.bank import default_bank
from core.geninv.guide import aligned_target
from core.images import to_float
from editor.state.sources import StaticSource, ZooSource
from editor.state.tools import Tool
from editor.widgets.guide import GuideImage
from editor.widgets.window import MainWindow
from tests.fixtures_editor import (
    answer_discard,
    drag,
    isolated_settings,
    linear_model,
    make_collection,
    run_editor,
    stand_in_entry,
)

CPU = torch.device("cpu")
GUIDE_POOL = 10_000
"""Training digits in the guide's bank for these tests (the app uses the whole bank; this keeps them quick)."""
MAX_GUIDE_DRAGS = 10
"""Row sweeps of a size-3 "toward target" brush: 10 cover all 28 rows."""


def small_bank_guide(original: np.ndarray, target: int, norm: str, eps: float, device: torch.device) -> GuideImage:
    """The app's guide (GenInv's bank and alignment) on the first ``GUIDE_POOL`` training digits."""
    found = aligned_target(original, target, norm, eps, bank=default_bank(device, pool_size=GUIDE_POOL))
    return GuideImage(found.image, found.target, f"MNIST train #{found.train_index}")


def open_window(qtbot, tmp_path: Path, source, *, index: int, eps: float, size=(1280, 800), **kwargs) -> MainWindow:  # type: ignore[no-untyped-def]
    images, labels = load_mnist("test")
    settings = isolated_settings(tmp_path)
    settings.norm = "linf"
    settings.set_eps("linf", eps)
    settings.index = index
    window = MainWindow(
        images, labels, source=source, settings=settings, device=CPU, guide=small_bank_guide,
        ask_unsaved=answer_discard, **kwargs,
    )  # fmt: skip
    qtbot.addWidget(window)
    window.resize(*size)
    window.show()
    qtbot.waitExposed(window)
    qtbot.waitUntil(window.model_panel.up_to_date, timeout=20_000)
    return window


def need_checkpoints(*names: str) -> None:
    missing = [name for name in names if name not in zoo.available()]
    if missing:
        pytest.skip(f"checkpoints missing: {', '.join(missing)}")


# ------------------------------------------------------------------------------------------------ layout
@pytest.fixture
def sixteen_models(qtbot, tmp_path: Path) -> Iterator[MainWindow]:  # type: ignore[no-untyped-def]
    table = {}
    for k in range(16):
        name = f"model-{k:02d}-{'linf' if k % 2 else 'plain'}"
        info = stand_in_entry(name, "test", "linf" if k % 2 else None, 0.3 if k % 2 else None, certified=k % 4 == 1)
        table[name] = (info, linear_model(k))
    window = open_window(qtbot, tmp_path, StaticSource(table, certifier=certified), index=0, eps=0.3)
    yield window
    window.shutdown()


def test_sixteen_models_fit_without_a_scroll_bar_and_the_canvas_is_largest(sixteen_models: MainWindow, qtbot) -> None:  # type: ignore[no-untyped-def]
    window = sixteen_models
    assert (window.width(), window.height()) == (1280, 800)
    panel, scroll = window.model_panel, window.models_scroll
    assert len(panel.rows) == 16
    bar = scroll.verticalScrollBar()
    assert bar is not None and not bar.isVisible()
    viewport = scroll.viewport()
    assert viewport is not None
    right_edge = viewport.mapToGlobal(viewport.rect().bottomRight())
    columns: dict[int, set[int]] = {}
    for row in panel.rows.values():
        for column, cell in enumerate(row.cells):
            assert cell.isVisible()
            corner = cell.mapToGlobal(cell.rect().bottomRight())
            assert corner.x() <= right_edge.x() and corner.y() <= right_edge.y(), f"{row.info.name} column {column}"
            columns.setdefault(column, set()).add(cell.mapToGlobal(cell.rect().topLeft()).x())
    assert all(len(lefts) == 1 for lefts in columns.values())  # aligned from row to row
    assert window.canvas.pixels_per_cell() >= 16
    edited = window.canvas.edited_view
    for smaller in (window.canvas.original_view, window.canvas.difference_view):
        assert smaller.width() * smaller.height() < edited.width() * edited.height() / 4
    window.resize(1366, 768)
    qtbot.waitUntil(lambda: window.width() == 1366)
    assert not bar.isVisible()
    window.resize(1600, 1000)  # the canvas scales with the window
    qtbot.waitUntil(lambda: window.canvas.pixels_per_cell() > 18, timeout=2000)


def test_table_shows_top_three_agreement_certificates_and_origin(sixteen_models: MainWindow, qtbot) -> None:  # type: ignore[no-untyped-def]
    window = sixteen_models
    row = window.model_panel.rows["model-01-linf"]
    assert row.probabilities is not None
    top = np.argsort(-row.probabilities)[:3]
    assert row.top.text().split()[::2] == [str(int(k)) for k in top]
    assert ">zoo<" in row.origin.text()
    window.set_intended(int(top[0]))
    assert "✓" in row.mark.text()
    drag(window.canvas, [(5, 3), (5, 20)])  # the edit's certificate follows every stroke
    qtbot.waitUntil(window.model_panel.up_to_date, timeout=5000)
    x = torch.from_numpy(window.state.edited)[None, None]
    expected = bool(certified(linear_model(1), x, linear_model(1)(x).argmax(1), 0.3)[0])
    assert ("✓" in row.edit_certificate.text()) == expected and "0.3" in row.edit_certificate.text()
    assert window.model_panel.rows["model-00-plain"].edit_certificate.text() == ""


def test_zoom_and_brush_keys(sixteen_models: MainWindow, qtbot) -> None:  # type: ignore[no-untyped-def]
    window = sixteen_models
    window.activateWindow()
    before = window.canvas.pixels_per_cell()
    qtbot.keyClick(window, Qt.Key.Key_Plus)
    assert window.canvas.pixels_per_cell() > 1.4 * before
    qtbot.keyClick(window, Qt.Key.Key_Minus)
    assert window.canvas.pixels_per_cell() == pytest.approx(before, rel=0.02)
    qtbot.keyClick(window, Qt.Key.Key_BracketRight)
    qtbot.keyClick(window, Qt.Key.Key_BracketRight)
    qtbot.keyClick(window, Qt.Key.Key_BracketLeft)
    assert window.state.brush_size == 2
    qtbot.keyClick(window, Qt.Key.Key_T)
    assert window.state.tool is Tool.TOWARD


# ------------------------------------------------------------------------------------------------- guide
def test_the_guide_brush_alone_makes_an_invariance_edit_the_undefended_model_follows(qtbot, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    need_checkpoints("undefended")
    index, target, eps = 4, 9, 0.4  # test digit 4 is a 4; 4 -> 9 closes the top
    window = open_window(qtbot, tmp_path, ZooSource(), index=index, eps=eps, models=["undefended"])
    try:
        row = window.model_panel.rows["undefended"]
        assert window.state.original_label == 4 and row.predicted == 4
        window.set_intended(target)  # the intended label is the guide's target
        qtbot.waitUntil(lambda: window.state.guide is not None, timeout=60_000)
        assert window.state.guide_target == target
        window.state.set_tool(Tool.TOWARD)
        window.state.set_brush_size(3)
        window.state.set_value(1.0)
        original = window.state.original

        def within_budget() -> None:
            assert budget.distance(original, window.state.edited, "linf") <= eps + 1e-6

        drags = 0
        for top in range(1, 28, 3):
            drags += 1
            drag(window.canvas, [(top, 0), (top, 27)], after_each=within_budget)
            qtbot.waitUntil(window.model_panel.up_to_date, timeout=10_000)
            if row.predicted == target:
                break
        assert row.predicted == target, f"undefended still says {row.predicted} after {drags} drags"
        assert drags <= MAX_GUIDE_DRAGS
        assert "✓" in row.mark.text()
        assert not np.array_equal(window.state.edited, original)
    finally:
        window.shutdown()


def test_the_guide_overlay_toggles_and_clears_without_a_target(qtbot, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    source = StaticSource({"tiny": (stand_in_entry("tiny"), linear_model(1))})
    window = open_window(qtbot, tmp_path, source, index=0, eps=0.3)
    try:
        plain = window.canvas.paint_item.pixels.copy()
        window.set_intended(3)
        qtbot.waitUntil(lambda: window.state.guide is not None, timeout=60_000)
        shown = window.canvas.paint_item.pixels.copy()
        assert not np.array_equal(plain, shown)  # translucent cyan over the edit
        assert (shown[..., 2] >= plain[..., 2]).all()
        window.activateWindow()
        qtbot.keyClick(window, Qt.Key.Key_G)
        assert not window.state.guide_visible
        np.testing.assert_array_equal(window.canvas.paint_item.pixels, plain)
        window.set_intended(window.state.original_label)  # no target: no guide
        assert window.state.guide is None
    finally:
        window.shutdown()


# ------------------------------------------------------------------------------------------- sensitivity
def test_the_sensitivity_check_flips_undefended_and_not_a_certified_digit_of_ibp(qtbot, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    need_checkpoints("undefended", "ibp-0.4")
    index, eps = 0, 0.4
    images, labels = load_mnist("test")
    ibp = zoo.load("ibp-0.4", device="cpu").eval()
    x = torch.from_numpy(to_float(images[index]))[None, None]
    assert bool(certified(ibp, x, torch.tensor([int(labels[index])]), eps)[0])  # precondition: certified digit
    window = open_window(qtbot, tmp_path, ZooSource(), index=index, eps=eps, models=["undefended", "ibp-0.4"])
    try:
        assert "✓" in window.model_panel.rows["ibp-0.4"].edit_certificate.text()
        with qtbot.waitSignal(window.sensitivity.sigFinished, timeout=60_000) as finished:
            window.sensitivity.start()
        outcome = finished.args[0]
        undefended, robust = outcome.flips["undefended"], outcome.flips["ibp-0.4"]
        assert undefended.flipped and undefended.to_label != labels[index]
        assert budget.distance(window.state.edited, undefended.adversarial, "linf") <= eps + 1e-6
        assert not robust.flipped and robust.to_label == labels[index]
        rows = window.model_panel.rows
        assert rows["undefended"].flip.text().endswith(f"→{undefended.to_label}</span>")
        assert "holds" in rows["ibp-0.4"].flip.text()
        assert "1 of 2 models can be flipped" in window.sensitivity.summary.text()
    finally:
        window.shutdown()


class GatedModel(nn.Module):
    """A linear stand-in whose forward pass waits until ``gate`` is open (to cancel a check mid-way)."""

    def __init__(self, seed: int, gate: threading.Event) -> None:
        super().__init__()
        self.inner = linear_model(seed)
        self.gate = gate

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.gate.wait(30)
        return self.inner(x)


def test_the_sensitivity_check_can_be_cancelled_and_refuses_l0(qtbot, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    gate = threading.Event()
    gate.set()
    source = StaticSource({f"m{k}": (stand_in_entry(f"m{k}"), GatedModel(k, gate)) for k in range(3)})
    window = open_window(qtbot, tmp_path, source, index=0, eps=0.3)
    try:
        gate.clear()  # the first attacked model now waits
        window.sensitivity.start()
        task = window.sensitivity.task
        assert task is not None and window.sensitivity.running
        with qtbot.waitSignal(task.sigCancelled, timeout=30_000):
            window.sensitivity.cancel()
            gate.set()
        assert not window.sensitivity.running and "cancelled" in window.sensitivity.summary.text()
        assert window.model_panel.flips == {}
        window.state.set_budget("l0", 5)
        assert not window.sensitivity.run_button.isEnabled()
        window.sensitivity.start()
        assert "l0" in window.last_error and not window.sensitivity.running
    finally:
        gate.set()
        window.shutdown()


# -------------------------------------------------------------------------------------------- collection
def test_page_keys_move_through_the_collection(qtbot, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    ids = make_collection(tmp_path / "c", 3)
    source = StaticSource({"tiny": (stand_in_entry("tiny"), linear_model(1))})
    window = open_window(qtbot, tmp_path, source, index=0, eps=0.3, collection=tmp_path / "c")
    try:
        assert window.open_item(None) and window.state.source.detail == ids[0]
        window.activateWindow()
        qtbot.keyClick(window, Qt.Key.Key_PageDown)
        assert window.state.source.detail == ids[1] and window.state.source.index == 21
        assert window.browser.index_box.value() == 21  # the digit browser shows where the item came from
        qtbot.keyClick(window, Qt.Key.Key_PageUp)
        qtbot.keyClick(window, Qt.Key.Key_PageUp)
        assert window.state.source.detail == ids[2]  # wraps around
        assert (window.state.norm, window.state.eps) == ("l0", 60.0)
    finally:
        window.shutdown()


ONE_MODEL = ("--models", "undefended")


def test_collection_option_opens_the_first_item_and_remembers_an_absolute_path(tmp_path: Path) -> None:
    need_checkpoints("undefended")
    ids = make_collection(tmp_path / "c", 2)
    done = run_editor(
        tmp_path, "--models", "undefended", "--collection", "c", "--screenshot", "first.png"
    )  # relative, from cwd
    assert done.returncode == 0, done.stderr
    assert f"collection item {ids[0][:8]}" in done.stdout
    settings = (tmp_path / "config" / "InvarianceLab" / "Editor.conf").read_text()
    assert f"path={tmp_path / 'c'}" in settings


def test_item_option_opens_that_item_and_an_unknown_one_is_an_error(tmp_path: Path) -> None:
    need_checkpoints("undefended")
    ids = make_collection(tmp_path / "c", 2)
    done = run_editor(
        tmp_path,
        "--models",
        "undefended",
        "--collection",
        str(tmp_path / "c"),
        "--item",
        ids[1][:8],
        "--screenshot",
        "b.png",
    )
    assert done.returncode == 0, done.stderr
    assert f"collection item {ids[1][:8]}" in done.stdout
    done = run_editor(
        tmp_path, "--models", "undefended", "--collection", "c", "--item", "nothere", "--screenshot", "c.png"
    )
    assert done.returncode == 1 and "nothere" in done.stderr.strip().splitlines()[-1]
    assert not (tmp_path / "c.png").exists()


# --------------------------------------------------------------------------------------------- start-up
@pytest.mark.parametrize(("width", "height"), [(1280, 800), (1366, 768)])
def test_the_first_window_fits_the_screen(tmp_path: Path, width: int, height: int) -> None:
    need_checkpoints("undefended")
    screen = {"name": "s", "x": 0, "y": 0, "width": width, "height": height, "logicalDpi": 96, "dpr": 1}
    (tmp_path / "screen.json").write_text(json.dumps({"windowFrameMargins": False, "screens": [screen]}))
    env = dict(
        os.environ,
        QT_QPA_PLATFORM=f"offscreen:configfile={tmp_path / 'screen.json'}",
        XDG_CONFIG_HOME=str(tmp_path / "config"),
        INVARIANCE_THREADS="1",
    )
    command = [sys.executable, "-c", "from editor.app import run; run()", "--device", "cpu", "--models", "undefended"]
    done = subprocess.run(
        [*command, "--screenshot", str(tmp_path / "w.png")], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    from PyQt6.QtGui import QImage

    shot = QImage(str(tmp_path / "w.png"))
    assert (shot.width(), shot.height()) == (width, height)  # the preferred 1400×860, shrunk to the screen


def test_a_platform_plugin_that_cannot_load_gives_one_line_with_the_packages(tmp_path: Path) -> None:
    env = dict(os.environ, QT_QPA_PLATFORM="nonexistent-plugin", XDG_CONFIG_HOME=str(tmp_path / "config"))
    command = [sys.executable, "-c", "from editor.app import run; run()", "--index", "3"]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 3
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    line = lines[0]
    assert line.startswith("invariance-editor: error: Qt cannot load its platform plugin 'nonexistent-plugin'")
    assert "sudo apt install libxcb-" in line and "sudo dnf install xcb-util-" in line
