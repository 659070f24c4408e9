"""Cancellable background tasks for the editor's panels.

- :class:`TaskThread` runs one function with ``progress`` and ``cancelled`` callbacks (GenInv suggestions,
  sensitivity checks, study and report jobs); its outcome comes back as a Qt signal on the GUI thread.
- :class:`TaskControls` is the one run / cancel / progress / status life cycle that the panels share.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from typing import Any

import torch
from PyQt6.QtCore import QObject, QThread, pyqtSignal
from PyQt6.QtWidgets import QAbstractButton, QLabel, QProgressBar, QPushButton

from core.errors import InvarianceError

log = logging.getLogger(__name__)


ProgressCallback = Callable[[float, str], None]


class TaskThread(QThread):
    """Runs ``function(progress, cancelled)`` once in a thread; its outcome comes back as a signal.

    ``progress(fraction in [0, 1], message)`` may be called from the function; ``cancelled()`` returns True
    once :meth:`cancel` was called. ``threads``: torch threads in this thread (default: every usable core).
    Exactly one of sigDone(object), sigFailed(str) or sigCancelled() follows, on the GUI thread and only once
    the thread has stopped, so a slot may start the next task or drop this one. sigProgress(float, str) reports
    along the way.
    """

    sigProgress = pyqtSignal(float, str)
    sigDone = pyqtSignal(object)
    sigFailed = pyqtSignal(str)
    sigCancelled = pyqtSignal()

    def __init__(
        self,
        function: Callable[[ProgressCallback, Callable[[], bool]], Any],
        threads: int | None = None,
        parent: QObject | None = None,
        *,
        on_progress: Callable[[float, str], None] | None = None,
        on_done: Callable[[Any], None] | None = None,
        on_failed: Callable[[str], None] | None = None,
        on_cancelled: Callable[[], None] | None = None,
    ) -> None:
        super().__init__(parent)
        self._function = function
        self._threads = threads
        self._cancel = threading.Event()
        self._outcome: tuple[str, Any] = ("failed", "not run")
        self.finished.connect(self._deliver)
        for signal, slot in (
            (self.sigProgress, on_progress),
            (self.sigDone, on_done),
            (self.sigFailed, on_failed),
            (self.sigCancelled, on_cancelled),
        ):
            if slot is not None:
                signal.connect(slot)

    def cancel(self) -> None:
        self._cancel.set()

    def stop(self) -> None:
        """Cancel and wait until the thread has ended (a window closing)."""
        self.cancel()
        self.wait()

    def is_cancelled(self) -> bool:
        return self._cancel.is_set()

    def run(self) -> None:
        # Batched searches use every core; this sets torch's thread count for this thread only.
        torch.set_num_threads(self._threads or len(os.sched_getaffinity(0)))
        try:
            value = self._function(self.sigProgress.emit, self._cancel.is_set)
        except InvarianceError as error:  # e.g. core.geninv.Cancelled when cancelled
            self._outcome = ("cancelled", None) if self._cancel.is_set() else ("failed", str(error))
            return
        except Exception as error:
            log.exception("background task failed")
            self._outcome = ("failed", f"{type(error).__name__}: {error}")
            return
        self._outcome = ("cancelled", None) if self._cancel.is_set() else ("done", value)

    def _deliver(self) -> None:
        self.wait()  # `finished` is emitted just before run() fully returns
        kind, value = self._outcome
        if kind == "done":
            self.sigDone.emit(value)
        elif kind == "cancelled":
            self.sigCancelled.emit()
        else:
            self.sigFailed.emit(str(value))


def show_fraction(bar: QProgressBar, fraction: float) -> None:
    """A task's progress on ``bar``: busy (indeterminate) until the first fraction above 0, then a percentage."""
    if fraction <= 0:
        show_busy(bar)
        return
    bar.setRange(0, 100)
    bar.setValue(round(100 * fraction))
    bar.setFormat("%p%")


def show_busy(bar: QProgressBar) -> None:
    """A running task with no fraction yet: the bar moves (indeterminate) instead of standing at 0%."""
    bar.setRange(0, 0)
    bar.setFormat("")


def reset_bar(bar: QProgressBar) -> None:
    """No task: an empty bar with no text (a "0%" would read as a job that does not move)."""
    bar.setRange(0, 100)
    bar.setValue(0)
    bar.setFormat("")


class TaskControls:
    """The run and cancel buttons, progress bar and status line of a panel that runs one task at a time."""

    def __init__(self, run_button: QAbstractButton, cancel_button: QAbstractButton, bar: QProgressBar, status: QLabel):
        self.run_button, self.cancel_button, self.bar, self.status = run_button, cancel_button, bar, status
        self.task: TaskThread | None = None

    @classmethod
    def around(cls, run_button: QAbstractButton, status_text: str = "") -> TaskControls:
        """Controls for ``run_button``, with a new (disabled) Cancel button, an empty bar and a word-wrapped status
        line showing ``status_text``; the panel lays them out."""
        cancel_button = QPushButton("Cancel")
        cancel_button.setEnabled(False)
        bar = QProgressBar()
        reset_bar(bar)
        status = QLabel(status_text)
        status.setWordWrap(True)
        return cls(run_button, cancel_button, bar, status)

    def start(self, task: TaskThread, message: str) -> None:
        """Run ``task``, showing ``message`` and a busy bar until its first progress."""
        self.task = task
        self.run_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        show_busy(self.bar)
        self.status.setText(message)
        task.start()

    def cancel(self) -> None:
        if self.task is not None:
            self.task.cancel()
            self.status.setText("Cancelling…")

    def shutdown(self) -> None:
        """Cancel and wait for a running task (window closing)."""
        if self.task is not None:
            self.task.stop()

    def finish(self) -> None:
        """The task has ended (done, failed or cancelled): forget it and reset the controls."""
        self.task = None
        self.run_button.setEnabled(True)
        self.cancel_button.setEnabled(False)
        reset_bar(self.bar)


class RunsOneTask:
    """Mixin for a panel whose ``controls`` (:class:`TaskControls`) run one task at a time: its task, whether it
    runs, cancel and shutdown (window closing), all forwarded to the controls."""

    controls: TaskControls

    @property
    def task(self) -> TaskThread | None:
        return self.controls.task

    @property
    def running(self) -> bool:
        return self.controls.task is not None

    def cancel(self) -> None:
        self.controls.cancel()

    def shutdown(self) -> None:
        """Cancel and wait for a running task (window closing)."""
        self.controls.shutdown()
