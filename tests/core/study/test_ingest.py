"""Regression tests for ingest defects with in-app answers files (format 1, refs by path):
consensus written back at the threshold, ``--collection`` honoured, duplicate raters, exclusion, atomicity."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from core.cli import main
from core.collection import Collection
from core.data import load_mnist
from tests.fixtures_study import make_collection

LABELS = load_mnist("test")[1]
INDICES = [10, 11, 12]  # test labels 0, 6, 9
CLEAN = [3, 4, 5]  # clean digits the raters see (labels 0, 4, 1)


def app_answers(path: Path, rater: str, coll: Path, ids: list[str], labels: list[int], *, wrong_clean: int = 0) -> Path:
    """An in-app answers file: every item of ``coll`` gets ``labels``; ``wrong_clean`` clean digits are wrong."""
    trials = [
        {"collection": str(coll.resolve()), "item": item, "answer": label}
        for item, label in zip(ids, labels, strict=True)
    ]
    for k, index in enumerate(CLEAN):
        truth = int(LABELS[index])
        trials.append(
            {"collection": None, "item": f"clean:{index}", "answer": (truth + 1) % 10 if k < wrong_clean else truth}
        )
    for order, trial in enumerate(trials):
        trial.update(order=order, response_ms=500)
    data = {"format_version": 1, "kind": "invariance-lab.answers", "rater": rater, "seed": 0, "source": "app",
            "started": "", "finished": "", "trials": trials}  # fmt: skip
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def human_labels(coll: Path) -> dict[str, int | None]:
    with Collection.open(coll, read_only=True) as collection:
        return {item.id: item.human_label for item in collection.items}


def test_ingest_writes_the_consensus_label_at_70_percent(tmp_path: Path) -> None:
    coll = tmp_path / "coll"
    ids = make_collection(coll, INDICES)
    files = [
        app_answers(tmp_path / "a.json", "ada", coll, ids, [8, 5, 9]),
        app_answers(tmp_path / "b.json", "bob", coll, ids, [8, 5, 4]),
        app_answers(tmp_path / "c.json", "cy", coll, ids, [8, 3, 4]),
    ]
    assert main(["study", "ingest", *map(str, files)]) == 0
    # 3/3 -> 8; 2/3 = 67% < 70% -> none; 2/3 -> none
    assert human_labels(coll) == {ids[0]: 8, ids[1]: None, ids[2]: None}
    out = tmp_path / "export"
    assert main(["export", str(coll), "--format", "imagefolder", "--out", str(out), "--label", "human"]) == 0
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*.png")) == [f"8/{ids[0]}.png"]


def test_ingest_threshold_option_is_used_and_recorded(tmp_path: Path) -> None:
    coll = tmp_path / "coll"
    ids = make_collection(coll, INDICES)
    files = [app_answers(tmp_path / f"{r}.json", r, coll, ids, labels)
             for r, labels in (("ada", [8, 5, 9]), ("bob", [8, 5, 4]), ("cy", [8, 3, 4]))]  # fmt: skip
    assert main(["study", "ingest", *map(str, files), "--threshold", "0.6"]) == 0
    assert human_labels(coll) == {ids[0]: 8, ids[1]: 5, ids[2]: 4}


def test_collection_option_wins_even_when_the_recorded_path_exists(tmp_path: Path) -> None:
    old = tmp_path / "old" / "coll"
    ids = make_collection(old, INDICES)
    new = tmp_path / "new" / "coll"
    shutil.copytree(old, new, ignore=shutil.ignore_patterns(".lock"))
    answers = app_answers(tmp_path / "a.json", "ada", old, ids, [8, 8, 8])
    assert main(["study", "ingest", str(answers), "--collection", str(new)]) == 0
    with Collection.open(new, read_only=True) as collection:
        assert all(dict(item.human_labels) == {"ada": 8} for item in collection.items)
    with Collection.open(old, read_only=True) as collection:
        assert all(not item.human_labels for item in collection.items)


def test_a_second_file_of_the_same_rater_is_refused_unless_replace_rater(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    coll = tmp_path / "coll"
    ids = make_collection(coll, INDICES)
    first = app_answers(tmp_path / "a1.json", "ada", coll, ids, [8, 8, 8])
    second = app_answers(tmp_path / "a2.json", "ada", coll, ids, [7, 7, 7])
    assert main(["study", "ingest", str(first)]) == 0
    capsys.readouterr()
    assert main(["study", "ingest", str(second)]) == 1
    assert "already ingested" in capsys.readouterr().err
    assert human_labels(coll) == dict.fromkeys(ids, 8)
    assert main(["study", "ingest", str(second), "--replace-rater"]) == 0
    assert human_labels(coll) == dict.fromkeys(ids, 7)
    # two files of one rater in one call are ambiguous: refused
    third = app_answers(tmp_path / "a3.json", "bob", coll, ids, [1, 1, 1])
    fourth = app_answers(tmp_path / "a4.json", "bob", coll, ids, [2, 2, 2])
    assert main(["study", "ingest", str(third), str(fourth)]) == 1
    assert "bob" in capsys.readouterr().err


def test_a_rater_failing_the_controls_is_left_out_and_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    coll = tmp_path / "coll"
    ids = make_collection(coll, INDICES)
    files = [
        app_answers(tmp_path / "a.json", "ada", coll, ids, [8, 5, 9]),
        app_answers(tmp_path / "b.json", "bob", coll, ids, [8, 5, 9]),
        app_answers(tmp_path / "c.json", "cy", coll, ids, [1, 1, 1], wrong_clean=1),  # 2/3 = 67% < 80%
    ]
    capsys.readouterr()
    assert main(["study", "ingest", *map(str, files)]) == 0
    out = capsys.readouterr().out
    assert "cy" in out and "left out" in out
    assert human_labels(coll) == {ids[0]: 8, ids[1]: 5, ids[2]: 9}
    # with the override, cy counts: 2/3 agree on each item, below 70%
    assert main(["study", "ingest", *map(str, files), "--replace-rater", "--min-rater-accuracy", "0.5"]) == 0
    assert human_labels(coll) == dict.fromkeys(ids, None)


def test_a_rater_without_clean_trials_is_excluded(tmp_path: Path) -> None:
    coll = tmp_path / "coll"
    ids = make_collection(coll, INDICES)
    answers = app_answers(tmp_path / "a.json", "ada", coll, ids, [8, 8, 8])
    data = json.loads(answers.read_text())
    data["trials"] = [t for t in data["trials"] if t["collection"] is not None]
    answers.write_text(json.dumps(data))
    attentive = app_answers(tmp_path / "b.json", "bob", coll, ids, [5, 5, 5])
    assert main(["study", "ingest", str(answers), str(attentive)]) == 0
    assert human_labels(coll) == dict.fromkeys(ids, 5)  # ada's 8s do not count: she could not be checked


def test_ingest_across_collections_checks_every_lock_first(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    ids1 = make_collection(first, INDICES[:2])
    ids2 = make_collection(second, INDICES[2:])
    a = app_answers(tmp_path / "a.json", "ada", first, ids1, [8, 8])
    data = json.loads(a.read_text())
    data["trials"].append({"order": len(data["trials"]), "collection": str(second.resolve()), "item": ids2[0],
                           "answer": 8, "response_ms": 500})  # fmt: skip
    a.write_text(json.dumps(data))

    def snapshot() -> dict[Path, list[tuple[str, int]]]:
        return {
            p: sorted((q.name, q.stat().st_mtime_ns) for q in p.iterdir() if q.name != ".lock") for p in (first, second)
        }

    before = snapshot()
    with Collection.open(second):  # someone holds the second collection's write lock
        assert main(["study", "ingest", str(a)]) == 1
    assert "already open for writing" in capsys.readouterr().err
    assert snapshot() == before
    assert all(not v for v in human_labels(first).values())
