"""A translucent overlay listing the keyboard shortcuts; any key or click closes it."""

from __future__ import annotations

from html import escape

from PyQt6.QtCore import QEvent, QObject, Qt
from PyQt6.QtGui import QColor, QKeyEvent, QMouseEvent, QPainter, QPaintEvent
from PyQt6.QtWidgets import QLabel, QVBoxLayout, QWidget


class ShortcutOverlay(QWidget):
    """Covers its parent window; ``shortcuts`` is a list of (keys, what they do)."""

    def __init__(self, shortcuts: list[tuple[str, str]], parent: QWidget) -> None:
        super().__init__(parent)
        rows = "".join(
            f"<tr><td align='right' style='padding-right:14px'><b>{escape(keys)}</b></td><td>{escape(what)}</td></tr>"
            for keys, what in shortcuts
        )
        self.text = QLabel(
            "<h2>Keyboard shortcuts</h2><table cellspacing='3'>" + rows + "</table>"
            "<p style='color:#aaaaaa'>Press any key or click to close.</p>"
        )
        self.text.setStyleSheet("color: white; font-size: 11pt")
        layout = QVBoxLayout(self)
        layout.addWidget(self.text, 0, Qt.AlignmentFlag.AlignCenter)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.hide()
        parent.installEventFilter(self)

    def open(self) -> None:
        parent = self.parentWidget()
        if parent is not None:
            self.setGeometry(parent.rect())
        self.raise_()
        self.show()
        self.setFocus()

    def eventFilter(self, watched: QObject | None, event: QEvent | None) -> bool:
        if event is not None and event.type() == QEvent.Type.Resize and self.isVisible():
            parent = self.parentWidget()
            if parent is not None:
                self.setGeometry(parent.rect())
        return False

    def paintEvent(self, event: QPaintEvent | None) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor(0, 0, 0, 200))
        painter.end()

    def keyPressEvent(self, event: QKeyEvent | None) -> None:
        self.hide()

    def mousePressEvent(self, event: QMouseEvent | None) -> None:
        self.hide()
