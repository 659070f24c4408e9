"""A labeling session: items of one or more collections mixed with as many clean test digits, shown in a
seeded random order, answered one by one with response times, pausable and resumable from a state file.

Qt-free: the editor's ``StudyWidget`` drives a :class:`StudySession`; tests drive it with a fake clock.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from core.data import load_mnist
from core.errors import StudyError
from core.images import to_float
from core.labels import is_valid_label
from core.study.answers import (
    MNIST_TEST_SIZE,
    SESSION_KIND,
    AnswersFile,
    Trial,
    TrialRef,
    now_iso,
    read_answers,
    safe_rater,
    write_answers,
    write_json_atomic,
)
from core.study.sets import StudyItem, load_items

log = logging.getLogger(__name__)

Clock = Callable[[], int]
"""Returns monotonic nanoseconds (``time.monotonic_ns``)."""


def plan_trials(items: Sequence[StudyItem], *, seed: int, n_test: int = MNIST_TEST_SIZE) -> list[TrialRef]:
    """Items plus ``len(items)`` clean test digits, shuffled with ``seed``.

    Clean digits are drawn without replacement from the test indices ``0..n_test-1`` that no item was made
    from (items whose ``source_split`` is ``"test"``). Same items and seed -> same plan. Raises
    :class:`StudyError` when there are no items or not enough clean digits left.
    """
    if not items:
        raise StudyError("a study needs at least one item; the collections given are empty")
    if not isinstance(seed, int) or isinstance(seed, bool) or not 0 <= seed < 2**63:
        raise StudyError(f"seed {seed} must be an integer in 0..2^63-1")
    rng = np.random.default_rng(seed)
    used = {item.source_index for item in items if item.source_split == "test" and item.source_index is not None}
    pool = np.setdiff1d(np.arange(n_test), np.fromiter(used, dtype=np.int64, count=len(used)))
    if len(pool) < len(items):
        raise StudyError(f"only {len(pool)} clean test digits are left for {len(items)} items")
    clean = rng.choice(pool, size=len(items), replace=False)
    refs = [TrialRef(item.collection, item.item_id) for item in items] + [TrialRef.clean(int(i)) for i in clean]
    return [refs[int(i)] for i in rng.permutation(len(refs))]


def session_state_path(directory: str | Path, rater: str) -> Path:
    """Where the paused session of ``rater`` is kept inside the answers folder ``directory``."""
    return Path(directory) / f"session-{safe_rater(rater)}.json"


class StudyImages:
    """Looks up the float32 (28, 28) image in [0, 1] that a :class:`TrialRef` shows."""

    def __init__(self, items: Sequence[StudyItem]) -> None:
        self._items: dict[tuple[str | None, str], StudyItem] = {(item.collection, item.item_id): item for item in items}
        self._test: np.ndarray | None = None
        self._test_labels: np.ndarray | None = None

    @classmethod
    def for_trials(cls, refs: Sequence[TrialRef], loader: Callable[[str], list[StudyItem]] = load_items) -> StudyImages:
        """Open every collection the trials refer to (raises :class:`StudyError` if one is missing an item)."""
        paths = sorted({ref.collection for ref in refs if ref.collection is not None})
        images = cls([item for path in paths for item in loader(path)])
        for ref in refs:
            if ref.collection is not None and (ref.collection, ref.item) not in images._items:
                raise StudyError(f"collection {ref.collection} has no item {ref.item!r}")
        return images

    def _mnist(self) -> tuple[np.ndarray, np.ndarray]:
        if self._test is None or self._test_labels is None:
            self._test, self._test_labels = load_mnist("test")
        return self._test, self._test_labels

    def image(self, ref: TrialRef) -> np.ndarray:
        if ref.is_clean:
            return to_float(self._mnist()[0][ref.clean_index])
        try:
            return self._items[(ref.collection, ref.item)].image
        except KeyError:
            raise StudyError(f"collection {ref.collection} has no item {ref.item!r}") from None

    def clean_label(self, ref: TrialRef) -> int:
        """The MNIST test label of a clean trial."""
        return int(self._mnist()[1][ref.clean_index])


class StudySession:
    """One rater's pass through a planned list of trials.

    Call :meth:`show` when the current image becomes visible, :meth:`answer` on the key press (this records the
    response time, advances, and saves the state file when there is one), :meth:`pause`/:meth:`resume` around
    breaks (paused time is not counted), and :meth:`finish` once :attr:`finished` to write the answers file.
    """

    def __init__(self, state: AnswersFile, *, state_path: str | Path | None = None, clock: Clock = time.monotonic_ns):
        self._state = state
        self.state_path = None if state_path is None else Path(state_path)
        self._clock = clock
        self._shown_at: int | None = None
        self._elapsed_ns = 0
        self.paused = False

    @classmethod
    def new(
        cls,
        rater: str,
        items: Sequence[StudyItem],
        *,
        seed: int = 0,
        state_path: str | Path | None = None,
        clock: Clock = time.monotonic_ns,
        instructions: str = "",
    ) -> StudySession:
        safe_rater(rater)
        refs = plan_trials(items, seed=seed)
        trials = [Trial(order, ref) for order, ref in enumerate(refs)]
        state = AnswersFile(
            rater.strip(), seed, trials, source="app", started=now_iso(), kind=SESSION_KIND, instructions=instructions
        )
        session = cls(state, state_path=state_path, clock=clock)
        session.save_state()
        return session

    @classmethod
    def resume_from(cls, state_path: str | Path, *, clock: Clock = time.monotonic_ns) -> StudySession:
        """Reopen a paused session; it continues at the first unanswered trial, paused."""
        session = cls(read_answers(state_path, kind=SESSION_KIND), state_path=state_path, clock=clock)
        session.paused = True
        return session

    # --- progress -------------------------------------------------------------------------------------
    @property
    def rater(self) -> str:
        return self._state.rater

    @property
    def seed(self) -> int:
        return self._state.seed

    @property
    def trials(self) -> list[Trial]:
        return self._state.trials

    @property
    def n_answered(self) -> int:
        return sum(trial.answer is not None for trial in self._state.trials)

    @property
    def n_total(self) -> int:
        return len(self._state.trials)

    @property
    def finished(self) -> bool:
        return self.n_answered == self.n_total

    @property
    def current(self) -> Trial | None:
        """The first unanswered trial, or ``None`` when all are answered."""
        return next((trial for trial in self._state.trials if trial.answer is None), None)

    # --- timing and answers ---------------------------------------------------------------------------
    def show(self) -> None:
        """Start timing the current trial (the view calls this when its image is on screen)."""
        self._elapsed_ns = 0
        self._shown_at = None if self.paused else self._clock()

    def pause(self) -> None:
        if self.paused:
            return
        if self._shown_at is not None:
            self._elapsed_ns += self._clock() - self._shown_at
            self._shown_at = None
        self.paused = True
        self.save_state()

    def resume(self) -> None:
        """Continue after a pause; the current trial's timer continues from where it stopped."""
        if not self.paused:
            return
        self.paused = False
        self._shown_at = self._clock()

    def answer(self, label: int) -> Trial:
        """Record ``label`` for the current trial, its response time in ms, and move on; returns that trial."""
        trial = self.current
        if trial is None:
            raise StudyError(f"session of {self.rater!r} is complete; no image awaits an answer")
        if self.paused:
            raise StudyError(f"session of {self.rater!r} is paused; resume before answering")
        if not is_valid_label(label):
            raise StudyError(f"answer {label} is not 0-9 or -1 (not a digit)")
        elapsed = self._elapsed_ns + (0 if self._shown_at is None else self._clock() - self._shown_at)
        trial.answer = int(label)
        trial.response_ms = max(0, round(elapsed / 1e6))
        self._shown_at = None
        self._elapsed_ns = 0
        self.save_state()
        return trial

    # --- files ----------------------------------------------------------------------------------------
    def save_state(self) -> None:
        """Write the state file (atomically) when the session has one."""
        if self.state_path is not None:
            try:
                write_json_atomic(self.state_path, self._state.to_json(), overwrite=True)
            except OSError as error:
                raise StudyError(f"cannot save study session {self.state_path}: {error.strerror or error}") from None

    def finish(self, directory: str | Path) -> Path:
        """Write ``answers-<rater>-<timestamp>.json`` into ``directory``, delete the state file, return the path."""
        if not self.finished:
            raise StudyError(f"session of {self.rater!r} has {self.n_total - self.n_answered} unanswered images")
        self._state = dataclasses.replace(self._state, finished=now_iso())
        path = write_answers(self._state, directory)
        if self.state_path is not None:
            self.state_path.unlink(missing_ok=True)
        log.info("wrote %s (%d answers)", path, self.n_total)
        return path
