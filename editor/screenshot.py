"""``invariance-editor --screenshot``: render the main window to a PNG once every shown model has answered."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Final

from PyQt6.QtCore import QTimer

from editor.widgets.window import MainWindow

log = logging.getLogger(__name__)

SCREENSHOT_TIMEOUT_MS: Final = 60_000


def capture_when_ready(
    window: MainWindow, path: Path, done: Callable[[int], None], timeout_ms: int = SCREENSHOT_TIMEOUT_MS
) -> None:
    """Save ``window`` to ``path`` once every shown model has predicted the current edit, then call
    ``done(exit code)`` (0: written, 1: could not write)."""
    started = time.monotonic()

    def poll() -> None:
        ready = (window.model_panel.up_to_date() or not window.model_panel.rows) and not window.busy()
        if not ready and (time.monotonic() - started) * 1000 < timeout_ms:
            return
        if not ready:
            log.warning("screenshot taken before every model answered (timeout)")
        timer.stop()
        pixmap = window.grab()
        if not pixmap.save(str(path), "PNG"):
            window.show_error(f"cannot write the screenshot {path}")
            done(1)
            return
        log.info("screenshot written to %s (%d×%d)", path, pixmap.width(), pixmap.height())
        done(0)

    timer = QTimer(window)
    timer.setInterval(50)
    timer.timeout.connect(poll)
    timer.start()
