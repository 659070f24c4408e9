"""Export formats and save -> export -> import round trips; budget re-check; atomic, non-clobbering output."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from fixtures_collection import write_paper_layout

from core.cli import main
from core.collection import Collection, Item, export_collection, import_folder, import_npz, import_paper
from core.collection.export import UNKNOWN_LABEL
from core.data import load_mnist
from core.errors import CollectionError
from core.labels import NOT_A_DIGIT


@pytest.fixture
def saved(tmp_path: Path) -> Path:
    """A collection with manual, GenInv-like and original-less items, various labels and predictions."""
    images, _ = load_mnist("test")
    rng = np.random.default_rng(3)
    path = tmp_path / "saved"
    with Collection.create(path, "round trip", author="tester") as coll:
        for i in range(6):
            change = rng.integers(-70, 71, (28, 28))
            coll.add(
                np.clip(images[i].astype(int) + change, 0, 255).astype(np.uint8),
                source_split="test",
                source_index=i,
                intended_label=[3, NOT_A_DIGIT, 5, 0, 9, 1][i],
                human_label=[3, None, 5, NOT_A_DIGIT, None, 2][i],
                norm="linf",
                eps=0.3,
                method="manual" if i % 2 else "geninv-linf",
                set_name=f"set{i % 2}",
                predictions={"undefended": i, "madry": (i + 1) % 10},
                notes=f"note, with comma {i}",
            )
        coll.set_human_label(coll.items[0].id, "r1", 3)
        coll.add(rng.integers(0, 256, (28, 28)).astype(np.uint8), intended_label=7, method="imported", set_name="raw")
    return path


def same_pixels_and_labels(a: Item, b: Item) -> None:
    assert a.image.tobytes() == b.image.tobytes()
    assert (a.intended_label, a.human_label) == (b.intended_label, b.human_label)


def test_npz_roundtrip_is_lossless(tmp_path: Path, saved: Path) -> None:
    with Collection.open(saved, read_only=True) as coll:
        report = export_collection(coll, tmp_path / "out.npz", "npz")
        originals = coll.items
    assert report.count == len(originals) and not report.violations
    data = np.load(tmp_path / "out.npz", allow_pickle=False)
    assert data["images"].shape == (7, 28, 28) and data["images"].dtype == np.uint8
    assert list(data["consensus_labels"]) == [3, UNKNOWN_LABEL, 5, NOT_A_DIGIT, UNKNOWN_LABEL, 2, UNKNOWN_LABEL]
    assert list(data["source_indices"]) == [0, 1, 2, 3, 4, 5, -1]
    assert not data["has_original"][-1]
    import_npz(tmp_path / "out.npz", tmp_path / "back")
    with Collection.open(tmp_path / "back", read_only=True) as back:
        assert [item.id for item in back.items] == [item.id for item in originals]
        for a, b in zip(originals, back.items, strict=True):
            same_pixels_and_labels(a, b)
            assert (a.original_label, a.source_split, a.source_index) == (
                b.original_label,
                b.source_split,
                b.source_index,
            )
            assert (a.set_name, a.method, a.norm, a.eps) == (b.set_name, b.method, b.norm, b.eps)
            assert a.distances == pytest.approx(b.distances)
            assert (a.original is None) == (b.original is None)
            if a.original is not None and b.original is not None:
                assert a.original.tobytes() == b.original.tobytes()


@pytest.mark.parametrize("fmt", ["imagefolder", "hf"])
@pytest.mark.parametrize("label", ["intended", "human"])
def test_folder_formats_roundtrip_images_and_labels(tmp_path: Path, saved: Path, fmt: str, label: str) -> None:
    with Collection.open(saved, read_only=True) as coll:
        originals = coll.items
        report = export_collection(coll, tmp_path / "out", fmt, label=label)
    chosen = {item.id: (item.intended_label if label == "intended" else item.human_label) for item in originals}
    if fmt == "imagefolder":
        expected_ids = [item_id for item_id, value in chosen.items() if value is not None]
        assert sorted(report.skipped) == sorted(set(chosen) - set(expected_ids))
        folders = {p.name for p in (tmp_path / "out").iterdir() if p.is_dir()}
        assert folders <= {*(str(d) for d in range(10)), "not_a_digit"}
        if label == "intended":
            assert "not_a_digit" in folders
    else:
        expected_ids = list(chosen)
        rows = [json.loads(line) for line in (tmp_path / "out" / "metadata.jsonl").read_text().splitlines()]
        assert {row["file_name"] for row in rows} == {f"{item_id}.png" for item_id in chosen}
        assert all(row["label"] == chosen[row["id"]] for row in rows)
    import_folder(tmp_path / "out", tmp_path / "back", label=label)
    with Collection.open(tmp_path / "back", read_only=True) as back:
        by_id = {item.id: item for item in back.items}
        assert sorted(by_id) == sorted(expected_ids)
        for item in originals:
            if item.id in by_id:
                assert item.image.tobytes() == by_id[item.id].image.tobytes()
                got = by_id[item.id].intended_label if label == "intended" else by_id[item.id].human_label
                assert got == chosen[item.id]
                if fmt == "hf":
                    same_pixels_and_labels(item, by_id[item.id])
                    assert by_id[item.id].source_index == item.source_index
                    assert dict(by_id[item.id].predictions) == dict(item.predictions)


def test_csv_has_one_row_per_item_with_every_scalar_field(tmp_path: Path, saved: Path) -> None:
    with Collection.open(saved, read_only=True) as coll:
        export_collection(coll, tmp_path / "out", "csv")
        originals = coll.items
    with (tmp_path / "out" / "items.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == len(originals)
    for column in (
        "id",
        "image_file",
        "original_file",
        "set_name",
        "method",
        "source_index",
        "intended_label",
        "human_label",
        "norm",
        "eps",
        "dist_l0",
        "dist_linf",
        "author",
        "created",
        "notes",
        "exceeds_budget",
        "pred_undefended",
        "pred_madry",
    ):
        assert column in rows[0]
    for row, item in zip(rows, originals, strict=True):
        assert row["id"] == item.id and row["notes"] == item.notes
        assert (tmp_path / "out" / row["image_file"]).is_file()
        assert row["human_label"] == ("" if item.human_label is None else str(item.human_label))
    assert rows[-1]["original_file"] == "" and rows[-1]["source_index"] == ""


def test_violations_refuse_export_unless_allowed_and_then_flag_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_paper_layout(tmp_path / "repo", count=3, manual=1)
    import_paper(tmp_path / "repo", tmp_path / "coll")
    for fmt in ("npz", "imagefolder", "csv", "hf"):
        out = tmp_path / f"out-{fmt}"
        args = ["export", str(tmp_path / "coll"), "--format", fmt, "--out", str(out), "--label", "human"]
        assert main(args) == 1
        assert "exceed their budget" in capsys.readouterr().err
        assert not out.exists()
        assert main([*args, "--allow-violations"]) == 0
        captured = capsys.readouterr()
        assert "budget violation: item" in captured.err and "wrote 10 item(s)" in captured.out
    flags = np.load(tmp_path / "out-npz", allow_pickle=False)["exceeds_budget"]
    assert flags.sum() == 1
    rows = [json.loads(line) for line in (tmp_path / "out-hf" / "metadata.jsonl").read_text().splitlines()]
    assert sum(row["exceeds_budget"] for row in rows) == 1
    assert (tmp_path / "out-imagefolder" / "budget_violations.csv").read_text().count("\n") == 2
    with (tmp_path / "out-csv" / "items.csv").open(newline="") as handle:
        assert sum(row["exceeds_budget"] == "1" for row in csv.DictReader(handle)) == 1
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


def test_existing_output_is_kept_unless_force(tmp_path: Path, saved: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "precious.txt").write_text("keep me")
    with Collection.open(saved, read_only=True) as coll:
        with pytest.raises(CollectionError, match="already exists"):
            export_collection(coll, out, "hf")
        with pytest.raises(CollectionError, match="not replacing it"):
            export_collection(coll, out, "hf", force=True)
        assert (out / "precious.txt").read_text() == "keep me"
        export_collection(coll, tmp_path / "exported", "hf")
        export_collection(coll, tmp_path / "exported", "hf", force=True)
        with pytest.raises(CollectionError, match="unknown export format"):
            export_collection(coll, tmp_path / "x", "parquet")
    assert (out / "precious.txt").exists() and (tmp_path / "exported" / "metadata.jsonl").exists()
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


def test_cli_roundtrip_through_imagefolder_and_info(tmp_path: Path, saved: Path, capsys) -> None:
    assert main(["export", str(saved), "--format", "imagefolder", "--out", str(tmp_path / "if")]) == 0
    assert "wrote 7 item(s)" in capsys.readouterr().out
    assert main(["import", str(tmp_path / "if"), "--out", str(tmp_path / "back")]) == 0
    assert main(["import", str(tmp_path / "if"), "--out", str(tmp_path / "b2"), "--norm", "l2", "--eps", "1"]) == 2
    assert "npz files only" in capsys.readouterr().err
    assert main(["collection", str(tmp_path / "back")]) == 0
    out = capsys.readouterr().out
    assert "7 item(s)" in out and "imported" in out


def test_csv_roundtrip_restores_every_field_but_timestamps(tmp_path: Path, saved: Path) -> None:
    with Collection.open(saved, read_only=True) as coll:
        export_collection(coll, tmp_path / "out", "csv")
        originals = coll.items
    import_folder(tmp_path / "out", tmp_path / "back")
    with Collection.open(tmp_path / "back", read_only=True) as back:
        assert [item.id for item in back.items] == [item.id for item in originals]
        for a, b in zip(originals, back.items, strict=True):
            same_pixels_and_labels(a, b)
            assert (a.original is None) == (b.original is None)
            if a.original is not None and b.original is not None:
                assert a.original.tobytes() == b.original.tobytes()
            for name in (
                "original_label",
                "source_split",
                "source_index",
                "set_name",
                "method",
                "norm",
                "eps",
                "author",
                "notes",
                "budget_violation",
            ):
                assert getattr(a, name) == getattr(b, name), name
            assert dict(a.predictions) == dict(b.predictions) and dict(a.human_labels) == dict(b.human_labels)
            assert a.distances == pytest.approx(b.distances)
