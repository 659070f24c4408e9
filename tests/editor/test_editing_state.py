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
