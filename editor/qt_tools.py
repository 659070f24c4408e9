"""Tool panel: brush / lighten / darken / eraser, brush size, intensity and the canvas view mode."""

from __future__ import annotations

from typing import Final

from PyQt6.QtCore import Qt, pyqtSignal
from PyQt6.QtWidgets import (
    QButtonGroup,
    QComboBox,
    QFormLayout,
    QGridLayout,
    QSlider,
    QSpinBox,
    QToolButton,
    QWidget,
)

from editor.qt_canvas import DigitCanvas
from editor.tools import Tool

TOOL_KEYS: Final = {Tool.BRUSH: "B", Tool.LIGHTEN: "L", Tool.DARKEN: "D", Tool.ERASER: "E", Tool.TOWARD: "T"}
_TOOL_TIPS: Final = {
    Tool.BRUSH: "Brush: paint the intensity value",
    Tool.LIGHTEN: "Lighten: add the intensity",
    Tool.DARKEN: "Darken: subtract the intensity",
    Tool.ERASER: "Eraser: restore the original pixels",
    Tool.TOWARD: "Toward target: move pixels toward the target guide by the intensity (100 %: all the way)",
}
_TOOL_TEXT: Final = {Tool.TOWARD: "Toward"}
MAX_BRUSH: Final = 9


class ToolPanel(QWidget):
    """Controls for a :class:`DigitCanvas`. Signal ``sigChanged()`` after any option changed."""

    sigChanged = pyqtSignal()

    def __init__(self, canvas: DigitCanvas, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.canvas = canvas
        self.buttons: dict[Tool, QToolButton] = {}
        self.group = QButtonGroup(self)
        row = QGridLayout()
        row.setSpacing(2)
        for position, (tool, key) in enumerate(TOOL_KEYS.items()):
            button = QToolButton()
            button.setText(_TOOL_TEXT.get(tool, tool.value.capitalize()))
            button.setToolTip(f"{_TOOL_TIPS[tool]} ({key})")
            button.setCheckable(True)
            self.group.addButton(button)
            self.buttons[tool] = button
            row.addWidget(button, position // 3, position % 3)
            button.toggled.connect(lambda checked, chosen=tool: self._toggled(chosen, checked))
        self.size_box = QSpinBox()
        self.size_box.setRange(1, MAX_BRUSH)
        self.size_box.setToolTip("Brush size in pixels ([ and ])")
        self.value_slider = QSlider(Qt.Orientation.Horizontal)
        self.value_slider.setRange(0, 100)
        self.value_slider.setToolTip("Intensity: brush value, or lighten/darken step")
        self.view_box = QComboBox()
        self.view_box.addItem("Side by side", "side")
        self.view_box.addItem("Overlay", "overlay")
        self.view_box.setToolTip("V toggles")
        layout = QFormLayout(self)
        layout.addRow(row)
        layout.addRow("Size", self.size_box)
        layout.addRow("Intensity", self.value_slider)
        layout.addRow("View", self.view_box)
        self.size_box.valueChanged.connect(self._size_changed)
        self.value_slider.valueChanged.connect(self._value_changed)
        self.view_box.currentIndexChanged.connect(self._view_changed)
        self.sync()

    def sync(self) -> None:
        """Show the canvas's current options."""
        self.buttons[self.canvas.tool].setChecked(True)
        self.size_box.setValue(self.canvas.brush_size)
        self.value_slider.setValue(round(100 * self.canvas.value))
        self.view_box.setCurrentIndex(self.view_box.findData(self.canvas.view_mode))

    def set_tool(self, tool: Tool) -> None:
        self.canvas.set_tool(tool)
        if not self.buttons[tool].isChecked():
            self.buttons[tool].setChecked(True)
        self.sigChanged.emit()

    def _toggled(self, tool: Tool, checked: bool) -> None:
        if checked:
            self.set_tool(tool)

    def change_size(self, step: int) -> None:
        self.size_box.setValue(self.size_box.value() + step)

    def toggle_view(self) -> None:
        self.view_box.setCurrentIndex(1 - self.view_box.currentIndex())

    def _size_changed(self, size: int) -> None:
        self.canvas.set_brush_size(size)
        self.sigChanged.emit()

    def _value_changed(self, percent: int) -> None:
        self.canvas.set_value(percent / 100.0)
        self.value_slider.setToolTip(f"Intensity {percent} %: brush value, or lighten/darken step")
        self.sigChanged.emit()

    def _view_changed(self) -> None:
        self.canvas.set_view_mode(str(self.view_box.currentData()))
        self.sigChanged.emit()
