"""One meaning per label kind (original, intended, human, consensus) in every export format, honoured by --label."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from core.cli import main
from core.collection import Collection, export_collection, import_folder, import_npz
from core.collection.export import EXPORT_FORMATS, UNKNOWN_LABEL
from core.collection.schema import LABEL_FIELDS, LABEL_KINDS
from core.data import load_mnist
from core.labels import NOT_A_DIGIT

ORIGINALS = (7, 2, 1, 0)  # MNIST test labels of indices 0..3


@pytest.fixture
def labelled(tmp_path: Path) -> Path:
    """Four items whose original, intended and human labels all differ, with predictions of two models."""
    images, labels = load_mnist("test")
    assert tuple(int(v) for v in labels[:4]) == ORIGINALS
    path = tmp_path / "labelled"
    with Collection.create(path, "labels") as coll:
        for i in range(4):
            coll.add(
                images[i],
                source_split="test",
                source_index=i,
                intended_label=(ORIGINALS[i] + 1) % 10,
                human_label=[(ORIGINALS[i] + 2) % 10, None, NOT_A_DIGIT, 5][i],
                human_labels={"r1": (ORIGINALS[i] + 2) % 10, "r2": 4} if i == 0 else {},
                norm="linf",
                eps=0.3,
                predictions={"small": i, "big": 9 - i} if i != 1 else {"small": 3},
            )
    return path


def expected(path: Path, kind: str) -> dict[str, int | None]:
    with Collection.open(path, read_only=True) as coll:
        return {item.id: getattr(item, LABEL_FIELDS[kind]) for item in coll.items}


def exported_labels(out: Path, fmt: str) -> dict[str, int | None]:
    if fmt == "npz":
        data = np.load(out, allow_pickle=False)
        pairs = zip(data["ids"], data["labels"], strict=True)
        return {str(i): (None if v == UNKNOWN_LABEL else int(v)) for i, v in pairs}
    if fmt == "hf":
        rows = [json.loads(line) for line in (out / "metadata.jsonl").read_text().splitlines()]
        return {row["id"]: row["label"] for row in rows}
    if fmt == "csv":
        with (out / "items.csv").open(newline="") as handle:
            return {row["id"]: (int(row["label"]) if row["label"] else None) for row in csv.DictReader(handle)}
    found: dict[str, int | None] = {}
    for png in out.glob("*/*.png"):
        found[png.stem] = NOT_A_DIGIT if png.parent.name == "not_a_digit" else int(png.parent.name)
    return found


def test_kinds_are_the_documented_four() -> None:
    assert LABEL_KINDS == ("original", "intended", "human", "consensus")
    assert LABEL_FIELDS["original"] == "original_label" and LABEL_FIELDS["intended"] == "intended_label"
    assert LABEL_FIELDS["human"] == LABEL_FIELDS["consensus"] == "human_label"


@pytest.mark.parametrize("fmt", EXPORT_FORMATS)
@pytest.mark.parametrize("kind", LABEL_KINDS)
def test_every_format_writes_the_chosen_label(tmp_path: Path, labelled: Path, fmt: str, kind: str) -> None:
    out = tmp_path / f"out-{kind}{'.npz' if fmt == 'npz' else ''}"
    assert main(["export", str(labelled), "--format", fmt, "--out", str(out), "--label", kind]) == 0
    want = expected(labelled, kind)
    got = exported_labels(out, fmt)
    if fmt == "imagefolder":  # items without that label are left out
        want = {key: value for key, value in want.items() if value is not None}
    assert got == want
    assert len(set(want.values())) > 1  # the kinds differ from each other, so a wrong pick would show


def test_npz_and_hf_agree_on_every_label_array(tmp_path: Path, labelled: Path) -> None:
    with Collection.open(labelled, read_only=True) as coll:
        export_collection(coll, tmp_path / "e.npz", "npz", label="consensus")
        export_collection(coll, tmp_path / "hf", "hf", label="consensus")
    data = np.load(tmp_path / "e.npz", allow_pickle=False)
    rows = {json.loads(line)["id"]: json.loads(line) for line in (tmp_path / "hf" / "metadata.jsonl").open()}
    assert str(data["label_kind"]) == "consensus"
    for k, item_id in enumerate(data["ids"]):
        row = rows[str(item_id)]
        for array, column in (
            ("original_labels", "original_label"),
            ("intended_labels", "intended_label"),
            ("consensus_labels", "human_label"),
            ("labels", "label"),
        ):
            value = int(data[array][k])
            assert (None if value == UNKNOWN_LABEL else value) == row[column], (array, column)
        assert json.loads(str(data["rater_labels"][k])) == json.loads(row["human_labels"])


@pytest.mark.parametrize("fmt", EXPORT_FORMATS)
def test_exports_carry_each_models_prediction(tmp_path: Path, labelled: Path, fmt: str) -> None:
    out = tmp_path / ("e.npz" if fmt == "npz" else "e")
    with Collection.open(labelled, read_only=True) as coll:
        export_collection(coll, out, fmt)
        want = {item.id: dict(item.predictions) for item in coll.items}
    got: dict[str, dict[str, int]] = {}
    if fmt == "npz":
        data = np.load(out, allow_pickle=False)
        models = [str(m) for m in data["prediction_models"]]
        for item_id, row in zip(data["ids"], data["predictions"], strict=True):
            got[str(item_id)] = {m: int(v) for m, v in zip(models, row, strict=True) if v != UNKNOWN_LABEL}
    else:
        if fmt in ("csv", "imagefolder"):
            with (out / ("items.csv" if fmt == "csv" else "predictions.csv")).open(newline="") as handle:
                rows = list(csv.DictReader(handle))
        else:
            rows = [json.loads(line) for line in (out / "metadata.jsonl").open()]
        for row in rows:
            got[row["id"]] = {
                key[len("pred_") :]: int(value)
                for key, value in row.items()
                if key.startswith("pred_") and value != "" and value is not None
            }
    assert got == want
    back = tmp_path / "back"
    (import_npz if fmt == "npz" else import_folder)(out, back)
    with Collection.open(back, read_only=True) as coll:
        assert {item.id: dict(item.predictions) for item in coll.items} == want


def test_csv_figures_are_numbers(tmp_path: Path, labelled: Path) -> None:
    with Collection.open(labelled, read_only=True) as coll:
        export_collection(coll, tmp_path / "e", "csv")
    with (tmp_path / "e" / "items.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    for row in rows:
        for key in ("eps", "dist_l0", "dist_l1", "dist_l2", "dist_linf", "source_index", "original_label"):
            float(row[key])  # raises on "30.0%" or similar
        assert row["exceeds_budget"] in ("0", "1")


@pytest.mark.parametrize("kind", LABEL_KINDS)
def test_npz_roundtrip_keeps_every_label_and_prediction(tmp_path: Path, labelled: Path, kind: str) -> None:
    with Collection.open(labelled, read_only=True) as coll:
        export_collection(coll, tmp_path / "e.npz", "npz", label=kind)
        before = coll.items
    import_npz(tmp_path / "e.npz", tmp_path / "back")
    with Collection.open(tmp_path / "back", read_only=True) as back:
        for a, b in zip(before, back.items, strict=True):
            assert (a.original_label, a.intended_label, a.human_label) == (
                b.original_label,
                b.intended_label,
                b.human_label,
            )
            assert dict(a.human_labels) == dict(b.human_labels) and dict(a.predictions) == dict(b.predictions)


def test_plain_labelled_npz_labels_are_the_originals(tmp_path: Path) -> None:
    images, labels = load_mnist("test")
    np.savez(tmp_path / "plain.npz", images=images[:5], labels=labels[:5])
    import_npz(tmp_path / "plain.npz", tmp_path / "coll")
    with Collection.open(tmp_path / "coll", read_only=True) as coll:
        assert [item.original_label for item in coll.items] == [int(v) for v in labels[:5]]
        assert all(item.intended_label is None and item.human_label is None for item in coll.items)
    assert main(["import", str(tmp_path / "plain.npz"), "--out", str(tmp_path / "c2"), "--label", "intended"]) == 0
    with Collection.open(tmp_path / "c2", read_only=True) as coll:
        assert [item.intended_label for item in coll.items] == [int(v) for v in labels[:5]]


def test_plain_npz_float_originals_in_unit_range(tmp_path: Path) -> None:
    images, labels = load_mnist("test")
    originals = images[:3].astype(np.float32) / 255.0
    edited = np.clip(images[:3].astype(np.int64) + 20, 0, 255).astype(np.uint8)
    np.savez(tmp_path / "p.npz", images=edited, labels=labels[:3], originals=originals)
    import_npz(tmp_path / "p.npz", tmp_path / "coll")
    with Collection.open(tmp_path / "coll", read_only=True) as coll:
        for k, item in enumerate(coll.items):
            assert item.original is not None
            assert np.array_equal(item.original, images[k])
            assert item.distances["linf"] == pytest.approx(20 / 255, abs=1e-6)


def test_imported_imagefolder_as_original_labels(tmp_path: Path, labelled: Path) -> None:
    with Collection.open(labelled, read_only=True) as coll:
        export_collection(coll, tmp_path / "if", "imagefolder", label="original")
    import_folder(tmp_path / "if", tmp_path / "back", label="original")
    with Collection.open(tmp_path / "back", read_only=True) as back:
        assert sorted(item.original_label for item in back.items) == sorted(ORIGINALS)


def test_export_options_have_help(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["export", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "Hugging Face imagefolder" in text and "torchvision class folders" in text
    assert "{original,intended,human,consensus}" in text


def test_plain_npz_labels_that_contradict_mnist_are_refused(tmp_path: Path, capsys) -> None:
    images, labels = load_mnist("test")
    wrong = (labels[:3] + 1) % 10
    np.savez(tmp_path / "p.npz", images=images[:3], labels=wrong, source_indices=np.arange(3))
    assert main(["import", str(tmp_path / "p.npz"), "--out", str(tmp_path / "c")]) == 1
    err = capsys.readouterr().err
    assert "disagrees with MNIST test[0]" in err and err.count("\n") == 1
    assert not (tmp_path / "c").exists()
    assert main(["import", str(tmp_path / "p.npz"), "--out", str(tmp_path / "c"), "--label", "intended"]) == 0
