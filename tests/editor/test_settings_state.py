"""Settings persistence goes through EditorState: stored values start a state, state changes are stored."""

from __future__ import annotations

from pathlib import Path

from PyQt6.QtCore import QSettings

from core import budget
from editor.settings import EditorSettings
from editor.state.tools import Tool


def ini_settings(folder: Path) -> EditorSettings:
    return EditorSettings(QSettings(str(folder / "editor.ini"), QSettings.Format.IniFormat))


def test_a_state_starts_from_the_stored_values_and_its_changes_are_stored(tmp_path: Path) -> None:
    settings = ini_settings(tmp_path)
    settings.norm = "l0"
    settings.set_eps("l0", 12)
    settings.set_eps("linf", 0.2)
    settings.tool = Tool.DARKEN
    settings.brush_size = 3
    settings.value = 0.4
    settings.view_mode = "overlay"
    state = settings.editing_state()
    assert (state.norm, state.eps, state.eps_by_norm["linf"]) == ("l0", 12.0, 0.2)
    assert (state.tool, state.brush_size, state.value, state.view_mode) == (Tool.DARKEN, 3, 0.4, "overlay")

    settings.follow(state)
    state.choose_norm("linf")
    state.set_budget("linf", 0.15)
    state.set_tool(Tool.ERASER)
    state.step_brush(1)
    state.set_value(0.9)
    state.toggle_view()
    settings.sync()
    again = ini_settings(tmp_path).editing_state()
    assert (again.norm, again.eps, again.eps_by_norm["l0"]) == ("linf", 0.15, 12.0)
    assert (again.tool, again.brush_size, again.value, again.view_mode) == (Tool.ERASER, 4, 0.9, "side")


def test_a_stored_eps_that_is_no_valid_budget_falls_back_to_the_norms_default(tmp_path: Path) -> None:
    settings = ini_settings(tmp_path)
    settings.norm = "l0"
    settings.set_eps("l0", 2.5)  # ℓ0 counts whole pixels
    settings.set_eps("l2", float("inf"))
    settings.qsettings.setValue("budget/eps_l1", "plenty")
    state = settings.editing_state()
    for norm in ("l0", "l1", "l2"):
        assert state.eps_by_norm[norm] == budget.get_norm(norm).eps_default
    assert state.eps == budget.get_norm("l0").eps_default
