"""Study integrity: blind packs, answers checked against the organiser's plan, unique raters per pack,
all-or-nothing ingest across collections, one-line errors for bad answers, CSV formula escaping."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest

from core.cli import main
from core.collection import Collection
from core.data import load_mnist
from core.study.pack import pack_id_of, pack_plan
from core.study.plan import PLANS_DIR, StudyPlan, plan_path
from core.study.report import Percent, csv_cell
from tests.fixtures_study import make_collection

LABELS = load_mnist("test")[1]


def pack_answers(plan: StudyPlan, rater: str, item_label: int, *, wrong_controls: int = 0, path: Path) -> Path:
    """A study pack answers file (format 2): every item gets ``item_label``; the first ``wrong_controls``
    control digits get a wrong answer, the others their MNIST label."""
    trials, wrong = [], 0
    for order, ref in enumerate(plan.trials):
        if ref.is_clean:
            truth = int(LABELS[ref.clean_index])
            answer = (truth + 1) % 10 if wrong < wrong_controls else truth
            wrong += answer != truth
        else:
            answer = item_label
        trials.append({"order": order, "answer": answer, "response_ms": 400 + order})
    data = {"format_version": 2, "kind": "invariance-lab.answers", "pack_id": plan.pack_id, "rater": rater,
            "source": "pack", "started": "", "finished": "", "trials": trials}  # fmt: skip
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def tree(*folders: Path) -> dict[str, bytes]:
    """Every file under ``folders`` (but lock files) with its bytes: to prove nothing was written."""
    return {
        str(p): p.read_bytes()
        for folder in folders
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name != ".lock"
    }


@pytest.fixture
def two_collections(tmp_path: Path) -> tuple[Path, Path, Path, StudyPlan]:
    first, second = tmp_path / "private-q7" / "coll-k1", tmp_path / "private-q7" / "coll-k2"
    make_collection(first, [10, 11], set_name="a")
    make_collection(second, [12, 13], set_name="b")
    pack = tmp_path / "pack"
    assert main(["study", "pack", str(first), str(second), "--out", str(pack), "--seed", "7"]) == 0
    return first, second, pack, pack_plan(pack, [first, second])


def test_the_pack_names_no_path_item_control_or_seed(two_collections: tuple[Path, Path, Path, StudyPlan]) -> None:
    first, second, pack, plan = two_collections
    with Collection.open(first, read_only=True) as a, Collection.open(second, read_only=True) as b:
        ids = [item.id for item in a.items + b.items]
    secrets = [str(first.parent), "private-q7", "coll-k", "clean", "seed", "collection", *ids]
    files = [path for path in pack.rglob("*") if path.is_file()]
    assert len(files) == 4 + 8
    for path in files:
        data = path.read_bytes()
        for secret in secrets:
            assert secret.encode() not in data, (path.name, secret)
    study = json.loads((pack / "study.json").read_text())
    assert set(study) == {"format_version", "kind", "pack_id", "instructions", "trials"}
    assert [set(t) for t in study["trials"]] == [{"order", "image"}] * 8
    # the organiser's side: a plan copy in each collection, mapping every position
    assert plan.pack_id == pack_id_of(pack) and plan.seed == 7 and plan.n_clean == 4
    assert plan_path(first, plan.pack_id).is_file() and plan_path(second, plan.pack_id).is_file()
    assert sorted(r.item for r in plan.trials if not r.is_clean) == sorted(ids)


def test_pack_ids_are_opaque_and_fresh(tmp_path: Path) -> None:
    coll = tmp_path / "coll"
    make_collection(coll, [10])
    ids = set()
    for k in range(2):  # same items, same seed: still two different packs
        assert main(["study", "pack", str(coll), "--out", str(tmp_path / f"p{k}"), "--seed", "0"]) == 0
        ids.add(pack_id_of(tmp_path / f"p{k}"))
    assert len(ids) == 2 and len(list((coll / PLANS_DIR).iterdir())) == 2


def test_ingest_checks_answers_against_the_plan(
    two_collections: tuple[Path, Path, Path, StudyPlan], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first, second, _, plan = two_collections
    good = pack_answers(plan, "ada", 8, path=tmp_path / "ada.json")
    data = json.loads(good.read_text())
    cases = {
        "missing": {**data, "trials": data["trials"][:-1]},
        "extra": {**data, "trials": [*data["trials"], {"order": 8, "answer": 1, "response_ms": 5}]},
        "twice": {**data, "trials": [*data["trials"][:-1], {**data["trials"][0]}]},
        "unknown-pack": {**data, "pack_id": "0123456789abcdef"},
        "not-an-id": {**data, "pack_id": "../../etc"},
        "invented-control": {**data, "trials": [*data["trials"], {"order": 8, "collection": None,
                                                                   "item": "clean:1", "answer": 2, "response_ms": 5}]},
    }  # fmt: skip
    before = tree(first, second)
    for name, bad in cases.items():
        path = tmp_path / f"{name}.json"
        path.write_text(json.dumps(bad))
        capsys.readouterr()
        code = main(["study", "ingest", str(path), "--collection", str(first), "--collection", str(second)])
        err = capsys.readouterr().err
        assert code == 1 and err.startswith("invariance: error: ") and err.count("\n") == 1, (name, err)
        assert tree(first, second) == before, name
    trial = {"order": 0, "collection": str(first), "item": "x", "answer": 1, "response_ms": 1}
    old_pack = {"format_version": 1, "kind": "invariance-lab.answers", "rater": "x", "seed": 0, "source": "pack",
                "trials": [trial]}  # fmt: skip
    (tmp_path / "old.json").write_text(json.dumps(old_pack))
    assert main(["study", "ingest", str(tmp_path / "old.json"), "--collection", str(first)]) == 1
    assert "old study pack" in capsys.readouterr().err
    # without --collection the plan cannot be found: the error says what to pass
    assert main(["study", "ingest", str(good)]) == 1
    assert "--collection" in capsys.readouterr().err
    assert tree(first, second) == before


def test_a_rater_is_ingested_once_per_pack(
    two_collections: tuple[Path, Path, Path, StudyPlan], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first, second, _, plan = two_collections
    where = ["--collection", str(first), "--collection", str(second)]
    assert main(["study", "ingest", str(pack_answers(plan, "ada", 8, path=tmp_path / "a1.json")), *where]) == 0
    again = pack_answers(plan, "ada", 3, path=tmp_path / "a2.json")
    before = tree(first, second)
    capsys.readouterr()
    assert main(["study", "ingest", str(again), *where]) == 1
    assert f"already ingested for study pack {plan.pack_id}" in capsys.readouterr().err
    assert tree(first, second) == before
    assert main(["study", "ingest", str(again), *where, "--replace-rater"]) == 0
    with Collection.open(first, read_only=True) as collection:
        assert {item.human_labels["ada"] for item in collection.items} == {3}
    ledger = json.loads((first / "study-raters.json").read_text())
    assert list(ledger["raters"]["ada"]) == [f"pack:{plan.pack_id}"]  # replaced, not added


def test_moved_collections_are_found_by_their_plan_copy(
    two_collections: tuple[Path, Path, Path, StudyPlan], tmp_path: Path
) -> None:
    first, second, _, plan = two_collections
    moved = tmp_path / "moved"
    moved.mkdir()
    new_first, new_second = moved / "renamed-a", moved / "renamed-b"
    shutil.copytree(first, new_first, ignore=shutil.ignore_patterns(".lock"))
    shutil.copytree(second, new_second, ignore=shutil.ignore_patterns(".lock"))
    answers = pack_answers(plan, "ada", 8, path=tmp_path / "a.json")
    # the originals still exist; the folders given win, matched through their plan copy despite the new names
    assert main(["study", "ingest", str(answers), "--collection", str(new_second), "--collection", str(new_first)]) == 0
    for folder in (new_first, new_second):
        with Collection.open(folder, read_only=True) as collection:
            assert all(item.human_label == 8 for item in collection.items)
    for folder in (first, second):
        with Collection.open(folder, read_only=True) as collection:
            assert all(not item.human_labels for item in collection.items)


def test_ingest_is_all_or_nothing_across_collections(
    two_collections: tuple[Path, Path, Path, StudyPlan],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    first, second, _, plan = two_collections
    answers = pack_answers(plan, "ada", 8, path=tmp_path / "a.json")
    where = ["--collection", str(first), "--collection", str(second)]
    before = tree(first, second)
    with Collection.open(second):  # the second collection is open for writing elsewhere
        assert main(["study", "ingest", str(answers), *where]) == 1
    assert "already open for writing" in capsys.readouterr().err
    assert tree(first, second) == before

    # a write failing in the second collection: the first is put back
    real_update = Collection.update

    def failing_update(self: Collection, item_id: str, **changes: object) -> object:
        if self.path.name == "coll-k2" and "human_labels" in changes and changes["human_labels"]:
            raise OSError(28, "No space left on device")
        return real_update(self, item_id, **changes)

    monkeypatch.setattr(Collection, "update", failing_update)
    assert main(["study", "ingest", str(answers), *where]) == 1
    assert "undone" in capsys.readouterr().err
    monkeypatch.undo()
    for folder in (first, second):
        with Collection.open(folder, read_only=True) as collection:
            assert all(not item.human_labels and item.human_label is None for item in collection.items)
        assert not (folder / "study-raters.json").exists()


def test_bad_seed_and_output_are_one_line_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    coll = tmp_path / "coll"
    make_collection(coll, [10])
    before = tree(coll)
    for seed in ("-1", str(2**64)):
        assert main(["study", "pack", str(coll), "--out", str(tmp_path / "pack"), "--seed", seed]) == 1
        err = capsys.readouterr().err
        assert err.startswith("invariance: error: ") and "seed" in err and err.count("\n") == 1
    assert not (tmp_path / "pack").exists() and tree(coll) == before
    (tmp_path / "file").write_text("x")
    assert main(["study", "pack", str(coll), "--out", str(tmp_path / "file" / "pack")]) == 1
    assert capsys.readouterr().err.startswith("invariance: error: ")
    assert tree(coll) == before


NESTED = b"[" * 100_000 + b"]" * 100_000
PACK_HEAD = b'{"format_version": 2, "kind": "invariance-lab.answers", "rater": "a", "pack_id": "0123456789abcdef", '
APP_HEAD = b'{"format_version": 1, "kind": "invariance-lab.answers", "rater": "a", '


@pytest.mark.parametrize(
    "payload",
    [
        NESTED,
        PACK_HEAD + b'"trials": [{"order": 0, "answer": 1, "response_ms": ' + b"9" * 5000 + b"}]}",
        PACK_HEAD + b'"trials": [{"order": 0, "answer": 1, "response_ms": 1e400}]}',
        APP_HEAD
        + b'"seed": 0, "trials": [{"order": 0, "collection": null, "item": "clean:'
        + b"9" * 5000
        + b'", "answer": 1, "response_ms": 1}]}',
        APP_HEAD + b'"seed": ' + b"1" * 4000 + b', "trials": []}',
        APP_HEAD + b'"seed": NaN, "trials": []}',
        b'{"rater": "\xff\xfe"}',
    ],
    ids=["nested", "huge-int", "1e400", "huge-clean-index", "huge-seed", "nan", "not-utf8"],
)
def test_bad_answers_are_one_line_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str], payload: bytes) -> None:
    coll = tmp_path / "coll"
    make_collection(coll, [10])
    path = tmp_path / "answers.json"
    path.write_bytes(payload)
    before = tree(coll)
    assert main(["study", "ingest", str(path), "--collection", str(coll)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("invariance: error: ") and err.count("\n") == 1 and str(path) in err
    assert tree(coll) == before


def test_csv_cells_cannot_run_as_formulas(tmp_path: Path) -> None:
    coll = tmp_path / "coll"
    make_collection(coll, [10, 11])
    pack = tmp_path / "pack"
    assert main(["study", "pack", str(coll), "--out", str(pack)]) == 0
    plan = pack_plan(pack, [coll])
    raters = ['=HYPERLINK("http://x")', "+1", "-2", "@SUM(A1)", "ok"]
    for number, rater in enumerate(raters):
        answers = pack_answers(plan, rater, 8, path=tmp_path / f"r{number}.json")
        assert main(["study", "ingest", str(answers), "--collection", str(coll)]) == 0
    assert main(["evaluate", str(coll), "--models", "", "--csv", str(tmp_path / "csv")]) == 0
    with open(tmp_path / "csv" / "raters.csv", newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    assert sorted(row[0] for row in rows[1:]) == sorted(["'" + r if r != "ok" else r for r in raters])
    assert all(not cell.startswith(("=", "+", "-", "@", "\t", "\r")) for row in rows for cell in row)
    assert {row[3] for row in rows[1:]} == {"1.0"}  # figures are numbers: accuracy 1.0, not "100.0%"
    # tab and CR cannot start a rater name (names are stripped), but any text cell is escaped; numbers are not
    assert [csv_cell(c) for c in ("\tx", "\rx", "a=b", -0.25, Percent(0.5), None)] == [
        "'\tx",
        "'\rx",
        "a=b",
        -0.25,
        0.5,
        "",
    ]


def test_evaluate_outputs_under_a_file_are_one_line_errors_and_write_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("INVARIANCE_CHECKPOINTS", str(tmp_path / "no-models"))
    coll = tmp_path / "coll"
    make_collection(coll, [10])
    (tmp_path / "file").write_text("x")
    for args in (["--plot", str(tmp_path / "file" / "plot")], ["--csv", str(tmp_path / "file")],
                 ["--csv", str(tmp_path / "csv"), "--plot", str(tmp_path / "file" / "x")]):  # fmt: skip
        capsys.readouterr()
        assert main(["evaluate", str(coll), *args]) == 1
        err = capsys.readouterr().err
        assert err.startswith("invariance: error: ") and err.count("\n") == 1 and "is a file" in err
        assert not (tmp_path / "csv").exists()
