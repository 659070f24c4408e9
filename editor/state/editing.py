"""EditorState: one editing session in plain Python — no Qt.

It holds the original, the edit, the norm, ε (and the ε last used with every norm), the intended label, the
target guide, the history, and how the user paints and looks: tool, brush size, value and view (mode and zoom).

Images are float32 (28, 28) arrays in [0, 1], row-major, white digit on black. The state enforces the
budget itself: every change to ``edited`` goes through :func:`core.budget.project`, so ``edited`` is always
inside ``{x : dist(original, x) <= eps} ∩ [0, 1]``. Widgets observe the state through its :class:`Events`
(napari style) and change it only by calling its methods.

History is unlimited inside one edit: a stroke, a budget change, a reset, a replaced edit (a suggestion) and a
discard are each one undo step. Every item keeps its own edit and history for the session: loading another item
puts the current one aside (keyed by its :class:`Source`), and :meth:`EditorState.resume` brings it back.

The edit is *modified* while it differs from its clean image: the image it was loaded with, or the one last
marked saved (:meth:`EditorState.mark_saved`). Fields are read-only properties; only methods change them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Final

import numpy as np

from core import budget
from core.errors import BudgetError
from core.labels import NOT_A_DIGIT, is_valid_label
from editor.state.tools import Tool, apply_tool

log = logging.getLogger(__name__)

HELD_BACK_TOLERANCE = 1e-6
"""A pixel is "held back" when the projected value differs from the requested one by more than this."""

VIEW_MODES: Final = ("side", "overlay")
"""``"side"``: the edited view with the original and the difference beside it; ``"overlay"``: the difference
drawn over the edited view."""
ZOOM_LEVELS: Final = (1.0, 1.5, 2.0, 3.0, 4.0)
"""Magnifications of the edited view; :attr:`EditorState.zoom_level` indexes this tuple."""
MAX_BRUSH: Final = 9
"""Largest brush size (pixels) offered."""


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
    budget: Emitter = field(default_factory=Emitter)  # norm or ε changed (and with them ``eps_by_norm``)
    label: Emitter = field(default_factory=Emitter)  # intended label changed
    history: Emitter = field(default_factory=Emitter)  # undo/redo availability changed
    saved: Emitter = field(default_factory=Emitter)  # the clean image changed (an edit was saved)
    guide: Emitter = field(default_factory=Emitter)  # the target guide (image or visibility) changed
    tool: Emitter = field(default_factory=Emitter)  # ``tool`` changed
    brush: Emitter = field(default_factory=Emitter)  # ``brush_size`` changed
    value: Emitter = field(default_factory=Emitter)  # ``value`` changed
    view: Emitter = field(default_factory=Emitter)  # ``view_mode`` changed
    zoom: Emitter = field(default_factory=Emitter)  # ``zoom_level`` changed


@dataclass(frozen=True)
class Source:
    """Where the current original came from: ``kind`` is "mnist" or "collection" ("none" before the first)."""

    kind: str = "mnist"
    split: str = "test"
    index: int = -1
    detail: str = ""


@dataclass(frozen=True)
class _Snapshot:
    edited: np.ndarray
    norm: str
    eps: float


@dataclass
class _Session:
    """An item put aside: everything needed to come back to it as it was left."""

    original: np.ndarray
    original_label: int
    edited: np.ndarray
    clean: _Snapshot
    intended_label: int | None
    norm: str
    eps: float
    undo: list[_Snapshot]
    redo: list[_Snapshot]


@dataclass(frozen=True)
class StrokeResult:
    """The outcome of one stroke event: ``held_back`` is a bool (28, 28) mask of pixels the budget stopped."""

    held_back: np.ndarray
    changed: bool


class EditorState:
    """The model of one editing session. See the module docstring for the invariants."""

    def __init__(
        self, norm: str = "linf", eps: float | None = None, *, eps_by_norm: Mapping[str, float] | None = None
    ) -> None:
        """Start with ``norm`` and ``eps``; ``eps_by_norm`` is the ε to recall when switching to each norm
        (missing norms: their default). ``eps`` defaults to the one recalled for ``norm``."""
        chosen = budget.get_norm(norm)
        self.events = Events()
        self._original = np.zeros((28, 28), dtype=np.float32)
        self._edited = self._original.copy()
        self._original_label = NOT_A_DIGIT
        self._source = Source(kind="none")
        self._eps_by_norm = {name: each.eps_default for name, each in budget.NORMS.items()}
        for name, remembered in (eps_by_norm or {}).items():
            self._eps_by_norm[name] = budget.get_norm(name).validate_eps(remembered, where=f"remembered ε ({name})")
        self._norm = norm
        self._eps_by_norm[norm] = chosen.validate_eps(self._eps_by_norm[norm] if eps is None else eps)
        self._tool = Tool.BRUSH
        self._brush_size = 1
        self._value = 1.0
        self._view_mode: str = VIEW_MODES[0]
        self._zoom_level = 0
        self._intended_label: int | None = None
        self._guide: np.ndarray | None = None  # aligned target digit, float (28, 28) in [0, 1], or None
        self._guide_target: int | None = None  # its class
        self._guide_visible = True
        self._undo: list[_Snapshot] = []
        self._redo: list[_Snapshot] = []
        self._stroke: tuple[np.ndarray, np.ndarray, Tool, float] | None = None  # base, mask, tool, value
        self._clean = self._snapshot()  # the edit as loaded or last saved
        self._sessions: dict[Source, _Session] = {}  # items put aside this session

    # ---------------------------------------------------------------------------------- read-only fields
    @property
    def original(self) -> np.ndarray:
        """The source digit, float32 (28, 28) in [0, 1] (do not write into it)."""
        return self._original

    @property
    def edited(self) -> np.ndarray:
        """The edit, float32 (28, 28) in [0, 1], always within the budget (do not write into it)."""
        return self._edited

    @property
    def original_label(self) -> int:
        return self._original_label

    @property
    def source(self) -> Source:
        return self._source

    @property
    def norm(self) -> str:
        return self._norm

    @property
    def eps_by_norm(self) -> Mapping[str, float]:
        """The ε last used with every norm (a read-only view)."""
        return MappingProxyType(self._eps_by_norm)

    @property
    def tool(self) -> Tool:
        return self._tool

    @property
    def brush_size(self) -> int:
        return self._brush_size

    @property
    def value(self) -> float:
        return self._value

    @property
    def view_mode(self) -> str:
        return self._view_mode

    @property
    def zoom_level(self) -> int:
        return self._zoom_level

    @property
    def intended_label(self) -> int | None:
        return self._intended_label

    @property
    def guide(self) -> np.ndarray | None:
        """The aligned target digit, float (28, 28) in [0, 1], or None."""
        return self._guide

    @property
    def guide_target(self) -> int | None:
        return self._guide_target

    @property
    def guide_visible(self) -> bool:
        return self._guide_visible

    @property
    def clean_image(self) -> np.ndarray:
        """The edit as it was loaded or last saved (float32 (28, 28))."""
        return self._clean.edited

    @property
    def modified(self) -> bool:
        """True while the edit differs from its clean image: an unsaved edit that navigating away would replace."""
        return not np.array_equal(self._edited, self._clean.edited)

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

        ``norm``/``eps`` optionally set the budget first (``norm`` alone: with the ε last used with it); ``edited``
        is projected into it and is the clean image. The item being left is put aside (see :meth:`resume`); the
        new one starts with a fresh history.
        """
        original = np.asarray(original, dtype=np.float32)
        if original.shape != (28, 28) or not np.isfinite(original).all():
            raise BudgetError(f"an edit needs a finite (28, 28) image, got shape {original.shape}")
        self._put_aside()
        self._sessions.pop(source, None)  # loading an item again starts it afresh
        if norm is not None or eps is not None:
            chosen = budget.get_norm(self._norm if norm is None else norm)
            self._eps_by_norm[chosen.name] = chosen.validate_eps(self._eps_by_norm[chosen.name] if eps is None else eps)
            self._norm = chosen.name
        self._original = np.clip(original, 0.0, 1.0).copy()
        start = self._original if edited is None else np.asarray(edited, dtype=np.float32)
        self._edited = self._project(start)
        self._original_label = int(original_label)
        self._source = source
        self._intended_label = None
        self._undo, self._redo = [], []
        self._clean = self._snapshot()
        self._loaded()

    def has_session(self, source: Source) -> bool:
        """True when the item ``source`` was put aside this session (:meth:`resume` would bring it back)."""
        return source in self._sessions or (source == self._source and source.kind != "none")

    def resume(self, source: Source) -> bool:
        """Go back to the item ``source`` as it was left (edit, budget, intended label, undo and redo); False when
        it was never opened this session. The item being left is put aside."""
        if source == self._source and source.kind != "none":
            return True
        session = self._sessions.pop(source, None)
        if session is None:
            return False
        self._put_aside()
        self._original, self._original_label, self._source = session.original, session.original_label, source
        self._norm = session.norm
        self._eps_by_norm[session.norm] = session.eps
        self._edited, self._clean = session.edited, session.clean
        self._intended_label = session.intended_label
        self._undo, self._redo = session.undo, session.redo
        self._loaded()
        return True

    def _put_aside(self) -> None:
        self.end_stroke()
        if self._source.kind == "none":
            return
        self._sessions[self._source] = _Session(
            self._original, self._original_label, self._edited, self._clean, self._intended_label, self._norm,
            self.eps, self._undo, self._redo,
        )  # fmt: skip

    def _loaded(self) -> None:
        self._guide, self._guide_target = None, None
        self._stroke = None
        self.events.digit.emit()
        self.events.budget.emit()
        self.events.label.emit()
        self.events.image.emit()
        self.events.history.emit()
        self.events.guide.emit()
        self.events.saved.emit()

    # ------------------------------------------------------------------------------------- saved state
    def mark_saved(self, image: np.ndarray | None = None) -> None:
        """The edit ``image`` (default: the current one) was saved: it becomes the clean image."""
        snapshot = self._snapshot() if image is None else _Snapshot(np.array(image, np.float32), self._norm, self.eps)
        self._clean = snapshot
        self.events.saved.emit()

    def discard_changes(self) -> None:
        """Set the edit back to its clean image (one undo step, so the discarded edit can still be undone)."""
        self.end_stroke()
        if not self.modified:
            return
        self._push_undo(self._snapshot())
        self._restore(self._clean)

    def replace_edit(self, image: np.ndarray, intended_label: int | None = None) -> None:
        """Make ``image`` (float (28, 28), projected into the budget) the edit, as one undo step; optionally set the
        intended label too (a GenInv suggestion)."""
        self.end_stroke()
        image = np.asarray(image, dtype=np.float32)
        if image.shape != (28, 28) or not np.isfinite(image).all():
            raise BudgetError(f"an edit needs a finite (28, 28) image, got shape {image.shape}")
        replaced = self._project(image)
        if not np.array_equal(replaced, self._edited):
            self._push_undo(self._snapshot())
            self._edited = replaced
            self.events.image.emit()
        if intended_label is not None:
            self.set_intended_label(intended_label)

    # ------------------------------------------------------------------------------------------- guide
    def set_guide(self, image: np.ndarray | None, target: int | None) -> None:
        """The aligned digit of class ``target`` for this original (float (28, 28) in [0, 1]), or None."""
        if image is not None:
            image = np.asarray(image, dtype=np.float32)
            if image.shape != (28, 28) or not np.isfinite(image).all():
                raise BudgetError(f"a guide must be a finite (28, 28) image, got shape {image.shape}")
            image = np.clip(image, 0.0, 1.0)
        self._guide = image
        self._guide_target = None if image is None else target
        self.events.guide.emit()

    def set_guide_visible(self, visible: bool) -> None:
        if visible != self._guide_visible:
            self._guide_visible = bool(visible)
            self.events.guide.emit()

    # ----------------------------------------------------------------------------------------- strokes
    def begin_stroke(self, tool: Tool | None = None, value: float | None = None) -> None:
        """Start a stroke with ``tool`` and ``value`` in [0, 1] (default: the state's own); ends any stroke still
        open."""
        if self._stroke is not None:
            self.end_stroke()
        tool = self._tool if tool is None else tool
        value = self._value if value is None else float(value)
        self._stroke = (self._edited.copy(), np.zeros((28, 28), dtype=bool), tool, value)

    def extend_stroke(self, mask: np.ndarray) -> StrokeResult:
        """Add the pixels of bool (28, 28) ``mask`` to the open stroke and project the result.

        Opens a one-event stroke with the brush at value 1 when none is open (use :meth:`begin_stroke`).
        """
        if self._stroke is None:
            self.begin_stroke(Tool.BRUSH, 1.0)
        assert self._stroke is not None
        base, touched, tool, value = self._stroke
        touched |= np.asarray(mask, dtype=bool)
        requested = apply_tool(base, self._original, touched, tool, value, self._guide)
        projected = self._project(requested)
        held_back = np.abs(projected - requested) > HELD_BACK_TOLERANCE
        changed = not np.array_equal(projected, self._edited)
        if changed:
            self._edited = projected
            self.events.image.emit()
        return StrokeResult(held_back=held_back, changed=changed)

    def end_stroke(self) -> None:
        """Close the open stroke; it becomes one undo step when it changed the image."""
        if self._stroke is None:
            return
        base = self._stroke[0]
        self._stroke = None
        if not np.array_equal(base, self._edited):
            self._push_undo(_Snapshot(base, self._norm, self.eps))

    @property
    def in_stroke(self) -> bool:
        return self._stroke is not None

    # ------------------------------------------------------------------------------------------ budget
    def set_budget(self, norm: str, eps: float) -> None:
        """Change the norm and ε and re-project the current edit (one undo step)."""
        eps = budget.get_norm(norm).validate_eps(eps)
        if norm == self._norm and eps == self.eps:
            return
        self.end_stroke()
        self._push_undo(self._snapshot())
        self._norm = norm
        self._eps_by_norm[norm] = eps
        reprojected = self._project(self._edited)
        self.events.budget.emit()
        if not np.array_equal(reprojected, self._edited):
            self._edited = reprojected
            self.events.image.emit()

    @property
    def eps(self) -> float:
        """The budget in the current norm: the ε remembered for it."""
        return self._eps_by_norm[self._norm]

    def choose_norm(self, norm: str) -> None:
        """Switch to ``norm`` with the ε last used with it (its default the first time)."""
        self.set_budget(norm, self.remembered_eps(norm))

    def remembered_eps(self, norm: str) -> float:
        """The ε last used with ``norm`` (its default when it was never used)."""
        budget.get_norm(norm)
        return self._eps_by_norm[norm]

    def used(self) -> float:
        """Distance of the edit from the original in the current norm (ℓ0: pixels changed > 1/510)."""
        return float(budget.distance(self._original, self._edited, self._norm))

    def left(self) -> float:
        return max(0.0, self.eps - self.used())

    def distances(self) -> dict[str, float]:
        """Distance of the edit in every norm."""
        return {name: float(budget.distance(self._original, self._edited, name)) for name in budget.NORMS}

    # ------------------------------------------------------------------------------------------ labels
    def set_intended_label(self, label: int | None) -> None:
        """The label a human would give the edit (0-9 or ``NOT_A_DIGIT``), or None for "not chosen"."""
        if label is not None and not is_valid_label(label):
            raise ValueError(f"invalid intended label {label}")
        if label != self._intended_label:
            self._intended_label = label
            self.events.label.emit()

    # ------------------------------------------------------------------------------- tools and view
    def set_tool(self, tool: Tool) -> None:
        """The tool of the next stroke."""
        if tool is not self._tool:
            self._tool = Tool(tool)
            self.events.tool.emit()

    def set_brush_size(self, size: int) -> None:
        """Brush "diameter" in pixels, clamped to 1..:data:`MAX_BRUSH`."""
        size = min(MAX_BRUSH, max(1, int(size)))
        if size != self._brush_size:
            self._brush_size = size
            self.events.brush.emit()

    def step_brush(self, step: int) -> None:
        """A ``step`` pixels larger (> 0) or smaller (< 0) brush."""
        self.set_brush_size(self._brush_size + step)

    def set_value(self, value: float) -> None:
        """Brush value, or lighten/darken step, clipped to [0, 1]."""
        value = float(np.clip(value, 0.0, 1.0))
        if value != self._value:
            self._value = value
            self.events.value.emit()

    def set_view_mode(self, mode: str) -> None:
        """One of :data:`VIEW_MODES`; raises ValueError for another."""
        if mode not in VIEW_MODES:
            raise ValueError(f"unknown view mode {mode!r}; choose one of {VIEW_MODES}")
        if mode != self._view_mode:
            self._view_mode = mode
            self.events.view.emit()

    def toggle_view(self) -> None:
        """Side by side <-> overlay."""
        self.set_view_mode(VIEW_MODES[1 - VIEW_MODES.index(self._view_mode)])

    def zoom(self, step: int) -> None:
        """Zoom the edited view in (``step`` > 0) or out by ``step`` levels of :data:`ZOOM_LEVELS` (clamped).

        Emits ``zoom`` even when the level stays, so the view re-centres on the pixel under the cursor.
        """
        self._zoom_level = min(len(ZOOM_LEVELS) - 1, max(0, self._zoom_level + int(step)))
        self.events.zoom.emit()

    @property
    def magnification(self) -> float:
        return ZOOM_LEVELS[self._zoom_level]

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
        if np.array_equal(self._edited, self._original):
            return
        self._push_undo(self._snapshot())
        self._edited = self._original.copy()
        self.events.image.emit()

    # --------------------------------------------------------------------------------------- internals
    def _project(self, image: np.ndarray) -> np.ndarray:
        projected = budget.project(self._original, np.asarray(image, dtype=np.float32), self._norm, self.eps)
        return np.asarray(projected, dtype=np.float32)

    def _snapshot(self) -> _Snapshot:
        return _Snapshot(self._edited.copy(), self._norm, self.eps)

    def _push_undo(self, snapshot: _Snapshot) -> None:
        self._undo.append(snapshot)
        self._redo.clear()
        self.events.history.emit()

    def _restore(self, snapshot: _Snapshot) -> None:
        budget_changed = (snapshot.norm, snapshot.eps) != (self._norm, self.eps)
        self._norm = snapshot.norm
        self._eps_by_norm[self._norm] = snapshot.eps
        self._edited = snapshot.edited.copy()
        if budget_changed:
            self.events.budget.emit()
        self.events.image.emit()
        self.events.history.emit()
