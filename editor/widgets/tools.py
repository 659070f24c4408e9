"""Tool panel: brush / lighten / darken / eraser / toward target, brush size, intensity and the canvas view mode.

The panel shows the :class:`EditorState`'s tool, brush size, value and view mode, and changes them only through
the state's methods.
"""

from __future__ import annotations

from typing import Final

from PyQt6.QtCore import QSignalBlocker, Qt
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

from editor.state.editing import MAX_BRUSH, EditorState
from editor.state.tools import Tool

TOOL_KEYS: Final = {Tool.BRUSH: "B", Tool.LIGHTEN: "L", Tool.DARKEN: "D", Tool.ERASER: "E", Tool.TOWARD: "T"}
_TOOL_TIPS: Final = {
    Tool.BRUSH: "Brush: paint the intensity value",
    Tool.LIGHTEN: "Lighten: add the intensity",
    Tool.DARKEN: "Darken: subtract the intensity",
    Tool.ERASER: "Eraser: restore the original pixels",
    Tool.TOWARD: "Toward target: move pixels toward the target guide by the intensity (100 %: all the way)",
}
_TOOL_TEXT: Final = {Tool.TOWARD: "Toward"}
_VIEW_TEXT: Final = {"side": "Side by side", "overlay": "Overlay"}


class ToolPanel(QWidget):
    """Controls for the painting options of an :class:`EditorState`."""

    def __init__(self, state: EditorState, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
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
        self.view_box = QComboBox()
        for mode, text in _VIEW_TEXT.items():
            self.view_box.addItem(text, mode)
        self.view_box.setToolTip("V toggles")
        layout = QFormLayout(self)
        layout.addRow(row)
        layout.addRow("Size", self.size_box)
        layout.addRow("Intensity", self.value_slider)
        layout.addRow("View", self.view_box)
        self.size_box.valueChanged.connect(state.set_brush_size)
        self.value_slider.valueChanged.connect(self._value_chosen)
        self.view_box.currentIndexChanged.connect(self._view_chosen)
        state.events.tool.connect(self._show_tool)
        state.events.brush.connect(self._show_brush)
        state.events.value.connect(self._show_value)
        state.events.view.connect(self._show_view)
        for show in (self._show_tool, self._show_brush, self._show_value, self._show_view):
            show()

    def _toggled(self, tool: Tool, checked: bool) -> None:
        if checked:
            self.state.set_tool(tool)

    def _value_chosen(self, percent: int) -> None:
        self.state.set_value(percent / 100.0)

    def _view_chosen(self) -> None:
        self.state.set_view_mode(str(self.view_box.currentData()))

    def _show_tool(self) -> None:
        button = self.buttons[self.state.tool]
        with QSignalBlocker(button):
            button.setChecked(True)

    def _show_brush(self) -> None:
        with QSignalBlocker(self.size_box):
            self.size_box.setValue(self.state.brush_size)

    def _show_value(self) -> None:
        percent = round(100 * self.state.value)
        with QSignalBlocker(self.value_slider):
            self.value_slider.setValue(percent)
        self.value_slider.setToolTip(f"Intensity {percent} %: brush value, or lighten/darken step")

    def _show_view(self) -> None:
        with QSignalBlocker(self.view_box):
            self.view_box.setCurrentIndex(self.view_box.findData(self.state.view_mode))
