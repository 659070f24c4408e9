"""Importers: the paper's release layout, plain npz files, and refusal of bad input without partial output."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from fixtures_collection import PAPER_FILES, write_paper_layout

from core.budget import distance
from core.cli import main
from core.collection import Collection, import_npz, import_paper
from core.data import load_mnist
from core.errors import CollectionError
from core.images import to_float


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def test_paper_layout_imports_with_counts_labels_and_flagged_violation(tmp_path: Path) -> None:
    info = write_paper_layout(tmp_path / "repo", count=6, manual=3)
    report = import_paper(tmp_path / "repo", tmp_path / "coll")
    counts = {entry.set_name: entry.count for entry in report.sets}
    assert counts == {"l0/automated": 6, "linf/automated_eps03": 6, "linf/automated_eps04": 6, "linf/manual_eps04": 3}
    by_set = {entry.set_name: entry for entry in report.sets}
    assert by_set["linf/automated_eps04"].violations == 1
    assert by_set["linf/automated_eps04"].max_violation == pytest.approx(103 / 255, abs=1e-6)
    assert report.violations == 1 and report.total == 21
    test_images, test_labels = load_mnist("test")
    with Collection.open(tmp_path / "coll", read_only=True) as coll:
        items = coll.items
        assert all(item.method == "imported" and item.source_split == "test" for item in items)
        eps04 = [item for item in items if item.set_name == "linf/automated_eps04"]
        flagged = [item for item in eps04 if item.budget_violation is not None]
        assert len(flagged) == 1 and flagged[0].source_index == int(info["indices"][info["violating"]])
        assert np.array_equal(eps04[1].image, info["eps04"][1])  # kept as released, not clipped
        l0 = [item for item in items if item.set_name == "l0/automated"]
        for position, item in enumerate(l0):
            index = int(info["indices"][position])
            assert item.original is not None
            assert np.array_equal(item.original, test_images[index]) and item.original_label == int(test_labels[index])
            assert item.human_label == int(info["labels"]["l0"][position])
            assert item.norm == "l0" and item.eps == float(
                distance(to_float(item.original), to_float(item.image), "l0")
            )
            assert np.array_equal(item.image, info["l0"][position])
        eps03 = [item for item in items if item.set_name == "linf/automated_eps03"]
        assert all(
            item.eps == 0.3 and item.budget_violation is None and item.distances["linf"] <= 0.3 for item in eps03
        )
        manual = [item for item in items if item.set_name == "linf/manual_eps04"]
        assert [item.source_index for item in manual] == [int(i) for i in info["manual_indices"]]
        assert [item.human_label for item in manual] == [int(v) for v in info["labels"]["manual"]]


def test_import_paper_cli_prints_per_set_counts(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_paper_layout(tmp_path / "repo", count=4, manual=2)
    assert main(["import-paper", str(tmp_path / "repo" / "invariance_examples"), "--out", str(tmp_path / "c")]) == 0
    captured = capsys.readouterr()
    assert "l0/automated" in captured.out and "4 item(s)" in captured.out
    assert "linf/manual_eps04" in captured.out and "2 item(s)" in captured.out
    assert "1 over budget" in captured.out and "exceed their budget" in captured.err
    # the same import again resumes: nothing is written twice
    assert main(["import-paper", str(tmp_path / "repo"), "--out", str(tmp_path / "c")]) == 0
    assert "skipped 14 item(s) already in" in capsys.readouterr().out
    with Collection.open(tmp_path / "c", read_only=True) as collection:
        assert len(collection) == 14
    # another source into the same folder is refused
    write_paper_layout(tmp_path / "other", count=3, manual=1, seed=5)
    assert main(["import-paper", str(tmp_path / "other"), "--out", str(tmp_path / "c")]) == 1
    assert "already exists and holds 14 item(s) this import did not write" in capsys.readouterr().err


def corrupt(kind: str, path: Path) -> None:
    array = np.load(path)
    if kind == "missing":
        path.unlink()
    elif kind == "shape":
        np.save(path, array.reshape(len(array), -1)[:, :700] if array.ndim > 1 else array.reshape(1, -1))
    elif kind == "nan":
        np.save(path, np.full(array.shape, np.nan, dtype=np.float32))
    elif kind == "range":
        np.save(path, array.astype(np.int64) + 10_300)
    elif kind == "length":
        np.save(path, array[:-1])
    elif kind == "truncated":
        path.write_bytes(path.read_bytes()[:-7])
    elif kind == "not-npy":
        path.write_text("hello, this is not an array")
    elif kind == "pickle":
        np.save(path, np.array([{"a": 1}] * len(array), dtype=object), allow_pickle=True)


@pytest.mark.parametrize("kind", ["missing", "shape", "nan", "range", "length", "truncated", "not-npy", "pickle"])
@pytest.mark.parametrize("file", ["linf/automated_eps03.npy", "linf/manual_eps04_labels.npy", "indexs.npy"])
def test_bad_paper_files_are_refused_with_nothing_written(tmp_path: Path, kind: str, file: str) -> None:
    write_paper_layout(tmp_path / "repo", count=3, manual=2)
    target = tmp_path / "repo" / "invariance_examples" / file
    corrupt(kind, target)
    with pytest.raises(CollectionError) as caught:
        import_paper(tmp_path / "repo", tmp_path / "coll")
    message = str(caught.value)
    assert "\n" not in message
    assert Path(file).name in message  # named as the bad file, or as the file the others must match
    assert not (tmp_path / "coll").exists() and leftovers(tmp_path) == []


def test_paper_fixture_has_every_file() -> None:
    assert len(PAPER_FILES) == 10


def test_plain_npz_import_uint8_and_float(tmp_path: Path) -> None:
    test_images, test_labels = load_mnist("test")
    indices = np.array([5, 17, 42])
    images = test_images[indices].copy()
    images[:, 10, 10] = 255
    np.savez(tmp_path / "u8.npz", images=images, labels=np.array([1, -1, 7]), source_indices=indices)
    report = import_npz(tmp_path / "u8.npz", tmp_path / "c1", norm="l0", eps=1, label="intended")
    assert report.total == 3
    with Collection.open(tmp_path / "c1", read_only=True) as coll:
        assert [item.intended_label for item in coll.items] == [1, -1, 7]
        assert [item.original_label for item in coll.items] == [int(v) for v in test_labels[indices]]
        assert all(np.array_equal(a.image, b) for a, b in zip(coll.items, images, strict=True))
        assert all(item.norm == "l0" and item.eps == 1.0 for item in coll.items)
    floats = to_float(images).astype(np.float64)
    np.savez(tmp_path / "f.npz", images=floats, labels=np.array([3, 3, 3]))
    import_npz(tmp_path / "f.npz", tmp_path / "c2", label="human")
    with Collection.open(tmp_path / "c2", read_only=True) as coll:
        assert [item.human_label for item in coll.items] == [3, 3, 3]
        assert all(item.original is None and item.norm is None for item in coll.items)
        assert all(np.array_equal(a.image, b) for a, b in zip(coll.items, images, strict=True))


@pytest.mark.parametrize(
    ("arrays", "message"),
    [
        ({"labels": np.zeros(2, np.int64)}, "no 'images'"),
        ({"images": np.zeros((2, 28, 28), np.uint8)}, "no 'labels'"),
        ({"images": np.zeros((2, 28, 27), np.uint8), "labels": np.zeros(2, np.int64)}, "shape"),
        ({"images": np.full((2, 28, 28), 1.5), "labels": np.zeros(2, np.int64)}, "outside 0-1"),
        ({"images": np.full((2, 28, 28), np.nan), "labels": np.zeros(2, np.int64)}, "NaN"),
        ({"images": np.zeros((2, 28, 28), np.uint8), "labels": np.zeros(3, np.int64)}, r"expected shape \(2,\)"),
        ({"images": np.zeros((2, 28, 28), np.uint8), "labels": np.array([0, 11])}, "labels must be"),
        (
            {"images": np.zeros((2, 28, 28), np.uint8), "labels": np.zeros(2), "source_indices": np.array([1, 10_000])},
            "indices must lie",
        ),
    ],
)
def test_bad_npz_is_refused(tmp_path: Path, arrays: dict[str, np.ndarray], message: str) -> None:
    np.savez(tmp_path / "bad.npz", **arrays)
    with pytest.raises(CollectionError, match=message):
        import_npz(tmp_path / "bad.npz", tmp_path / "c")
    assert not (tmp_path / "c").exists() and leftovers(tmp_path) == []


def test_import_cli_errors_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "x.npz").write_bytes(b"PK\x03\x04 nope")
    assert main(["import", str(tmp_path / "x.npz"), "--out", str(tmp_path / "c")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "x.npz" in err
    assert main(["import", str(tmp_path / "missing.npz"), "--out", str(tmp_path / "c")]) == 1
    assert "file not found" in capsys.readouterr().err
    assert not (tmp_path / "c").exists()
