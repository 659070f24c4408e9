"""EditorState's painting and view fields (tool, brush, value, view mode, zoom) and ε remembered per norm: plain
Python, no Qt. Each field has its own event, emitted once per change and never for a no-op."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from core import budget
from core.data import load_mnist
from core.errors import BudgetError
from core.images import to_float
from editor.state.editing import MAX_BRUSH, VIEW_MODES, ZOOM_LEVELS, EditorState, Source
from editor.state.tools import Tool


def loaded(norm: str = "linf", eps: float | None = 0.3, eps_by_norm: dict[str, float] | None = None) -> EditorState:
    images, labels = load_mnist("test")
    state = EditorState(norm, eps, eps_by_norm=eps_by_norm)
    state.load(to_float(images[0]), int(labels[0]), Source("mnist", "test", 0))
    return state


def recorder(state: EditorState) -> list[str]:
    """Names of the events ``state`` emits from now on, in order (every event of :class:`Events`)."""
    seen: list[str] = []
    for name, emitter in vars(state.events).items():
        emitter.connect(lambda name=name: seen.append(name))
    return seen


def test_defaults() -> None:
    state = EditorState()
    assert (state.tool, state.brush_size, state.value, state.view_mode, state.zoom_level) == (
        Tool.BRUSH,
        1,
        1.0,
        "side",
        0,
    )
    assert state.eps_by_norm == {name: norm.eps_default for name, norm in budget.NORMS.items()}
    assert (state.norm, state.eps) == ("linf", budget.get_norm("linf").eps_default)


@pytest.mark.parametrize(
    ("change", "event", "field", "expected"),
    [
        (lambda s: s.set_tool(Tool.ERASER), "tool", "tool", Tool.ERASER),
        (lambda s: s.set_brush_size(4), "brush", "brush_size", 4),
        (lambda s: s.step_brush(2), "brush", "brush_size", 3),
        (lambda s: s.set_value(0.25), "value", "value", 0.25),
        (lambda s: s.set_view_mode("overlay"), "view", "view_mode", "overlay"),
        (lambda s: s.toggle_view(), "view", "view_mode", "overlay"),
        (lambda s: s.zoom(2), "zoom", "zoom_level", 2),
    ],
)
def test_each_field_change_emits_its_own_event_once(
    change: Callable[[EditorState], None], event: str, field: str, expected: object
) -> None:
    state = loaded()
    seen = recorder(state)
    change(state)
    assert getattr(state, field) == expected
    assert seen == [event]


@pytest.mark.parametrize(
    "repeat",
    [
        lambda s: s.set_tool(Tool.BRUSH),
        lambda s: s.set_brush_size(1),
        lambda s: s.step_brush(-1),  # already the smallest
        lambda s: s.set_value(1.0),
        lambda s: s.set_view_mode("side"),
    ],
)
def test_a_change_to_the_same_value_emits_nothing(repeat: Callable[[EditorState], None]) -> None:
    state = loaded()
    seen = recorder(state)
    repeat(state)
    assert seen == []


def test_brush_and_value_are_clamped_and_an_unknown_view_is_refused() -> None:
    state = EditorState()
    state.set_brush_size(0)
    assert state.brush_size == 1
    state.set_brush_size(50)
    assert state.brush_size == MAX_BRUSH
    state.step_brush(1)
    assert state.brush_size == MAX_BRUSH
    state.set_value(-0.5)
    assert state.value == 0.0
    state.set_value(2.0)
    assert state.value == 1.0
    with pytest.raises(ValueError, match="view mode"):
        state.set_view_mode("sideways")
    assert state.view_mode == VIEW_MODES[0]
    state.toggle_view()
    state.toggle_view()
    assert state.view_mode == VIEW_MODES[0]


def test_zoom_is_clamped_and_every_request_is_announced() -> None:
    state = EditorState()
    seen = recorder(state)
    state.zoom(-1)  # already fully out: the view still re-centres
    state.zoom(100)
    assert state.zoom_level == len(ZOOM_LEVELS) - 1 and state.magnification == ZOOM_LEVELS[-1]
    state.zoom(-1)
    assert state.zoom_level == len(ZOOM_LEVELS) - 2
    assert seen == ["zoom", "zoom", "zoom"]


def test_a_stroke_uses_the_states_tool_and_value() -> None:
    state = loaded("linf", 1.0)
    state.set_tool(Tool.LIGHTEN)
    state.set_value(0.25)
    state.begin_stroke()
    mask = np.zeros((28, 28), dtype=bool)
    mask[1, 1] = True
    state.extend_stroke(mask)
    state.end_stroke()
    assert state.edited[1, 1] == pytest.approx(state.original[1, 1] + 0.25)


def test_each_norm_recalls_the_eps_last_used_with_it() -> None:
    state = loaded("linf", 0.3)
    state.set_budget("linf", 0.2)
    seen = recorder(state)
    state.choose_norm("l0")
    assert (state.norm, state.eps) == ("l0", budget.get_norm("l0").eps_default)
    assert "budget" in seen
    state.set_budget("l0", 7)
    state.choose_norm("linf")
    assert state.eps == 0.2
    state.choose_norm("l0")
    assert state.eps == 7.0
    assert state.eps_by_norm["linf"] == 0.2 and state.remembered_eps("l0") == 7.0
    state.undo()  # back to linf 0.2: that is the ε remembered for linf again
    assert (state.norm, state.eps, state.eps_by_norm["linf"]) == ("linf", 0.2, 0.2)
    with pytest.raises(BudgetError):
        state.remembered_eps("l3")


def test_remembered_eps_is_given_at_start_and_used_when_loading_with_a_norm_only() -> None:
    state = loaded("linf", None, eps_by_norm={"l0": 12.0, "linf": 0.1})
    assert state.eps == 0.1 and state.eps_by_norm["l2"] == budget.get_norm("l2").eps_default
    state.load(state.original, state.original_label, state.source, norm="l0")
    assert (state.norm, state.eps) == ("l0", 12.0)


@pytest.mark.parametrize("make", [
    lambda: EditorState("l0", 2.5),
    lambda: EditorState("linf", float("nan")),
    lambda: EditorState("linf", eps_by_norm={"l0": 2.5}),
    lambda: loaded("l0", 3).set_budget("l0", 2.5),
    lambda: loaded("l0", 3).load(np.zeros((28, 28)), 0, Source(), eps=-1.0),
])  # fmt: skip
def test_eps_is_checked_by_the_norm(make: Callable[[], object]) -> None:
    with pytest.raises(BudgetError):
        make()


# ------------------------------------------------------------------------------- sessions and saved state
def stroke(state: EditorState, row: int) -> np.ndarray:
    mask = np.zeros((28, 28), dtype=bool)
    mask[row, 4:12] = True
    state.begin_stroke(Tool.BRUSH, 1.0)
    state.extend_stroke(mask)
    state.end_stroke()
    return state.edited.copy()


@pytest.mark.parametrize(
    "field",
    ["original", "edited", "original_label", "source", "norm", "tool", "brush_size", "value", "view_mode",
     "zoom_level", "intended_label", "guide", "guide_target", "guide_visible", "eps_by_norm", "eps"],
)  # fmt: skip
def test_fields_are_read_only(field: str) -> None:
    state = loaded()
    with pytest.raises(AttributeError):
        setattr(state, field, getattr(state, field))


def test_the_remembered_eps_cannot_be_changed_behind_the_state() -> None:
    state = loaded()
    with pytest.raises(TypeError):
        state.eps_by_norm["linf"] = 0.1  # type: ignore[index]


def test_each_item_keeps_its_edit_and_history_for_the_session() -> None:
    images, labels = load_mnist("test")
    state = loaded()
    first, second = stroke(state, 1), stroke(state, 3)
    state.set_intended_label(5)
    other = Source("mnist", "test", 1)
    assert not state.resume(other)  # never opened
    state.load(to_float(images[1]), int(labels[1]), other)
    assert not state.can_undo() and state.intended_label is None
    stroke(state, 2)
    assert state.resume(Source("mnist", "test", 0))
    np.testing.assert_array_equal(state.edited, second)
    assert state.intended_label == 5 and state.modified
    state.undo()
    np.testing.assert_array_equal(state.edited, first)
    state.redo()
    assert state.resume(other) and state.can_undo()  # the other item kept its stroke too
    state.load(to_float(images[1]), int(labels[1]), other)  # loading again starts afresh
    assert not state.can_undo() and not state.modified


def test_modified_discard_and_saved() -> None:
    state = loaded()
    assert not state.modified
    edit = stroke(state, 1)
    assert state.modified
    seen = recorder(state)
    state.mark_saved()
    assert not state.modified and seen == ["saved"]
    stroke(state, 3)
    state.discard_changes()  # back to the saved edit, as one undo step
    np.testing.assert_array_equal(state.edited, edit)
    assert not state.modified
    state.undo()
    assert state.modified  # the discarded stroke is back


def test_replace_edit_is_one_undo_step_within_the_budget() -> None:
    state = loaded("linf", 0.1)
    state.replace_edit(np.ones((28, 28), dtype=np.float32), intended_label=3)
    assert budget.within_budget(state.original, state.edited, "linf", 0.1) and state.intended_label == 3
    state.undo()
    np.testing.assert_array_equal(state.edited, state.original)
    with pytest.raises(BudgetError):
        state.replace_edit(np.ones((27, 28), dtype=np.float32))
