"""Study mode and report panel driven end to end with qtbot: label, pause, resume, answers file, report."""

from __future__ import annotations

import csv
import threading
from pathlib import Path

import pyqtgraph as pg
import pytest
import torch
from PyQt6.QtCore import Qt
from torch import nn

from core.data import load_mnist
from core.errors import ModelError
from core.study.answers import read_answers
from core.study.ingest import ingest
from core.study.sets import load_items
from core.zoo.registry import ZooEntry
from editor.widgets.reports import ReportPanel
from editor.widgets.study import StudyWidget
from tests.fixtures_study import LookupModel, make_collection

INDICES = [10, 11, 12]  # test labels 0, 6, 9
LABELS = load_mnist("test")[1]


class FakeClock:
    def __init__(self) -> None:
        self.now = 0

    def __call__(self) -> int:
        self.now += 250_000_000  # every reading is 250 ms after the previous one
        return self.now


@pytest.fixture
def collection(tmp_path: Path) -> Path:
    path = tmp_path / "set"
    make_collection(path, INDICES, set_name="manual-linf")
    return path


def start(qtbot, widget: StudyWidget, rater: str) -> None:  # type: ignore[no-untyped-def]
    qtbot.keyClicks(widget.rater_edit, rater)
    assert widget.start_button.isEnabled()
    qtbot.mouseClick(widget.start_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: widget.stack.currentIndex() == 1, timeout=10_000)


def press_answer(qtbot, widget: StudyWidget, item_key: Qt.Key) -> None:  # type: ignore[no-untyped-def]
    """Items get ``item_key``; clean digits their true label."""
    trial = widget.session.current  # type: ignore[union-attr]
    assert trial is not None
    key = getattr(Qt.Key, f"Key_{LABELS[trial.ref.clean_index]}") if trial.ref.is_clean else item_key
    qtbot.keyClick(widget, key)


def test_rater_labels_a_mixed_set_and_the_report_reflects_it(qtbot, collection: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    answers_dir = tmp_path / "answers"
    widget = StudyWidget([collection], answers_dir, seed=5, image_size=140, clock=FakeClock())
    qtbot.addWidget(widget)
    widget.show()
    assert not widget.start_button.isEnabled()  # no name yet
    start(qtbot, widget, "Ada")
    assert widget.session is not None and widget.session.n_total == 6
    assert widget.image_label.pixmap().width() == 140  # type: ignore[union-attr]

    press_answer(qtbot, widget, Qt.Key.Key_8)
    assert widget.session.n_answered == 1 and widget.progress_bar.value() == 1
    # pause: keys are ignored and the image is hidden until resumed
    qtbot.keyClick(widget, Qt.Key.Key_P)
    assert widget.paused and not widget.image_label.isVisible()
    qtbot.keyClick(widget, Qt.Key.Key_3)
    assert widget.session.n_answered == 1
    qtbot.mouseClick(widget.pause_button, Qt.MouseButton.LeftButton)
    assert not widget.paused and widget.image_label.isVisible()
    for _ in range(4):
        press_answer(qtbot, widget, Qt.Key.Key_8)
    last = widget.session.current
    assert last is not None
    with qtbot.waitSignal(widget.sigFinished, timeout=5_000) as finished:
        press_answer(qtbot, widget, Qt.Key.Key_8)
    path = Path(finished.args[0])
    assert path.parent == answers_dir and path.name.startswith("answers-Ada-")
    assert widget.stack.currentIndex() == 2 and str(path) in widget.done_label.text()
    answers = read_answers(path)
    assert answers.rater == "Ada" and answers.seed == 5 and len(answers.trials) == 6
    assert all(t.response_ms is not None and t.response_ms > 0 for t in answers.trials)
    items = [t for t in answers.trials if not t.ref.is_clean]
    assert len(items) == 3 and all(t.answer == 8 for t in items)
    assert not (answers_dir / "session-Ada.json").exists()

    # ingest and report: every item relabelled 8 by the only rater -> 3 of 3 successful
    ingest([path])
    by_id = {item.item_id: item for item in load_items(collection)}
    images = [item.image for item in by_id.values()]
    originals = [item.original for item in by_id.values()]
    models = {
        "undefended": LookupModel(images + originals, [8, 8, 1, 0, 6, 9]),  # 2 of 3 agree; originals right
    }

    release = threading.Event()  # the worker waits here, so the panel's busy state is checked deterministically

    def loader(name: str, device: torch.device) -> nn.Module:
        assert release.wait(10), "the test never released the evaluation"
        if name not in models:
            raise ModelError(f"checkpoint for {name!r} is missing")
        return models[name]

    infos = {
        name: ZooEntry(name, "test", "", "cnn-s2-small", "standard", norm=norm, eps=eps)
        for name, norm, eps in (("undefended", None, None), ("linf-pgd-0.1", "linf", 0.1))
    }
    panel = ReportPanel([collection], models=["undefended", "linf-pgd-0.1"], device="cpu", loader=loader, infos=infos)
    qtbot.addWidget(panel)
    with qtbot.waitSignal(panel.sigReportReady, timeout=20_000):
        qtbot.mouseClick(panel.evaluate_button, Qt.MouseButton.LeftButton)
        busy = (panel.busy_bar.isVisibleTo(panel), panel.evaluate_button.isEnabled(), panel.report)
        release.set()
    assert busy == (True, False, None)  # while the worker runs: busy bar shown, button off, no report yet
    table1 = panel.tables["table1"]
    header = [table1.horizontalHeaderItem(c).text() for c in range(table1.columnCount())]  # type: ignore[union-attr]
    row = {header[c]: table1.item(0, c).text() for c in range(table1.columnCount())}  # type: ignore[union-attr]
    assert row["set"] == "manual-linf" and row["successful"] == "3" and row["success rate"] == "100.0%"
    table2 = panel.tables["table2"]
    assert table2.item(0, 0).text() == "clean digits" and table2.item(0, 2).text() == "100.0%"  # type: ignore[union-attr]
    assert table2.item(1, 0).text() == "manual-linf" and table2.item(1, 2).text() == "66.7%"  # type: ignore[union-attr]
    raters = panel.tables["raters"]
    assert raters.item(0, 0).text() == "Ada" and raters.item(0, 3).text() == "100.0%"  # type: ignore[union-attr]
    assert "skipped linf-pgd-0.1" in panel.status_label.text()
    assert not panel.busy_bar.isVisibleTo(panel)
    # Figure 6: undefended at ε = 0 on the ℓ∞ panel
    curves = panel.plots["linf"].getPlotItem().listDataItems()  # type: ignore[union-attr]
    assert len(curves) == 1 and list(curves[0].yData) == pytest.approx([200 / 3])
    panel.resize(900, 600)
    panel.show()
    panel.tabs.setCurrentWidget(panel.figure)
    qtbot.waitExposed(panel)
    plot = panel.plots["linf"].getPlotItem()
    captions = [item for item in plot.items if isinstance(item, pg.TextItem)]  # type: ignore[union-attr]
    inside = plot.getViewBox().sceneBoundingRect()  # type: ignore[union-attr]
    assert captions and all(inside.contains(caption.sceneBoundingRect()) for caption in captions)  # not clipped

    csv_paths = panel.export_csv(tmp_path / "export")
    with open(tmp_path / "export" / "table1.csv", newline="") as handle:
        assert list(csv.reader(handle))[1][6] == "3"
    png_paths = panel.export_png(tmp_path / "export")
    assert len(csv_paths) == 5 and {p.name for p in png_paths} >= {"figure6.png", "table1.png", "table2.png"}
    assert all(p.stat().st_size > 100 for p in png_paths)


def test_closed_session_resumes_where_it_stopped(qtbot, collection: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    answers_dir = tmp_path / "answers"
    first = StudyWidget([collection], answers_dir, seed=2, clock=FakeClock())
    qtbot.addWidget(first)
    first.show()
    start(qtbot, first, "Bo")
    press_answer(qtbot, first, Qt.Key.Key_N)
    press_answer(qtbot, first, Qt.Key.Key_N)
    order = [t.ref for t in first.session.trials]  # type: ignore[union-attr]
    first.close()
    assert (answers_dir / "session-Bo.json").exists()

    second = StudyWidget([collection], answers_dir, seed=99, clock=FakeClock())
    qtbot.addWidget(second)
    second.show()
    qtbot.keyClicks(second.rater_edit, "Bo")
    assert second.start_button.text() == "Resume"
    qtbot.mouseClick(second.start_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: second.stack.currentIndex() == 1, timeout=10_000)
    session = second.session
    assert session is not None and session.n_answered == 2 and not second.paused
    assert [t.ref for t in session.trials] == order  # the saved order, not a new seed
    with qtbot.waitSignal(second.sigFinished, timeout=5_000) as finished:
        for _ in range(4):
            press_answer(qtbot, second, Qt.Key.Key_X)
    answers = read_answers(finished.args[0])
    assert [t.answer for t in answers.trials if not t.ref.is_clean] == [-1, -1, -1]


def test_errors_are_shown_not_raised(qtbot, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    widget = StudyWidget([tmp_path / "no-such-collection"], tmp_path / "answers")
    qtbot.addWidget(widget)
    with qtbot.waitSignal(widget.sigError, timeout=10_000) as error:
        qtbot.keyClicks(widget.rater_edit, "Cy")
        qtbot.mouseClick(widget.start_button, Qt.MouseButton.LeftButton)
    assert "no-such-collection" in error.args[0]
    assert widget.stack.currentIndex() == 0 and "Error" in widget.status_label.text()
    assert widget.rater_edit.isEnabled()
