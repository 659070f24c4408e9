"""Autosave of the unsaved edit: throttled on the GUI thread, written on a worker thread.

:class:`DraftKeeper` watches an :class:`~editor.state.editing.EditorState`. After a change it waits
:data:`DRAFT_INTERVAL_MS` (more changes in that time are merged into one write), then copies the edit on the
GUI thread and hands the file write (atomic, fsynced: several ms) to one worker thread, so writes happen in
order and never block a stroke. While the edit is modified the draft holds it; once it is saved or discarded the
draft is removed. A draft left by an earlier run is never removed here, only replaced by a newer edit: it waits
for :meth:`editor.widgets.window.MainWindow.offer_draft`.
"""

from __future__ import annotations

import logging
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Final

from PyQt6.QtCore import QObject, QTimer, pyqtSignal

from editor.state.drafts import Draft, DraftFile
from editor.state.editing import EditorState

log = logging.getLogger(__name__)

DRAFT_INTERVAL_MS: Final = 1000
"""At most one draft write per this many milliseconds while the user edits."""


class DraftKeeper(QObject):
    """Keeps ``drafts`` in step with ``state``.

    Signals: ``sigWritten(bool)`` after each write (True: a draft was written, False: nothing is unsaved, and the
    draft of this run, if any, was removed), on the GUI thread; ``sigError(str)``: a write failed (one line; the
    editor keeps working).
    """

    sigWritten = pyqtSignal(bool)
    sigError = pyqtSignal(str)

    def __init__(self, state: EditorState, drafts: DraftFile, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self.drafts = drafts
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="editor-draft")
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(DRAFT_INTERVAL_MS)
        self._timer.timeout.connect(self.flush)
        self._stopped = False
        self._wrote = False  # a draft of this run is on disk (touched on the worker thread only)
        for event in (state.events.image, state.events.digit, state.events.label, state.events.saved):
            event.connect(self.schedule)

    def schedule(self) -> None:
        """Write within :data:`DRAFT_INTERVAL_MS` (throttled: a running countdown is not restarted)."""
        if not self._stopped and not self._timer.isActive():
            self._timer.start()

    def flush(self) -> None:
        """Queue the write of the current edit now (or the removal of the draft when nothing is unsaved)."""
        self._timer.stop()
        if self._stopped:
            return
        draft = Draft.of(self.state) if self.state.modified else None
        future = self._executor.submit(self._write, draft)
        future.add_done_callback(self._report)

    def stop(self) -> None:
        """Write the last state and wait for every write to finish (the window closing); idempotent."""
        if self._stopped:
            return
        self.flush()
        self._stopped = True
        self._executor.shutdown(wait=True)

    def _write(self, draft: Draft | None) -> bool:
        if draft is None:
            if self._wrote:
                self.drafts.clear()
                self._wrote = False
            return False
        self.drafts.write(draft)
        self._wrote = True
        return True

    def _report(self, future: Future[bool]) -> None:  # on the worker thread: signals are queued to the GUI
        error = future.exception()
        if error is None:
            self.sigWritten.emit(future.result())
            return
        log.warning("autosave failed: %s", error)
        self.sigError.emit(f"autosave to {self.drafts.path} failed: {error}")
