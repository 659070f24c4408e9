"""Budget panel: choose the norm and ε, and see how much of the budget the edit uses.

Changing the norm calls :meth:`EditorState.choose_norm` (which recalls the last ε used with that norm), changing
ε calls :meth:`EditorState.set_budget`; both re-project the edit (one undo step). Every norm's name, ε range,
step and formatting come from its :class:`core.budget.Norm`.
"""

from __future__ import annotations

from PyQt6.QtCore import QSignalBlocker
from PyQt6.QtWidgets import QComboBox, QDoubleSpinBox, QFormLayout, QLabel, QProgressBar, QWidget

from core import budget
from editor.state.editing import EditorState


class BudgetPanel(QWidget):
    """Norm chooser, ε spin box and a meter of budget used / left, bound to an :class:`EditorState`."""

    def __init__(self, state: EditorState, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self.norm_box = QComboBox()
        for name, norm in budget.NORMS.items():
            self.norm_box.addItem(norm.label, name)
        self.norm_box.setToolTip("Threat model: the norm that measures the change")
        self.eps_box = QDoubleSpinBox()
        self.eps_box.setToolTip("ε: the largest allowed change in the chosen norm")
        self.eps_box.setKeyboardTracking(False)
        self.meter = QProgressBar()
        self.meter.setRange(0, 1000)
        self.meter.setTextVisible(True)
        self.detail = QLabel()
        layout = QFormLayout(self)
        layout.addRow("Norm", self.norm_box)
        layout.addRow("ε", self.eps_box)
        layout.addRow("Used", self.meter)
        layout.addRow("", self.detail)
        self.norm_box.currentIndexChanged.connect(self._norm_chosen)
        self.eps_box.valueChanged.connect(self._eps_chosen)
        state.events.budget.connect(self._sync_budget)
        state.events.image.connect(self._sync_meter)
        self._sync_budget()

    def _norm_chosen(self) -> None:
        self.state.choose_norm(str(self.norm_box.currentData()))

    def _eps_chosen(self, value: float) -> None:
        self.state.set_budget(self.state.norm, float(value))

    def _sync_budget(self) -> None:
        norm = budget.get_norm(self.state.norm)
        with QSignalBlocker(self.norm_box), QSignalBlocker(self.eps_box):
            self.norm_box.setCurrentIndex(self.norm_box.findData(norm.name))
            self.eps_box.setDecimals(norm.eps_decimals)
            self.eps_box.setRange(0.0, norm.eps_max)
            self.eps_box.setSingleStep(norm.eps_step)
            self.eps_box.setValue(self.state.eps)
        self._sync_meter()

    def _sync_meter(self) -> None:
        norm, eps = budget.get_norm(self.state.norm), self.state.eps
        used = self.state.used()
        fraction = 1.0 if eps == 0 else min(1.0, used / eps)
        self.meter.setValue(round(1000 * fraction))
        self.meter.setFormat(f"{100 * fraction:.0f} %")
        self.detail.setText(f"{norm.format_amount(used)} used, {norm.format_amount(max(0.0, eps - used))} left")
