"""Remembered editor settings (QSettings, organisation "InvarianceLab", application "Editor"), typed.

Every getter falls back to a default when the stored value is missing or unreadable, so a damaged settings
file never stops the editor from starting. The editing state goes both ways through :class:`EditorState`:
:meth:`EditorSettings.editing_state` builds one from the stored values, and :meth:`EditorSettings.follow`
stores each field whenever the state announces a change.
"""

from __future__ import annotations

import logging
from typing import Final

from PyQt6.QtCore import QByteArray, QSettings

from core import budget
from core.device import DEVICE_CHOICES
from core.errors import BudgetError
from editor.state.editing import VIEW_MODES, EditorState
from editor.state.tools import Tool

log = logging.getLogger(__name__)

ORGANISATION: Final = "InvarianceLab"
APPLICATION: Final = "Editor"


class EditorSettings:
    """Typed access to the editor's QSettings; pass a QSettings (e.g. an INI file) to isolate tests."""

    def __init__(self, settings: QSettings | None = None) -> None:
        self.qsettings = settings if settings is not None else QSettings(ORGANISATION, APPLICATION)

    # ----------------------------------------------------------------------------------------- helpers
    def _text(self, key: str, default: str) -> str:
        value = self.qsettings.value(key, default)
        return value if isinstance(value, str) else default

    def _number(self, key: str, default: float) -> float:
        value = self.qsettings.value(key, default)
        if not isinstance(value, (str, int, float)):
            return default
        try:
            return float(value)
        except ValueError:
            return default

    def _set(self, key: str, value: object) -> None:
        self.qsettings.setValue(key, value)

    # ---------------------------------------------------------------------------------------- settings
    @property
    def norm(self) -> str:
        norm = self._text("budget/norm", "linf")
        return norm if norm in budget.NORMS else "linf"

    @norm.setter
    def norm(self, value: str) -> None:
        self._set("budget/norm", value)

    def eps(self, norm: str) -> float:
        """The stored ε of ``norm``; its default when missing or not a valid budget (e.g. ℓ0 not whole)."""
        chosen = budget.get_norm(norm)
        try:
            return chosen.validate_eps(self._number(f"budget/eps_{norm}", chosen.eps_default))
        except BudgetError:
            return chosen.eps_default

    def set_eps(self, norm: str, value: float) -> None:
        self._set(f"budget/eps_{norm}", float(value))

    @property
    def device(self) -> str:
        device = self._text("device", "auto")
        return device if device in DEVICE_CHOICES else "auto"

    @device.setter
    def device(self, value: str) -> None:
        self._set("device", value)

    @property
    def models(self) -> list[str] | None:
        """The chosen model names, or None when the user never chose (show every available model)."""
        value = self.qsettings.value("models/chosen")
        if value is None:
            return None
        if isinstance(value, str):
            return [name for name in value.split(",") if name]
        if isinstance(value, list):
            return [str(name) for name in value if name]
        return None

    @models.setter
    def models(self, names: list[str]) -> None:
        self._set("models/chosen", ",".join(names))

    @property
    def index(self) -> int:
        return int(self._number("browser/index", 0))

    @index.setter
    def index(self, value: int) -> None:
        self._set("browser/index", int(value))

    @property
    def tool(self) -> Tool:
        try:
            return Tool(self._text("tools/tool", Tool.BRUSH.value))
        except ValueError:
            return Tool.BRUSH

    @tool.setter
    def tool(self, value: Tool) -> None:
        self._set("tools/tool", value.value)

    @property
    def brush_size(self) -> int:
        return max(1, int(self._number("tools/size", 1)))

    @brush_size.setter
    def brush_size(self, value: int) -> None:
        self._set("tools/size", int(value))

    @property
    def value(self) -> float:
        return min(1.0, max(0.0, self._number("tools/value", 1.0)))

    @value.setter
    def value(self, value: float) -> None:
        self._set("tools/value", float(value))

    @property
    def view_mode(self) -> str:
        mode = self._text("tools/view", VIEW_MODES[0])
        return mode if mode in VIEW_MODES else VIEW_MODES[0]

    @view_mode.setter
    def view_mode(self, value: str) -> None:
        self._set("tools/view", value)

    @property
    def collection(self) -> str:
        return self._text("collection/path", "")

    @collection.setter
    def collection(self, value: str) -> None:
        self._set("collection/path", value)

    @property
    def geometry(self) -> QByteArray | None:
        value = self.qsettings.value("window/geometry")
        return value if isinstance(value, QByteArray) else None

    @geometry.setter
    def geometry(self, value: QByteArray) -> None:
        self._set("window/geometry", value)

    @property
    def window_state(self) -> QByteArray | None:
        value = self.qsettings.value("window/state")
        return value if isinstance(value, QByteArray) else None

    @window_state.setter
    def window_state(self, value: QByteArray) -> None:
        self._set("window/state", value)

    def sync(self) -> None:
        self.qsettings.sync()

    # ---------------------------------------------------------------------------------- editing state
    def editing_state(self) -> EditorState:
        """A new :class:`EditorState` with the stored norm, ε of every norm, tool, brush size, value and view."""
        state = EditorState(self.norm, eps_by_norm={name: self.eps(name) for name in budget.NORMS})
        state.set_tool(self.tool)
        state.set_brush_size(self.brush_size)
        state.set_value(self.value)
        state.set_view_mode(self.view_mode)
        return state

    def follow(self, state: EditorState) -> None:
        """Store the norm and ε, tool, brush size, value and view of ``state`` whenever it changes them."""

        def store_budget() -> None:
            self.norm = state.norm
            self.set_eps(state.norm, state.eps)

        def store_tool() -> None:
            self.tool = state.tool

        def store_brush() -> None:
            self.brush_size = state.brush_size

        def store_value() -> None:
            self.value = state.value

        def store_view() -> None:
            self.view_mode = state.view_mode

        state.events.budget.connect(store_budget)
        state.events.tool.connect(store_tool)
        state.events.brush.connect(store_brush)
        state.events.value.connect(store_value)
        state.events.view.connect(store_view)
