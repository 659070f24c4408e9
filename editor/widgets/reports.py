"""The report panel: Tables 1-2, Figure 6, certified breaks and the raters' attention check, with exports.

:class:`ReportPanel` reads collections and runs the models (``core.study.report.evaluate``) in a background
thread with a busy indicator; results fill QTableWidgets and two pyqtgraph plots (ℓ∞ and ℓ0 panels of
Figure 6). "Export CSV" writes every table; "Export PNG" writes the figure and each table as images.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path

import pyqtgraph as pg
import torch
from PyQt6.QtCore import Qt, pyqtSignal
from PyQt6.QtGui import QCloseEvent
from PyQt6.QtWidgets import (
    QDoubleSpinBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from core.device import resolve_device
from core.study.consensus import DEFAULT_MIN_RATER_ACCURACY, DEFAULT_THRESHOLD
from core.study.ingest import rater_clean_counts
from core.study.report import (
    FIGURE6_PANELS,
    CertifyFn,
    ModelLoader,
    Report,
    evaluate,
    zoo_certify,
    zoo_infos,
    zoo_loader,
)
from core.study.sets import load_items
from core.zoo.registry import ZooEntry
from editor.workers.tasks import TaskThread

log = logging.getLogger(__name__)

PANEL_TITLES = {"linf": "ℓ∞-PGD models on ℓ∞ sets", "l0": "ℓ1-trained models on ℓ0 sets"}


def caption_anchor(x: float, y: float, middle_x: float) -> tuple[float, float]:
    """Where a point's caption hangs so it stays inside the plot: left of points right of the middle (else right
    of them), below points in the upper half of the 0-100 % axis (else above them)."""
    return (1.0 if x > middle_x else 0.0, 0.0 if y > 50 else 1.0)


class ReportPanel(QWidget):
    """Agreement report for ``collections`` and ``models`` (default: every trained zoo model).

    ``loader``/``certify``/``infos`` default to the zoo; tests inject stand-ins. Call :meth:`refresh` (or press
    "Evaluate") to recompute. Signals: ``sigReportReady(object)`` with the :class:`Report`, ``sigError(str)``.
    """

    sigReportReady = pyqtSignal(object)
    sigError = pyqtSignal(str)

    def __init__(
        self,
        collections: Sequence[str | Path] = (),
        *,
        models: Sequence[str] | None = None,
        device: str | torch.device | None = None,
        loader: ModelLoader = zoo_loader,
        certify: CertifyFn = zoo_certify,
        infos: Mapping[str, ZooEntry] | None = None,
        threshold: float = DEFAULT_THRESHOLD,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.collections = [str(path) for path in collections]
        self.models = None if models is None else list(models)
        self.device = device
        self._loader, self._certify, self._infos = loader, certify, infos
        self.report: Report | None = None
        self._job: TaskThread | None = None

        self.threshold_box = QDoubleSpinBox()
        self.threshold_box.setRange(0.05, 1.0)
        self.threshold_box.setSingleStep(0.05)
        self.threshold_box.setValue(threshold)
        self.threshold_box.setToolTip("share of raters that must give one label")
        self.min_accuracy_box = QDoubleSpinBox()
        self.min_accuracy_box.setRange(0.0, 1.0)
        self.min_accuracy_box.setSingleStep(0.05)
        self.min_accuracy_box.setSpecialValueText("off")
        self.min_accuracy_box.setValue(DEFAULT_MIN_RATER_ACCURACY)
        self.min_accuracy_box.setToolTip(
            "leave out raters below this accuracy on the control digits, or who answered none (0 = off)"
        )
        self.evaluate_button = QPushButton("Evaluate")
        self.busy_bar = QProgressBar()
        self.busy_bar.setRange(0, 0)  # indeterminate: a busy indicator
        self.busy_bar.setMaximumWidth(120)
        self.busy_bar.hide()
        self.status_label = QLabel()
        self.csv_button = QPushButton("Export CSV…")
        self.png_button = QPushButton("Export PNG…")
        for button in (self.csv_button, self.png_button):
            button.setEnabled(False)
        bar = QHBoxLayout()
        bar.addWidget(QLabel("Threshold"))
        bar.addWidget(self.threshold_box)
        bar.addWidget(QLabel("Min. rater accuracy"))
        bar.addWidget(self.min_accuracy_box)
        bar.addWidget(self.evaluate_button)
        bar.addWidget(self.busy_bar)
        bar.addWidget(self.status_label, 1)
        bar.addWidget(self.csv_button)
        bar.addWidget(self.png_button)

        self.tables = {name: QTableWidget() for name in ("table1", "table2", "certified", "raters")}
        for table in self.tables.values():
            table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
            header = table.verticalHeader()
            assert header is not None  # a QTableWidget always has one
            header.setVisible(False)
        self.plots = {panel: pg.PlotWidget() for panel in FIGURE6_PANELS}
        figure = QWidget()
        figure_layout = QHBoxLayout(figure)
        for panel, plot in self.plots.items():
            plot.setBackground("w")
            item = plot.getPlotItem()
            assert item is not None
            item.setTitle(PANEL_TITLES[panel])
            item.setLabel("bottom", "training ε")
            item.setLabel("left", "agreement with humans (%)")
            item.setYRange(0, 100)
            item.showGrid(x=True, y=True, alpha=0.3)
            figure_layout.addWidget(plot)
        self.figure = figure
        self.tabs = QTabWidget()
        self.tabs.addTab(self.tables["table1"], "Table 1: success")
        self.tabs.addTab(self.tables["table2"], "Table 2: agreement")
        self.tabs.addTab(figure, "Figure 6: ε sweep")
        self.tabs.addTab(self.tables["certified"], "Certified")
        self.tabs.addTab(self.tables["raters"], "Raters")
        layout = QVBoxLayout(self)
        layout.addLayout(bar)
        layout.addWidget(self.tabs, 1)

        self.evaluate_button.clicked.connect(self.refresh)
        self.csv_button.clicked.connect(self._ask_csv)
        self.png_button.clicked.connect(self._ask_png)

    # --- computing ----------------------------------------------------------------------------------
    @property
    def busy(self) -> bool:
        return self._job is not None and self._job.isRunning()

    def set_collections(self, collections: Sequence[str | Path]) -> None:
        self.collections = [str(path) for path in collections]

    def refresh(self) -> None:
        """Recompute the report in a background thread (ignored while one is running)."""
        if self.busy:
            return
        if not self.collections:
            self.status_label.setText("No collection to evaluate.")
            return
        collections = list(self.collections)
        threshold = float(self.threshold_box.value())
        min_accuracy = float(self.min_accuracy_box.value()) or None
        loader, certify, infos, device_name = self._loader, self._certify, self._infos, self.device
        requested = self.models

        def work() -> Report:
            from core.zoo import available

            models = list(requested) if requested is not None else available()
            items = [item for path in collections for item in load_items(path)]
            return evaluate(
                items,
                models,
                device=resolve_device(device_name),
                infos=infos if infos is not None else zoo_infos(models),
                loader=loader,
                certify=certify,
                rater_clean=rater_clean_counts(collections),
                threshold=threshold,
                min_rater_accuracy=min_accuracy,
            )

        self.evaluate_button.setEnabled(False)
        self.busy_bar.show()
        self.status_label.setText("Evaluating…")
        self._job = TaskThread(
            lambda _progress, _cancelled: work(), parent=self, on_done=self._done, on_failed=self._failed
        )
        self._job.start()

    def _idle(self) -> None:
        self.evaluate_button.setEnabled(True)
        self.busy_bar.hide()

    def _failed(self, message: str) -> None:
        self._idle()
        self.status_label.setText(f"Error: {message}")
        self.sigError.emit(message)

    def _done(self, report: Report) -> None:
        self._idle()
        self.show_report(report)
        self.sigReportReady.emit(report)

    def show_report(self, report: Report) -> None:
        """Fill the tables and plots from ``report``."""
        self.report = report
        for name, table in self.tables.items():
            header, rows = report.tables()[name]
            _fill(table, header, rows)
        for panel, plot in self.plots.items():
            item = plot.getPlotItem()
            assert item is not None
            item.clear()
            points = [p for p in report.figure6 if p.panel == panel and p.agreement.agreement is not None]
            if points:
                xs = [p.eps for p in points]
                ys = [100.0 * (p.agreement.agreement or 0.0) for p in points]
                item.plot(xs, ys, pen=pg.mkPen("#1f77b4", width=2), symbol="o", symbolBrush="#1f77b4")
                middle = (min(xs) + max(xs)) / 2
                for p, y in zip(points, ys, strict=True):
                    caption = f"{p.model} (n={p.agreement.n})"
                    text = pg.TextItem(caption, color="#333", anchor=caption_anchor(p.eps, y, middle))
                    text.setToolTip(caption)
                    text.setPos(p.eps, y)
                    item.addItem(text)
        skipped = f"; skipped {', '.join(report.skipped_models)}" if report.skipped_models else ""
        successes = sum(s.n_successful for s in report.sets)
        self.status_label.setText(
            f"{len(report.sets)} sets, {successes} successful items, {len(report.models)} models{skipped}"
        )
        for button in (self.csv_button, self.png_button):
            button.setEnabled(True)

    # --- exporting ----------------------------------------------------------------------------------
    def export_csv(self, directory: str | Path) -> list[Path]:
        """Write every table as ``<directory>/<table>.csv``; returns the paths (nothing without a report)."""
        return [] if self.report is None else self.report.write_csv(directory)

    def export_png(self, directory: str | Path) -> list[Path]:
        """Write ``figure6.png`` and one PNG per table into ``directory``; returns the paths."""
        if self.report is None:
            return []
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        targets: list[tuple[QWidget, str]] = [(self.figure, "figure6.png")]
        targets += [(table, f"{name}.png") for name, table in self.tables.items()]
        paths = []
        for widget, name in targets:
            path = directory / name
            if not widget.grab().save(str(path), "PNG"):
                self.status_label.setText(f"Error: could not write {path}")
                continue
            paths.append(path)
        return paths

    def _ask_csv(self) -> None:
        directory = QFileDialog.getExistingDirectory(self, "Export tables as CSV into")
        if directory:
            paths = self.export_csv(directory)
            self.status_label.setText(f"Wrote {len(paths)} CSV files to {directory}")

    def _ask_png(self) -> None:
        directory = QFileDialog.getExistingDirectory(self, "Export figure and tables as PNG into")
        if directory:
            paths = self.export_png(directory)
            self.status_label.setText(f"Wrote {len(paths)} PNG files to {directory}")

    def closeEvent(self, event: QCloseEvent | None) -> None:
        if self._job is not None:
            self._job.wait()
        super().closeEvent(event)


def _fill(table: QTableWidget, header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    table.clear()
    table.setColumnCount(len(header))
    table.setRowCount(len(rows))
    table.setHorizontalHeaderLabels(list(header))
    for r, row in enumerate(rows):
        for c, value in enumerate(row):
            cell = QTableWidgetItem(value)
            if c > 0:
                cell.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            table.setItem(r, c, cell)
    table.resizeColumnsToContents()
