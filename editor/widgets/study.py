"""Study mode: a rater labels a seeded mix of collection items and clean test digits, one image at a time.

:class:`StudyWidget` is a thin view over :class:`core.study.session.StudySession`: it asks for the rater's
name, loads the items off the GUI thread, shows each image at a fixed size, takes keys 0-9 and N/X (not a digit)
and P (pause), and writes ``answers-<rater>-<timestamp>.json`` when the last image is answered. The session's
state file is saved after every answer, so a closed window resumes where it stopped when the same name is
entered again.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from PyQt6.QtCore import Qt, pyqtSignal
from PyQt6.QtGui import QCloseEvent, QHideEvent, QKeyEvent
from PyQt6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from core.errors import InvarianceError
from core.labels import NOT_A_DIGIT
from core.study.session import StudyImages, StudySession, session_state_path
from core.study.sets import load_items
from editor.widgets.pixmap import grey_pixmap
from editor.workers.tasks import TaskThread

log = logging.getLogger(__name__)

DIGIT_KEYS = {Qt.Key(Qt.Key.Key_0.value + d): d for d in range(10)}  # Key_0 .. Key_9 are consecutive
NOT_A_DIGIT_KEYS = (Qt.Key.Key_N, Qt.Key.Key_X)


class StudyWidget(QWidget):
    """Rater name -> start or resume -> one big image at a time -> answers file.

    ``collections``: collection folders whose items are studied; ``answers_dir``: where answers and paused
    sessions are written; ``seed``: mixing and order; ``image_size``: side of the shown image in pixels;
    ``clock``: monotonic nanoseconds (tests pass a fake one).

    Signals: ``sigFinished(str)`` path of the written answers file; ``sigProgress(int, int)`` answered, total;
    ``sigError(str)`` one-line error.
    """

    sigFinished = pyqtSignal(str)
    sigProgress = pyqtSignal(int, int)
    sigError = pyqtSignal(str)

    def __init__(
        self,
        collections: Sequence[str | Path],
        answers_dir: str | Path,
        *,
        seed: int = 0,
        image_size: int = 336,
        clock: Callable[[], int] = time.monotonic_ns,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.collections = [str(path) for path in collections]
        self.answers_dir = Path(answers_dir)
        self.seed = seed
        self.image_size = image_size
        self._clock = clock
        self.session: StudySession | None = None
        self._images: StudyImages | None = None
        self._job: TaskThread | None = None
        self.answers_path: Path | None = None
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setWindowTitle("Study mode")

        self.stack = QStackedWidget()
        # page 0: who is rating
        self.rater_edit = QLineEdit()
        self.rater_edit.setPlaceholderText("your name")
        self.start_button = QPushButton("Start")
        self.start_button.setEnabled(False)
        self.status_label = QLabel()
        self.status_label.setWordWrap(True)
        intro = QLabel(
            "You will see digits one at a time. Press the digit you see (0–9), or N if it is not a digit.\n"
            "Answer with your first impression; press P to pause."
        )
        intro.setWordWrap(True)
        setup = QWidget()
        setup_layout = QVBoxLayout(setup)
        setup_layout.addWidget(intro)
        row = QHBoxLayout()
        row.addWidget(QLabel("Rater:"))
        row.addWidget(self.rater_edit, 1)
        row.addWidget(self.start_button)
        setup_layout.addLayout(row)
        setup_layout.addWidget(self.status_label)
        setup_layout.addStretch(1)
        # page 1: the trial
        self.image_label = QLabel()
        self.image_label.setFixedSize(image_size, image_size)
        self.image_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.image_label.setStyleSheet("background: black;")
        self.progress_bar = QProgressBar()
        self.progress_label = QLabel()
        self.pause_button = QPushButton("Pause")
        self.pause_button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        hint = QLabel("0–9: digit · N: not a digit · P: pause / resume")
        trial = QWidget()
        trial_layout = QVBoxLayout(trial)
        trial_layout.addWidget(self.progress_label)
        trial_layout.addWidget(self.progress_bar)
        trial_layout.addWidget(self.image_label, 0, Qt.AlignmentFlag.AlignHCenter)
        trial_layout.addWidget(hint, 0, Qt.AlignmentFlag.AlignHCenter)
        trial_layout.addWidget(self.pause_button, 0, Qt.AlignmentFlag.AlignHCenter)
        # page 2: done
        self.done_label = QLabel()
        self.done_label.setWordWrap(True)
        done = QWidget()
        QVBoxLayout(done).addWidget(self.done_label)
        for page in (setup, trial, done):
            self.stack.addWidget(page)
        QVBoxLayout(self).addWidget(self.stack)

        self.rater_edit.textChanged.connect(self._rater_changed)
        self.rater_edit.returnPressed.connect(self.start)
        self.start_button.clicked.connect(self.start)
        self.pause_button.clicked.connect(self.toggle_pause)

    # --- setup --------------------------------------------------------------------------------------
    def _state_path(self, rater: str) -> Path | None:
        try:
            return session_state_path(self.answers_dir, rater)
        except InvarianceError:
            return None

    def _rater_changed(self, text: str) -> None:
        state = self._state_path(text)
        self.start_button.setEnabled(state is not None and not self.busy)
        self.start_button.setText("Resume" if state is not None and state.exists() else "Start")

    @property
    def busy(self) -> bool:
        return self._job is not None and self._job.isRunning()

    def start(self) -> None:
        """Start (or resume, when a paused session of this rater exists) off the GUI thread."""
        rater = self.rater_edit.text().strip()
        state = self._state_path(rater)
        if state is None or self.busy:
            return
        self.start_button.setEnabled(False)
        self.rater_edit.setEnabled(False)
        self.status_label.setText("Loading images…")
        clock, collections, seed = self._clock, list(self.collections), self.seed

        def prepare() -> tuple[StudySession, StudyImages]:
            if state.exists():
                session = StudySession.resume_from(state, clock=clock)
                images = StudyImages.for_trials([trial.ref for trial in session.trials])
            else:
                items = [item for path in collections for item in load_items(path)]
                session = StudySession.new(rater, items, seed=seed, state_path=state, clock=clock)
                images = StudyImages(items)
            for trial in session.trials:  # warm the MNIST cache here, not on the GUI thread
                if trial.ref.is_clean:
                    images.image(trial.ref)
                    break
            return session, images

        self._job = TaskThread(
            lambda _progress, _cancelled: prepare(), parent=self, on_done=self._started, on_failed=self._failed
        )
        self._job.start()

    def _started(self, result: tuple[StudySession, StudyImages]) -> None:
        self.session, self._images = result
        self.status_label.clear()
        self.stack.setCurrentIndex(1)
        self.setFocus()
        if self.session.paused:  # resumed from a file: continue at once
            self.session.resume()
        self._show_current()

    def _failed(self, message: str) -> None:
        self.status_label.setText(f"Error: {message}")
        self.rater_edit.setEnabled(True)
        self._rater_changed(self.rater_edit.text())
        self.sigError.emit(message)

    # --- trials -------------------------------------------------------------------------------------
    def _show_current(self) -> None:
        assert self.session is not None and self._images is not None
        trial = self.session.current
        answered, total = self.session.n_answered, self.session.n_total
        self.progress_bar.setRange(0, total)
        self.progress_bar.setValue(answered)
        self.progress_label.setText(f"{self.session.rater}: image {min(answered + 1, total)} of {total}")
        self.sigProgress.emit(answered, total)
        if trial is None:
            self._finish()
            return
        self.image_label.setPixmap(grey_pixmap(self._images.image(trial.ref), self.image_size))
        self.session.show()

    def answer(self, label: int) -> None:
        """Record ``label`` (0-9 or -1) for the shown image and move on (ignored while paused or idle)."""
        if self.session is None or self.session.paused or self.session.current is None:
            return
        try:
            self.session.answer(label)
        except InvarianceError as error:
            self._report(str(error))
            return
        self._show_current()

    def toggle_pause(self) -> None:
        if self.session is None or self.session.current is None:
            return
        try:
            if self.session.paused:
                self.session.resume()
            else:
                self.session.pause()
        except InvarianceError as error:
            self._report(str(error))
        paused = self.session.paused
        self.pause_button.setText("Resume" if paused else "Pause")
        self.image_label.setVisible(not paused)

    @property
    def paused(self) -> bool:
        return self.session is not None and self.session.paused

    def _finish(self) -> None:
        assert self.session is not None
        try:
            path = self.session.finish(self.answers_dir)
        except InvarianceError as error:
            self._report(str(error))
            return
        self.answers_path = path
        self.done_label.setText(f"Thank you, {self.session.rater}! Your answers were saved to\n{path}")
        self.stack.setCurrentIndex(2)
        self.sigFinished.emit(str(path))

    def _report(self, message: str) -> None:
        log.warning("study: %s", message)
        self.progress_label.setText(f"Error: {message}")
        self.sigError.emit(message)

    # --- events -------------------------------------------------------------------------------------
    def keyPressEvent(self, event: QKeyEvent | None) -> None:
        if event is None or self.stack.currentIndex() != 1 or event.isAutoRepeat():
            super().keyPressEvent(event)
            return
        key = Qt.Key(event.key())
        if key in DIGIT_KEYS:
            self.answer(DIGIT_KEYS[key])
        elif key in NOT_A_DIGIT_KEYS:
            self.answer(NOT_A_DIGIT)
        elif key == Qt.Key.Key_P:
            self.toggle_pause()
        else:
            super().keyPressEvent(event)

    def _pause_quietly(self) -> None:
        if self.session is not None and self.session.current is not None and not self.session.paused:
            try:
                self.session.pause()
            except InvarianceError as error:
                log.warning("could not save the study session: %s", error)

    def hideEvent(self, event: QHideEvent | None) -> None:
        self._pause_quietly()
        if self.session is not None and self.session.paused:
            self.pause_button.setText("Resume")
            self.image_label.setVisible(False)
        super().hideEvent(event)

    def closeEvent(self, event: QCloseEvent | None) -> None:
        self._pause_quietly()
        if self._job is not None:
            self._job.wait()
        super().closeEvent(event)
