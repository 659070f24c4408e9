"""Study sessions: seeded mixing, timing with pauses, resume, answers files and ingesting them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.collection import Collection
from core.data import load_mnist
from core.errors import StudyError
from core.images import to_float
from core.study.answers import SESSION_KIND, read_answers, write_answers
from core.study.ingest import LEDGER, ingest, rater_clean_counts
from core.study.session import StudyImages, StudySession, plan_trials, session_state_path
from core.study.sets import load_items
from tests.fixtures_study import make_collection, make_item


class FakeClock:
    """Monotonic nanoseconds that only move when told to."""

    def __init__(self) -> None:
        self.now = 1_000_000_000

    def __call__(self) -> int:
        return self.now

    def advance(self, ms: int) -> None:
        self.now += ms * 1_000_000


ITEMS = [make_item(i, human_labels={}) for i in (0, 1, 2, 3, 4)]


def test_plan_mixes_equal_clean_digits_without_overlap_and_is_seeded() -> None:
    plan = plan_trials(ITEMS, seed=7)
    assert len(plan) == 10
    clean = [ref for ref in plan if ref.is_clean]
    assert len(clean) == 5
    assert {ref.item for ref in plan if not ref.is_clean} == {item.item_id for item in ITEMS}
    assert not {ref.clean_index for ref in clean} & {0, 1, 2, 3, 4}
    assert plan == plan_trials(ITEMS, seed=7)
    assert plan != plan_trials(ITEMS, seed=8)


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**31), n_test=st.integers(10, 40))
def test_plan_never_reuses_item_digits(seed: int, n_test: int) -> None:
    plan = plan_trials(ITEMS, seed=seed, n_test=n_test)
    clean = [ref.clean_index for ref in plan if ref.is_clean]
    assert len(set(clean)) == len(ITEMS)
    assert all(5 <= index < n_test for index in clean)


def test_plan_errors() -> None:
    with pytest.raises(StudyError, match="at least one item"):
        plan_trials([], seed=0)
    with pytest.raises(StudyError, match="clean test digits"):
        plan_trials(ITEMS, seed=0, n_test=7)


def test_images_resolve_items_and_clean_digits() -> None:
    images = StudyImages(ITEMS)
    plan = plan_trials(ITEMS, seed=0)
    mnist, labels = load_mnist("test")
    for ref in plan:
        image = images.image(ref)
        assert image.shape == (28, 28) and image.dtype.name == "float32"
        if ref.is_clean:
            assert (image == to_float(mnist[ref.clean_index])).all()
            assert images.clean_label(ref) == labels[ref.clean_index]


def test_session_times_answers_excluding_pauses_and_resumes(tmp_path: Path) -> None:
    clock = FakeClock()
    state = session_state_path(tmp_path, "Ada L.")
    session = StudySession.new("Ada L.", ITEMS, seed=1, state_path=state, clock=clock)
    assert state.name == "session-Ada_L.json" and state.exists()
    session.show()
    clock.advance(800)
    first = session.answer(3)
    assert first.order == 0 and first.answer == 3 and first.response_ms == 800
    session.show()
    clock.advance(300)
    session.pause()
    clock.advance(60_000)  # a long break does not count
    with pytest.raises(StudyError, match="paused"):
        session.answer(1)
    session.resume()
    clock.advance(200)
    assert session.answer(-1).response_ms == 500
    assert session.n_answered == 2 and session.current is not None and session.current.order == 2

    # the app closes; a new one resumes from the state file, paused, at trial 2
    later = FakeClock()
    resumed = StudySession.resume_from(state, clock=later)
    assert resumed.paused and resumed.n_answered == 2 and resumed.rater == "Ada L."
    assert [t.ref for t in resumed.trials] == [t.ref for t in session.trials]
    resumed.show()
    later.advance(5_000)
    resumed.resume()
    later.advance(250)
    assert resumed.answer(7).response_ms == 250
    with pytest.raises(StudyError, match="unanswered"):
        resumed.finish(tmp_path)
    while resumed.current is not None:
        resumed.show()
        later.advance(100)
        resumed.answer(1)
    with pytest.raises(StudyError, match="complete"):
        resumed.answer(1)
    path = resumed.finish(tmp_path)
    assert not state.exists()
    assert path.name.startswith("answers-Ada_L-") and path.suffix == ".json"
    answers = read_answers(path)
    assert answers.rater == "Ada L." and answers.seed == 1 and answers.source == "app"
    assert [t.answer for t in answers.trials[:3]] == [3, -1, 7]
    assert [t.response_ms for t in answers.trials[:4]] == [800, 500, 250, 100]
    raw = json.loads(path.read_text())
    assert raw["format_version"] == 1 and raw["kind"] == "invariance-lab.answers"
    assert set(raw["trials"][0]) == {"order", "collection", "item", "answer", "response_ms"}


def test_answers_files_are_never_overwritten(tmp_path: Path) -> None:
    clock = FakeClock()
    session = StudySession.new("bo", ITEMS[:1], seed=0, clock=clock)
    for label in (1, 2):
        session.show()
        session.answer(label)
    first = session.finish(tmp_path)
    second = session.finish(tmp_path)
    third = write_answers(read_answers(first), tmp_path)
    assert len({first, second, third}) == 3
    assert all(read_answers(p).rater == "bo" for p in (first, second, third))


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d.update(format_version=9), "format_version 9"),
        (lambda d: d.update(kind="other"), "not an answers file"),
        (lambda d: d.update(rater=""), "rater"),
        (lambda d: d["trials"][1].update(answer=12), "trial 1: answer 12"),
        (lambda d: d["trials"][0].update(response_ms=-5), "trial 0: response_ms"),
        (lambda d: d["trials"][0].update(collection=None, item="item3"), "clean:<test index"),
        (lambda d: d["trials"][0].update(order=1), "orders"),
        (lambda d: d.update(trials=[]), "non-empty"),
    ],
)
def test_bad_answers_files_give_one_line_errors(tmp_path: Path, mutate, message: str) -> None:  # type: ignore[no-untyped-def]
    data = {
        "format_version": 1,
        "kind": "invariance-lab.answers",
        "rater": "x",
        "seed": 0,
        "trials": [
            {"order": 0, "collection": "/c", "item": "a", "answer": 1, "response_ms": 10},
            {"order": 1, "collection": None, "item": "clean:5", "answer": 2, "response_ms": 10},
        ],
    }
    mutate(data)
    path = tmp_path / "answers-x.json"
    path.write_text(json.dumps(data))
    with pytest.raises(StudyError, match=message) as error:
        read_answers(path)
    assert "\n" not in str(error.value) and str(path) in str(error.value)


def test_unreadable_answers_files(tmp_path: Path) -> None:
    with pytest.raises(StudyError, match="no such answers file"):
        read_answers(tmp_path / "missing.json")
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    with pytest.raises(StudyError, match="not valid JSON"):
        read_answers(broken)
    with pytest.raises(StudyError, match="session"):
        read_answers(_session_file(tmp_path))


def _session_file(tmp_path: Path) -> Path:
    path = tmp_path / "state.json"
    path.write_text(json.dumps({"kind": SESSION_KIND, "format_version": 1}))
    return path


def _answer_all(session: StudySession, answers: dict[str, int], clean_answer_wrong: set[int]) -> None:
    """Answer item trials from ``answers`` (item id -> label) and clean ones correctly unless listed."""
    labels = load_mnist("test")[1]
    while (trial := session.current) is not None:
        session.show()
        if trial.ref.is_clean:
            truth = int(labels[trial.ref.clean_index])
            session.answer((truth + 1) % 10 if trial.ref.clean_index in clean_answer_wrong else truth)
        else:
            session.answer(answers[trial.ref.item])


def test_ingest_writes_labels_and_the_rater_ledger(tmp_path: Path) -> None:
    coll = tmp_path / "set-a"
    ids = make_collection(coll, [0, 1, 2])
    items = load_items(coll)
    assert [item.item_id for item in items] == ids
    paths = []
    for rater, label, wrong in (("ada", 5, 0), ("bob", 6, 2)):
        session = StudySession.new(rater, items, seed=3)
        clean = [t.ref.clean_index for t in session.trials if t.ref.is_clean]
        _answer_all(session, dict.fromkeys(ids, label), set(clean[:wrong]))
        paths.append(session.finish(tmp_path / "answers"))
    summary = ingest(paths)
    assert summary.labels == {str(coll.resolve()): 6}
    with Collection.open(coll, read_only=True) as collection:
        assert [dict(item.human_labels) for item in collection.items] == [{"ada": 5, "bob": 6}] * 3
    assert (coll / LEDGER).exists()
    assert rater_clean_counts([coll]) == {"ada": (3, 3), "bob": (3, 1)}
    # ingesting the same files again changes nothing
    ingest(paths)
    assert rater_clean_counts([coll, coll]) == {"ada": (3, 3), "bob": (3, 1)}


def test_ingest_validates_everything_before_writing(tmp_path: Path) -> None:
    coll = tmp_path / "set-b"
    ids = make_collection(coll, [5, 6])
    good = tmp_path / "good.json"
    bad = tmp_path / "bad.json"
    base = {"format_version": 1, "kind": "invariance-lab.answers", "rater": "cy", "seed": 0}
    good.write_text(json.dumps({**base, "trials": [
        {"order": 0, "collection": str(coll), "item": ids[0], "answer": 4, "response_ms": 9}]}))  # fmt: skip
    bad.write_text(json.dumps({**base, "trials": [
        {"order": 0, "collection": str(coll), "item": "f" * 32, "answer": 4, "response_ms": 9}]}))  # fmt: skip
    with pytest.raises(StudyError, match="has no item"):
        ingest([good, bad])
    with Collection.open(coll, read_only=True) as collection:
        assert all(not item.human_labels for item in collection.items)
    moved = tmp_path / "elsewhere" / "set-b"
    moved.parent.mkdir()
    coll.rename(moved)
    with pytest.raises(StudyError, match="--collection"):
        ingest([good])
    ingest([good], collections=[moved])
    with Collection.open(moved, read_only=True) as collection:
        assert dict(collection.get(ids[0]).human_labels) == {"cy": 4}


def test_core_study_never_imports_qt() -> None:
    import subprocess
    import sys

    code = (
        "import sys, core.study, core.study.plot, core.commands.study; "
        "assert not [m for m in sys.modules if m.startswith(('PyQt', 'pyqtgraph'))]"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
