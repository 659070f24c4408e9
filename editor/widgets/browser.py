"""Digit browser: pick an MNIST test digit by index, step through one class, or draw one at random.

The browser only chooses; the main window loads the chosen digit into the editor state.
"""

from __future__ import annotations

import numpy as np
from PyQt6.QtCore import QSignalBlocker, pyqtSignal
from PyQt6.QtWidgets import QComboBox, QGridLayout, QLabel, QSizePolicy, QSpinBox, QToolButton, QWidget

ANY_CLASS = -1


class DigitBrowser(QWidget):
    """Chooses an index into ``labels`` (int64 (N,)); the images themselves stay with the caller.

    Signal ``sigDigitChosen(int)``: the user chose test index ``i`` (also emitted by :meth:`choose`).
    Random choices come from ``numpy.random.default_rng(seed)``.
    """

    sigDigitChosen = pyqtSignal(int)

    def __init__(self, labels: np.ndarray, seed: int = 0, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.labels = np.asarray(labels, dtype=np.int64)
        self.rng = np.random.default_rng(seed)
        self.current = 0
        self.index_box = QSpinBox()
        self.index_box.setRange(0, max(0, len(self.labels) - 1))
        self.index_box.setKeyboardTracking(False)
        self.index_box.setToolTip("Test-set index (type a number to jump)")
        self.class_box = QComboBox()
        self.class_box.addItem("any", ANY_CLASS)
        for digit in range(10):
            self.class_box.addItem(f"{digit}s only", digit)
        self.class_box.setToolTip("Restrict Previous / Next / Random to one class")
        self.class_box.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.class_box.setMinimumContentsLength(3)
        self.previous_button = QToolButton()
        self.previous_button.setText("◀ Prev")
        self.next_button = QToolButton()
        self.next_button.setText("Next ▶")
        self.random_button = QToolButton()
        self.random_button.setText("Random")
        for button in (self.previous_button, self.next_button, self.random_button):
            button.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.label_text = QLabel()
        self.previous_button.setToolTip("Previous digit (,)")
        self.next_button.setToolTip("Next digit (.)")
        self.random_button.setToolTip("Random digit (X)")
        layout = QGridLayout(self)
        layout.setHorizontalSpacing(4)
        self.index_box.setPrefix("test #")
        layout.addWidget(self.index_box, 0, 0, 1, 2)
        layout.addWidget(self.class_box, 0, 2)
        layout.addWidget(self.previous_button, 1, 0)
        layout.addWidget(self.next_button, 1, 1)
        layout.addWidget(self.random_button, 1, 2)
        layout.addWidget(self.label_text, 2, 0, 1, 3)
        self.index_box.valueChanged.connect(self.choose)
        self.previous_button.clicked.connect(lambda: self.step(-1))
        self.next_button.clicked.connect(lambda: self.step(1))
        self.random_button.clicked.connect(self.random)
        self.class_box.currentIndexChanged.connect(self._class_changed)

    @property
    def class_filter(self) -> int:
        return int(self.class_box.currentData())

    def choose(self, index: int) -> None:
        """Select test index ``index`` and announce it."""
        if not 0 <= index < len(self.labels):
            raise IndexError(f"test index {index} outside 0..{len(self.labels) - 1}")
        self.current = int(index)
        with QSignalBlocker(self.index_box):
            self.index_box.setValue(self.current)
        self.label_text.setText(f"Original label: <b>{int(self.labels[self.current])}</b>")
        self.sigDigitChosen.emit(self.current)

    def show_index(self, index: int | None, label: int | None = None) -> None:
        """Show which test digit is open (None: not a test digit) without announcing a choice."""
        with QSignalBlocker(self.index_box):
            if index is not None and 0 <= index < len(self.labels):
                self.current = int(index)
                self.index_box.setValue(self.current)
        shown = "?" if label is None or label < 0 else str(label)
        self.label_text.setText(f"Original label: <b>{shown}</b>")

    def step(self, direction: int) -> None:
        """The previous (-1) or next (+1) digit of the chosen class, wrapping around."""
        candidates = self._candidates()
        if len(candidates) == 0:
            return
        if direction > 0:
            after = candidates[candidates > self.current]
            self.choose(int(after[0] if len(after) else candidates[0]))
        else:
            before = candidates[candidates < self.current]
            self.choose(int(before[-1] if len(before) else candidates[-1]))

    def random(self) -> None:
        candidates = self._candidates()
        if len(candidates):
            self.choose(int(self.rng.choice(candidates)))

    def _candidates(self) -> np.ndarray:
        if self.class_filter == ANY_CLASS:
            return np.arange(len(self.labels))
        return np.flatnonzero(self.labels == self.class_filter)

    def _class_changed(self) -> None:
        if self.class_filter != ANY_CLASS and int(self.labels[self.current]) != self.class_filter:
            self.step(1)
