"""The budget and tool panels show the EditorState and change it only through its methods (pytest-qt, offscreen)."""

from __future__ import annotations

from pytestqt.qtbot import QtBot

from core import budget
from core.data import load_mnist
from core.images import to_float
from editor.state.editing import EditorState, Source
from editor.state.tools import Tool
from editor.widgets.budget import BudgetPanel
from editor.widgets.tools import ToolPanel


def loaded_state() -> EditorState:
    images, labels = load_mnist("test")
    state = EditorState("linf", 0.2, eps_by_norm={"l0": 12.0})
    state.load(to_float(images[0]), int(labels[0]), Source("mnist", "test", 0))
    return state


def test_budget_panel_recalls_eps_per_norm_and_takes_its_range_from_the_norm(qtbot: QtBot) -> None:
    state = loaded_state()
    panel = BudgetPanel(state)
    qtbot.addWidget(panel)
    assert [panel.norm_box.itemText(i) for i in range(panel.norm_box.count())] == [
        norm.label for norm in budget.NORMS.values()
    ]
    panel.norm_box.setCurrentIndex(panel.norm_box.findData("l0"))
    l0 = budget.get_norm("l0")
    assert (state.norm, state.eps) == ("l0", 12.0)
    assert (panel.eps_box.value(), panel.eps_box.decimals(), panel.eps_box.maximum()) == (12.0, 0, l0.eps_max)
    assert panel.detail.text() == f"{l0.format_amount(0.0)} used, {l0.format_amount(12.0)} left"
    panel.eps_box.setValue(7)
    assert state.eps == 7.0
    panel.norm_box.setCurrentIndex(panel.norm_box.findData("linf"))
    assert (state.norm, state.eps, panel.eps_box.value()) == ("linf", 0.2, 0.2)
    panel.norm_box.setCurrentIndex(panel.norm_box.findData("l0"))
    assert state.eps == 7.0
    state.undo()  # a change made elsewhere shows in the panel
    assert panel.norm_box.currentData() == "linf" and panel.eps_box.value() == 0.2


def test_tool_panel_shows_and_changes_the_states_painting_options(qtbot: QtBot) -> None:
    state = loaded_state()
    panel = ToolPanel(state)
    qtbot.addWidget(panel)
    panel.buttons[Tool.DARKEN].click()
    assert state.tool is Tool.DARKEN
    state.set_tool(Tool.TOWARD)
    assert panel.buttons[Tool.TOWARD].isChecked() and not panel.buttons[Tool.DARKEN].isChecked()
    panel.size_box.setValue(4)
    assert state.brush_size == 4
    state.step_brush(-1)
    assert panel.size_box.value() == 3
    panel.value_slider.setValue(40)
    assert state.value == 0.4
    state.set_value(0.77)
    assert panel.value_slider.value() == 77 and "77 %" in panel.value_slider.toolTip()
    assert state.value == 0.77  # showing the value does not write the slider's rounding back
    panel.view_box.setCurrentIndex(panel.view_box.findData("overlay"))
    assert state.view_mode == "overlay"
    state.toggle_view()
    assert panel.view_box.currentData() == "side"
