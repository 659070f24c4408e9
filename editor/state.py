"""EditorState: one editing session (original, edited, norm, ε, history) in plain Python — no Qt.

Images are float32 (28, 28) arrays in [0, 1], row-major, white digit on black. The state enforces the
budget itself: every change to ``edited`` goes through :func:`core.budget.project`, so ``edited`` is always
inside ``{x : dist(original, x) <= eps} ∩ [0, 1]``. Widgets observe the state through its :class:`Events`
(napari style) and change it only by calling its methods.

History is unlimited inside one edit: a stroke, a budget change and a reset are each one undo step; loading
a new digit starts a fresh history.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from core import budget
from core.errors import BudgetError
from core.labels import NOT_A_DIGIT, is_valid_label
from editor.tools import Tool, apply_tool

log = logging.getLogger(__name__)

HELD_BACK_TOLERANCE = 1e-6
"""A pixel is "held back" when the projected value differs from the requested one by more than this."""

DEFAULT_EPS = {"l0": 25.0, "l1": 10.0, "l2": 3.0, "linf": 0.3}
"""Default budget per norm (ℓ0 and ℓ∞ values follow the paper: 25 pixels, 0.3)."""


class Emitter:
    """A list of callbacks called in order with the emitted arguments."""

    def __init__(self) -> None:
        self._callbacks: list[Callable[..., Any]] = []

    def connect(self, callback: Callable[..., Any]) -> None:
        self._callbacks.append(callback)

    def disconnect(self, callback: Callable[..., Any]) -> None:
        self._callbacks.remove(callback)

    def emit(self, *args: Any) -> None:
        for callback in list(self._callbacks):
            callback(*args)


@dataclass
class Events:
    """What observers can subscribe to; each emits with no arguments (read the state)."""

    digit: Emitter = field(default_factory=Emitter)  # a new original was loaded
    image: Emitter = field(default_factory=Emitter)  # ``edited`` changed
    budget: Emitter = field(default_factory=Emitter)  # norm or ε changed
    label: Emitter = field(default_factory=Emitter)  # intended label changed
    history: Emitter = field(default_factory=Emitter)  # undo/redo availability changed
    guide: Emitter = field(default_factory=Emitter)  # the target guide (image or visibility) changed


@dataclass(frozen=True)
class Source:
    """Where the current original came from: ``kind`` is "mnist", "collection" or "geninv"."""

    kind: str = "mnist"
    split: str = "test"
    index: int = -1
    detail: str = ""


@dataclass(frozen=True)
class _Snapshot:
    edited: np.ndarray
    norm: str
    eps: float


@dataclass(frozen=True)
class StrokeResult:
    """The outcome of one stroke event: ``held_back`` is a bool (28, 28) mask of pixels the budget stopped."""

    held_back: np.ndarray
    changed: bool


class EditorState:
    """The model of one editing session. See the module docstring for the invariants."""

    def __init__(self, norm: str = "linf", eps: float | None = None) -> None:
        budget.get_norm(norm)
        self.events = Events()
        self.original = np.zeros((28, 28), dtype=np.float32)
        self.edited = self.original.copy()
        self.original_label = NOT_A_DIGIT
        self.source = Source(kind="none")
        self.norm = norm
        self.eps = float(DEFAULT_EPS[norm] if eps is None else eps)
        self._check_eps(self.eps)
        self.intended_label: int | None = None
        self.guide: np.ndarray | None = None  # aligned target digit, float (28, 28) in [0, 1], or None
        self.guide_target: int | None = None  # its class
        self.guide_visible = True
        self._undo: list[_Snapshot] = []
        self._redo: list[_Snapshot] = []
        self._stroke: tuple[np.ndarray, np.ndarray, Tool, float] | None = None  # base, mask, tool, value

    # ----------------------------------------------------------------------------------------- loading
    def load(
        self,
        original: np.ndarray,
        original_label: int,
        source: Source,
        edited: np.ndarray | None = None,
        *,
        norm: str | None = None,
        eps: float | None = None,
    ) -> None:
        """Start a new edit of ``original`` (float (28, 28) in [0, 1]); ``edited`` defaults to the original.

        ``norm``/``eps`` optionally set the budget first; ``edited`` is projected into it. History is cleared.
        """
        original = np.asarray(original, dtype=np.float32)
        if original.shape != (28, 28) or not np.isfinite(original).all():
            raise BudgetError(f"an edit needs a finite (28, 28) image, got shape {original.shape}")
        if norm is not None:
            budget.get_norm(norm)
            self.norm = norm
        if eps is not None:
            self._check_eps(eps)
            self.eps = float(eps)
        self.original = np.clip(original, 0.0, 1.0).copy()
        start = self.original if edited is None else np.asarray(edited, dtype=np.float32)
        self.edited = self._project(start)
        self.original_label = int(original_label)
        self.source = source
        self.intended_label = None
        self.guide, self.guide_target = None, None
        self._undo.clear()
        self._redo.clear()
        self._stroke = None
        self.events.digit.emit()
        self.events.budget.emit()
        self.events.label.emit()
        self.events.image.emit()
        self.events.history.emit()
        self.events.guide.emit()

    # ------------------------------------------------------------------------------------------- guide
    def set_guide(self, image: np.ndarray | None, target: int | None) -> None:
        """The aligned digit of class ``target`` for this original (float (28, 28) in [0, 1]), or None."""
        if image is not None:
            image = np.asarray(image, dtype=np.float32)
            if image.shape != (28, 28) or not np.isfinite(image).all():
                raise BudgetError(f"a guide must be a finite (28, 28) image, got shape {image.shape}")
            image = np.clip(image, 0.0, 1.0)
        self.guide = image
        self.guide_target = None if image is None else target
        self.events.guide.emit()

    def set_guide_visible(self, visible: bool) -> None:
        if visible != self.guide_visible:
            self.guide_visible = bool(visible)
            self.events.guide.emit()

    # ----------------------------------------------------------------------------------------- strokes
    def begin_stroke(self, tool: Tool, value: float) -> None:
        """Start a stroke with ``tool`` and ``value`` in [0, 1]; ends any stroke still open."""
        if self._stroke is not None:
            self.end_stroke()
        self._stroke = (self.edited.copy(), np.zeros((28, 28), dtype=bool), tool, float(value))

    def extend_stroke(self, mask: np.ndarray) -> StrokeResult:
        """Add the pixels of bool (28, 28) ``mask`` to the open stroke and project the result.

        Opens a one-event stroke with the brush at value 1 when none is open (use :meth:`begin_stroke`).
        """
        if self._stroke is None:
            self.begin_stroke(Tool.BRUSH, 1.0)
        assert self._stroke is not None
        base, touched, tool, value = self._stroke
        touched |= np.asarray(mask, dtype=bool)
        requested = apply_tool(base, self.original, touched, tool, value, self.guide)
        projected = self._project(requested)
        held_back = np.abs(projected - requested) > HELD_BACK_TOLERANCE
        changed = not np.array_equal(projected, self.edited)
        if changed:
            self.edited = projected
            self.events.image.emit()
        return StrokeResult(held_back=held_back, changed=changed)

    def end_stroke(self) -> None:
        """Close the open stroke; it becomes one undo step when it changed the image."""
        if self._stroke is None:
            return
        base = self._stroke[0]
        self._stroke = None
        if not np.array_equal(base, self.edited):
            self._push_undo(_Snapshot(base, self.norm, self.eps))

    @property
    def in_stroke(self) -> bool:
        return self._stroke is not None

    # ------------------------------------------------------------------------------------------ budget
    def set_budget(self, norm: str, eps: float) -> None:
        """Change the norm and ε and re-project the current edit (one undo step)."""
        budget.get_norm(norm)
        self._check_eps(eps)
        if norm == self.norm and float(eps) == self.eps:
            return
        self.end_stroke()
        self._push_undo(self._snapshot())
        self.norm, self.eps = norm, float(eps)
        reprojected = self._project(self.edited)
        self.events.budget.emit()
        if not np.array_equal(reprojected, self.edited):
            self.edited = reprojected
            self.events.image.emit()

    def used(self) -> float:
        """Distance of the edit from the original in the current norm (ℓ0: pixels changed > 1/510)."""
        return float(budget.distance(self.original, self.edited, self.norm))

    def left(self) -> float:
        return max(0.0, self.eps - self.used())

    def distances(self) -> dict[str, float]:
        """Distance of the edit in every norm."""
        return {name: float(budget.distance(self.original, self.edited, name)) for name in budget.NORMS}

    # ------------------------------------------------------------------------------------------ labels
    def set_intended_label(self, label: int | None) -> None:
        """The label a human would give the edit (0-9 or ``NOT_A_DIGIT``), or None for "not chosen"."""
        if label is not None and not is_valid_label(label):
            raise ValueError(f"invalid intended label {label}")
        if label != self.intended_label:
            self.intended_label = label
            self.events.label.emit()

    # ----------------------------------------------------------------------------------------- history
    def can_undo(self) -> bool:
        return bool(self._undo)

    def can_redo(self) -> bool:
        return bool(self._redo)

    def undo(self) -> bool:
        """Go one step back; False when there is nothing to undo."""
        self.end_stroke()
        if not self._undo:
            return False
        self._redo.append(self._snapshot())
        self._restore(self._undo.pop())
        return True

    def redo(self) -> bool:
        """Go one step forward again; False when there is nothing to redo."""
        self.end_stroke()
        if not self._redo:
            return False
        self._undo.append(self._snapshot())
        self._restore(self._redo.pop())
        return True

    def reset(self) -> None:
        """Set the edit back to the original (one undo step)."""
        self.end_stroke()
        if np.array_equal(self.edited, self.original):
            return
        self._push_undo(self._snapshot())
        self.edited = self.original.copy()
        self.events.image.emit()

    # --------------------------------------------------------------------------------------- internals
    def _project(self, image: np.ndarray) -> np.ndarray:
        projected = budget.project(self.original, np.asarray(image, dtype=np.float32), self.norm, self.eps)
        return np.asarray(projected, dtype=np.float32)

    def _snapshot(self) -> _Snapshot:
        return _Snapshot(self.edited.copy(), self.norm, self.eps)

    def _push_undo(self, snapshot: _Snapshot) -> None:
        self._undo.append(snapshot)
        self._redo.clear()
        self.events.history.emit()

    def _restore(self, snapshot: _Snapshot) -> None:
        budget_changed = (snapshot.norm, snapshot.eps) != (self.norm, self.eps)
        self.norm, self.eps = snapshot.norm, snapshot.eps
        self.edited = snapshot.edited.copy()
        if budget_changed:
            self.events.budget.emit()
        self.events.image.emit()
        self.events.history.emit()

    @staticmethod
    def _check_eps(eps: float) -> None:
        if not np.isfinite(eps) or eps < 0:
            raise BudgetError(f"eps must be a finite number >= 0, got {eps}")
