"""Budget panel: choose the norm and ε, and see how much of the budget the edit uses.

Changing the norm or ε calls :meth:`EditorState.set_budget`, which re-projects the edit (one undo step).
Switching norms recalls the last ε used with that norm.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from PyQt6.QtCore import QSignalBlocker
from PyQt6.QtWidgets import QComboBox, QDoubleSpinBox, QFormLayout, QLabel, QProgressBar, QWidget

from editor.state import DEFAULT_EPS, EditorState

NORM_LABELS: Final = {"l0": "ℓ0 (pixels)", "l1": "ℓ1", "l2": "ℓ2", "linf": "ℓ∞"}


@dataclass(frozen=True)
class _EpsRange:
    maximum: float
    step: float
    decimals: int


_RANGES: Final = {
    "l0": _EpsRange(784.0, 1.0, 0),
    "l1": _EpsRange(784.0, 0.5, 2),
    "l2": _EpsRange(28.0, 0.1, 3),
    "linf": _EpsRange(1.0, 0.01, 3),
}


def format_amount(value: float, norm: str) -> str:
    """ε or a distance as text: whole pixels for ℓ0, three decimals otherwise."""
    return f"{value:.0f} px" if norm == "l0" else f"{value:.3f}"


class BudgetPanel(QWidget):
    """Norm chooser, ε spin box and a meter of budget used / left, bound to an :class:`EditorState`."""

    def __init__(self, state: EditorState, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self.eps_by_norm = dict(DEFAULT_EPS)
        self.norm_box = QComboBox()
        for name, label in NORM_LABELS.items():
            self.norm_box.addItem(label, name)
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
        norm = str(self.norm_box.currentData())
        self.eps_by_norm[self.state.norm] = self.state.eps
        self.state.set_budget(norm, self.eps_by_norm.get(norm, DEFAULT_EPS[norm]))

    def _eps_chosen(self, value: float) -> None:
        self.state.set_budget(self.state.norm, float(value))

    def _sync_budget(self) -> None:
        norm, eps = self.state.norm, self.state.eps
        self.eps_by_norm[norm] = eps
        limits = _RANGES[norm]
        with QSignalBlocker(self.norm_box), QSignalBlocker(self.eps_box):
            self.norm_box.setCurrentIndex(self.norm_box.findData(norm))
            self.eps_box.setDecimals(limits.decimals)
            self.eps_box.setRange(0.0, limits.maximum)
            self.eps_box.setSingleStep(limits.step)
            self.eps_box.setValue(eps)
        self._sync_meter()

    def _sync_meter(self) -> None:
        norm, eps = self.state.norm, self.state.eps
        used = self.state.used()
        fraction = 1.0 if eps == 0 else min(1.0, used / eps)
        self.meter.setValue(round(1000 * fraction))
        self.meter.setFormat(f"{100 * fraction:.0f} %")
        self.detail.setText(f"{format_amount(used, norm)} used, {format_amount(max(0.0, eps - used), norm)} left")
