"""EditorState and painting tools: plain Python, no Qt."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core import budget
from core.data import load_mnist
from core.errors import BudgetError
from core.images import to_float
from editor.state.editing import EditorState, Source
from editor.state.tools import Tool, brush_mask, line_cells, stroke_mask

IMAGES, LABELS = load_mnist("test")
DIGIT = to_float(IMAGES[0])


def fresh(norm: str = "linf", eps: float = 0.3) -> EditorState:
    state = EditorState(norm, eps)
    state.load(DIGIT, int(LABELS[0]), Source("mnist", "test", 0))
    return state


def paint(state: EditorState, cells: list[tuple[int, int]], tool: Tool = Tool.BRUSH, value: float = 1.0) -> None:
    state.begin_stroke(tool, value)
    for row, col in cells:
        mask = np.zeros((28, 28), dtype=bool)
        mask[row, col] = True
        state.extend_stroke(mask)
    state.end_stroke()


def test_brush_footprints_by_size() -> None:
    assert np.argwhere(brush_mask(5, 5, 1)).tolist() == [[5, 5]]
    assert sorted(map(tuple, np.argwhere(brush_mask(5, 5, 2)).tolist())) == [(4, 5), (5, 4), (5, 5), (5, 6), (6, 5)]
    assert brush_mask(5, 5, 3).sum() == 9
    assert brush_mask(0, 0, 3).sum() == 4  # clipped at the corner


def test_line_cells_connect_both_ends_without_gaps() -> None:
    assert list(line_cells(10, 2, 14, 6)) == [(10, 2), (11, 3), (12, 4), (13, 5), (14, 6)]
    assert list(line_cells(3, 8, 3, 5)) == [(3, 8), (3, 7), (3, 6), (3, 5)]
    cells = list(line_cells(0, 0, 3, 9))
    steps = [max(abs(a[0] - b[0]), abs(a[1] - b[1])) for a, b in itertools.pairwise(cells)]
    assert cells[0] == (0, 0) and cells[-1] == (3, 9) and set(steps) == {1}


def test_lighten_twice_over_one_pixel_in_one_stroke_does_not_compound() -> None:
    state = fresh("linf", 1.0)
    paint(state, [(1, 1), (1, 2), (1, 1)], Tool.LIGHTEN, 0.25)
    assert state.edited[1, 1] == pytest.approx(0.25)
    assert state.edited[1, 2] == pytest.approx(0.25)


def test_undo_redo_round_trip_over_strokes_budget_changes_and_reset() -> None:
    state = fresh("linf", 0.5)
    snapshots = [state.edited.copy()]
    paint(state, [(2, 3), (2, 4)])
    snapshots.append(state.edited.copy())
    row, col = (int(v) for v in np.argwhere(DIGIT > 0.9)[0])
    inked = (row, col)
    paint(state, [inked], Tool.DARKEN, 0.2)
    assert state.edited[inked] == pytest.approx(DIGIT[inked] - 0.2)
    snapshots.append(state.edited.copy())
    state.set_budget("linf", 0.1)  # re-projects: the 0.5 stroke shrinks to 0.1
    assert state.edited[2, 3] == pytest.approx(0.1)
    snapshots.append(state.edited.copy())
    state.reset()
    snapshots.append(state.edited.copy())
    for expected in reversed(snapshots[:-1]):
        assert state.undo()
        np.testing.assert_array_equal(state.edited, expected)
    assert not state.undo()
    assert (state.norm, state.eps) == ("linf", 0.5)
    for expected in snapshots[1:]:
        assert state.redo()
        np.testing.assert_array_equal(state.edited, expected)
    assert not state.redo()
    assert (state.norm, state.eps) == ("linf", 0.1)


def test_a_new_stroke_clears_redo_and_loading_clears_history() -> None:
    state = fresh()
    paint(state, [(1, 1)])
    state.undo()
    paint(state, [(2, 2)])
    assert not state.can_redo()
    state.load(to_float(IMAGES[1]), int(LABELS[1]), Source("mnist", "test", 1))
    assert not state.can_undo() and not state.can_redo()


def test_eraser_restores_original() -> None:
    state = fresh("linf", 1.0)
    paint(state, [(14, 14), (14, 15)], Tool.BRUSH, 0.0)
    paint(state, [(14, 14), (14, 15)], Tool.ERASER, 1.0)
    np.testing.assert_array_equal(state.edited, state.original)


def test_held_back_pixels_are_reported_for_l0() -> None:
    state = fresh("l0", 3)
    state.begin_stroke(Tool.BRUSH, 1.0)
    mask = np.zeros((28, 28), dtype=bool)
    mask[0, :6] = True
    result = state.extend_stroke(mask)
    assert budget.distance(state.original, state.edited, "l0") == 3
    assert result.held_back.sum() == 3 and not (result.held_back & ~mask).any()


def test_bad_budget_is_a_budget_error() -> None:
    state = fresh()
    with pytest.raises(BudgetError):
        state.set_budget("l3", 1.0)
    with pytest.raises(BudgetError):
        state.set_budget("linf", -0.1)


@settings(max_examples=40, deadline=None)
@given(
    norm=st.sampled_from(["l0", "l1", "l2", "linf"]),
    eps_fraction=st.floats(0.0, 1.0),
    strokes=st.lists(
        st.tuples(
            st.sampled_from(list(Tool)),
            st.floats(0.0, 1.0),
            st.lists(st.tuples(st.integers(0, 27), st.integers(0, 27)), min_size=1, max_size=6),
            st.integers(1, 4),
        ),
        min_size=1,
        max_size=4,
    ),
)
def test_every_stroke_event_stays_inside_the_budget(norm: str, eps_fraction: float, strokes: list) -> None:  # type: ignore[type-arg]
    scale = {"l0": 40.0, "l1": 20.0, "l2": 4.0, "linf": 1.0}[norm]
    eps = round(eps_fraction * scale) if norm == "l0" else eps_fraction * scale
    state = fresh(norm, eps)
    for tool, value, points, size in strokes:
        state.begin_stroke(tool, value)
        for index in range(len(points)):
            state.extend_stroke(stroke_mask(points[max(0, index - 1) : index + 1], size))
            assert budget.within_budget(state.original, state.edited, norm, eps)
            assert state.edited.min() >= 0.0 and state.edited.max() <= 1.0
        state.end_stroke()


def test_inference_engine_stacks_models_and_matches_separate_forwards() -> None:
    """Same-architecture models run as one stacked pass give each model's own softmax; a missing one is an error."""
    import torch

    from core.zoo import ZooEntry
    from core.zoo.architectures import build
    from editor.state.sources import StaticSource
    from editor.workers.prediction import InferenceEngine, PredictionRequest

    torch.manual_seed(0)
    modules = {"a": build("cnn-s2-large"), "b": build("cnn-s2-large"), "c": build("cnn-s2-small")}
    entries = {name: ZooEntry(name, "test", "", "stand-in", "stand-in") for name in modules}
    source = StaticSource({name: (entries[name], module) for name, module in modules.items()})
    engine = InferenceEngine(source, torch.device("cpu"))
    assert engine.load(("a", "b", "c")) == {}
    image = np.random.default_rng(0).random((28, 28), dtype=np.float32)
    request = PredictionRequest(0, image, ("a", "b", "c", "missing"), image, 3, "linf", 0.3)
    result = engine.run(request)
    assert set(result.probabilities) == {"a", "b", "c"} and set(result.errors) == {"missing"}
    with torch.no_grad():
        for name, module in modules.items():
            expected = torch.softmax(module(torch.from_numpy(image)[None, None]), 1)[0].numpy()
            np.testing.assert_allclose(result.probabilities[name], expected, rtol=1e-4, atol=1e-6)
