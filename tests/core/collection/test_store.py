"""Collection store: CRUD, durability (journal replay, torn lines, compaction), corruption reports, locking."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from core.budget import NORMS, distance
from core.collection import Collection, Item
from core.collection.journal import JOURNAL
from core.collection.manifest import BACKUP, MANIFEST
from core.data import load_mnist
from core.errors import BudgetError, CollectionError
from core.images import to_float
from core.labels import NOT_A_DIGIT


@pytest.fixture(scope="module")
def mnist_test() -> tuple[np.ndarray, np.ndarray]:
    return load_mnist("test")


def edited(original: np.ndarray, seed: int, limit: int = 60) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.clip(original.astype(int) + rng.integers(-limit, limit + 1, original.shape), 0, 255).astype(np.uint8)


def add_some(coll: Collection, mnist_test: tuple[np.ndarray, np.ndarray], count: int) -> list[Item]:
    images, _ = mnist_test
    return [
        coll.add(
            edited(images[i], i),
            source_split="test",
            source_index=i,
            intended_label=(i + 3) % 10,
            norm="linf",
            eps=0.3,
            set_name="linf/manual",
            predictions={"undefended": i % 10},
        )
        for i in range(count)
    ]


def snapshot(src: Path, dst: Path) -> Path:
    """Copy a collection folder as it is on disk right now (what a crash would leave)."""
    shutil.copytree(src, dst)
    return dst


def test_add_fills_source_label_distances_and_roundtrips(tmp_path: Path, mnist_test) -> None:
    images, labels = mnist_test
    with Collection.create(tmp_path / "c", "demo", author="ana") as coll:
        item = coll.add(
            edited(images[7], 1), source_split="test", source_index=7, intended_label=NOT_A_DIGIT, norm="linf", eps=0.3
        )
        assert item.original_label == int(labels[7])
        assert item.original is not None and np.array_equal(item.original, images[7])
        assert item.author == "ana" and item.created == item.modified and item.created.endswith("Z")
        assert set(item.distances) == set(NORMS)
        for name in NORMS:
            expected = float(distance(to_float(images[7]), to_float(item.image), name))
            assert item.distances[name] == pytest.approx(expected)
        assert item.image_float().dtype == np.float32 and 0 <= item.image_float().min() <= item.image_float().max() <= 1
        assert np.allclose(item.original_float() * 255, images[7])
    reopened = Collection.open(tmp_path / "c")
    again = reopened.get(item.id)
    assert np.array_equal(again.image, item.image) and again.intended_label == NOT_A_DIGIT
    assert again.distances == pytest.approx(item.distances)
    assert reopened.name == "demo"
    reopened.close()


def test_float_image_is_quantized_inside_budget_and_violations_are_refused(tmp_path: Path, mnist_test) -> None:
    images, _ = mnist_test
    original = to_float(images[3])
    rng = np.random.default_rng(0)
    inside = np.clip(original + rng.uniform(-0.3, 0.3, original.shape), 0, 1)
    with Collection.create(tmp_path / "c", "q") as coll:
        item = coll.add(inside, source_split="test", source_index=3, norm="linf", eps=0.3)
        assert item.image.dtype == np.uint8 and item.distances["linf"] <= 0.3 + 1e-6
        assert item.budget_violation is None
        outside = np.clip(original + 0.5, 0, 1)
        with pytest.raises(BudgetError, match="exceeds eps"):
            coll.add(
                outside.astype(np.uint8) * 0 + (outside * 255).astype(np.uint8),
                source_split="test",
                source_index=3,
                norm="linf",
                eps=0.3,
            )
        flagged = coll.add(
            (outside * 255).astype(np.uint8),
            source_split="test",
            source_index=3,
            norm="linf",
            eps=0.3,
            allow_violation=True,
        )
        assert flagged.budget_violation is not None and flagged.budget_violation > 0.3
        assert flagged.budget_violation == pytest.approx(flagged.distances["linf"])
        assert len(coll) == 2


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"intended_label": 10}, "invalid label"),
        ({"method": "magic"}, "unknown method"),
        ({"norm": "l3", "eps": 1.0}, "unknown norm"),
        ({"norm": "linf"}, "go together"),
        ({"eps": float("nan"), "norm": "linf"}, "finite"),
        ({"predictions": {"m": -1}}, "invalid label"),
        ({"source_split": "test"}, "go together"),
    ],
)
def test_add_rejects_bad_fields(tmp_path: Path, mnist_test, kwargs, message) -> None:
    with Collection.create(tmp_path / "c", "bad") as coll:
        with pytest.raises(CollectionError, match=message):
            coll.add(mnist_test[0][0], **kwargs)
        with pytest.raises(CollectionError, match="shape"):
            coll.add(np.zeros((27, 28), np.uint8))
        with pytest.raises(CollectionError, match="NaN"):
            coll.add(np.full((28, 28), np.nan))
        assert len(coll) == 0


def test_update_delete_restore_and_human_labels(tmp_path: Path, mnist_test) -> None:
    with Collection.create(tmp_path / "c", "u") as coll:
        first, second, third = add_some(coll, mnist_test, 3)
        updated = coll.update(second.id, notes="looks like a 4", intended_label=4)
        assert updated.notes == "looks like a 4" and updated.intended_label == 4 and updated.created == second.created
        with pytest.raises(CollectionError, match="cannot update"):
            coll.update(second.id, distances={})
        coll.set_human_label(second.id, "rater-a", 4)
        labelled = coll.set_human_label(second.id, "rater-b", NOT_A_DIGIT)
        assert labelled.human_labels == {"rater-a": 4, "rater-b": NOT_A_DIGIT}
        assert coll.set_human_label(second.id, "rater-a", None).human_labels == {"rater-b": NOT_A_DIGIT}
        new_pixels = edited(mnist_test[0][1], 99, limit=30)
        repainted = coll.update(second.id, image=new_pixels)
        assert np.array_equal(repainted.image, new_pixels) and repainted.image_file != second.image_file
        removed = coll.delete(second.id)
        assert [i.id for i in coll.items] == [first.id, third.id]
        with pytest.raises(CollectionError, match="no item"):
            coll.get(second.id)
        coll.restore(removed, position=1)
        assert [i.id for i in coll.items] == [first.id, second.id, third.id]
        with pytest.raises(CollectionError, match="already exists"):
            coll.restore(removed)
    with Collection.open(tmp_path / "c") as coll:
        assert [i.id for i in coll.items] == [first.id, second.id, third.id]
        restored = coll.get(second.id)
        assert np.array_equal(restored.image, new_pixels)
        assert restored.human_labels == {"rater-b": NOT_A_DIGIT} and restored.notes == "looks like a 4"


def test_journal_is_replayed_after_a_crash(tmp_path: Path, mnist_test) -> None:
    coll = Collection.create(tmp_path / "c", "j")
    items = add_some(coll, mnist_test, 4)
    coll.delete(items[0].id)
    coll.update(items[1].id, intended_label=9)
    assert (tmp_path / "c" / JOURNAL).stat().st_size > 0
    crashed = snapshot(tmp_path / "c", tmp_path / "crashed")
    coll.close()
    with Collection.open(crashed) as recovered:
        assert [i.id for i in recovered.items] == [i.id for i in items[1:]]
        assert recovered.get(items[1].id).intended_label == 9
        for item in items[1:]:
            assert np.array_equal(recovered.get(item.id).image, item.image)
    assert (crashed / JOURNAL).stat().st_size == 0  # folded into the manifest


def test_torn_last_journal_line_is_ignored_and_orphans_removed(tmp_path: Path, mnist_test) -> None:
    coll = Collection.create(tmp_path / "c", "t")
    items = add_some(coll, mnist_test, 2)
    crashed = snapshot(tmp_path / "c", tmp_path / "crashed")
    coll.close()
    journal = crashed / JOURNAL
    journal.write_bytes(journal.read_bytes() + b'1234abcd {"seq": 99, "op": "put", "rec')
    (crashed / "images" / ".half.png.tmp").write_bytes(b"partial")
    (crashed / "images" / f"{'f' * 32}-0123456789abcdef.png").write_bytes(b"orphan")
    with Collection.open(crashed) as recovered:
        assert [i.id for i in recovered.items] == [i.id for i in items]
    assert not (crashed / "images" / ".half.png.tmp").exists()
    assert not (crashed / "images" / f"{'f' * 32}-0123456789abcdef.png").exists()


def test_corrupt_middle_journal_line_is_an_error(tmp_path: Path, mnist_test) -> None:
    coll = Collection.create(tmp_path / "c", "m")
    add_some(coll, mnist_test, 3)
    crashed = snapshot(tmp_path / "c", tmp_path / "crashed")
    coll.close()
    lines = (crashed / JOURNAL).read_bytes().split(b"\n")
    lines[0] = lines[0][:20] + b"X" + lines[0][21:]
    (crashed / JOURNAL).write_bytes(b"\n".join(lines))
    before = (crashed / JOURNAL).read_bytes()
    with pytest.raises(CollectionError, match=r"journal.jsonl: line 1 is corrupt"):
        Collection.open(crashed)
    assert (crashed / JOURNAL).read_bytes() == before


def test_compaction_keeps_backup_and_crash_between_rewrite_and_truncate_is_harmless(tmp_path: Path, mnist_test) -> None:
    coll = Collection.create(tmp_path / "c", "k", compact_every=3)
    items = add_some(coll, mnist_test, 7)
    assert (tmp_path / "c" / BACKUP).exists()
    journal_lines = (tmp_path / "c" / JOURNAL).read_bytes().count(b"\n")
    assert journal_lines == 1  # 7 = 2 compactions of 3 + 1
    manifest = json.loads((tmp_path / "c" / MANIFEST).read_text())
    assert manifest["format_version"] == 1 and len(manifest["items"]) == 6
    old_journal = (tmp_path / "c" / JOURNAL).read_bytes()
    coll.compact()
    crashed = snapshot(tmp_path / "c", tmp_path / "crashed")
    coll.close()
    (crashed / JOURNAL).write_bytes(old_journal)  # journal not yet truncated when the crash happened
    with Collection.open(crashed) as recovered:
        assert [i.id for i in recovered.items] == [i.id for i in items]


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"{not json", "invalid JSON"),
        (b"\xff\xfe", "not UTF-8"),
        (b"[]", "top level is not an object"),
        (
            b'{"format_version": 99, "name": "x", "author": "", "created": "", "journal_seq": 0, "items": []}',
            "unknown format_version 99",
        ),
        (
            b'{"format_version": 1, "name": "x", "author": "", "created": "", "journal_seq": 0, "items": [{}]}',
            "invalid item id",
        ),
    ],
)
def test_corrupt_manifest_is_reported_with_backup_and_left_untouched(
    tmp_path: Path, mnist_test, content, reason
) -> None:
    with Collection.create(tmp_path / "c", "x", compact_every=1) as coll:
        add_some(coll, mnist_test, 2)
    manifest = tmp_path / "c" / MANIFEST
    manifest.write_bytes(content)
    with pytest.raises(CollectionError, match=reason) as caught:
        Collection.open(tmp_path / "c")
    message = str(caught.value)
    assert "manifest.json" in message and BACKUP in message and "\n" not in message
    assert manifest.read_bytes() == content
    shutil.copy(tmp_path / "c" / BACKUP, manifest)  # the backup is a valid manifest
    with Collection.open(tmp_path / "c", read_only=True) as coll:
        assert len(coll) >= 1


def test_missing_or_corrupt_image_file_is_reported(tmp_path: Path, mnist_test) -> None:
    with Collection.create(tmp_path / "c", "img") as coll:
        item = add_some(coll, mnist_test, 1)[0]
    (tmp_path / "c" / item.image_file).write_bytes(b"\x89PNG\r\n\x1a\nbroken")
    with pytest.raises(CollectionError, match="corrupt image"):
        Collection.open(tmp_path / "c")
    (tmp_path / "c" / item.image_file).unlink()
    with pytest.raises(CollectionError, match="image file missing"):
        Collection.open(tmp_path / "c")


def test_one_writer_at_a_time(tmp_path: Path, mnist_test) -> None:
    coll = Collection.create(tmp_path / "c", "lock")
    add_some(coll, mnist_test, 1)
    with pytest.raises(CollectionError, match=r"already open for writing by process \d+"):
        Collection.open(tmp_path / "c")
    with Collection.open(tmp_path / "c", read_only=True) as reader:
        assert len(reader) == 1
        with pytest.raises(CollectionError, match="read-only"):
            reader.delete(reader.items[0].id)
    code = textwrap.dedent(
        f"""
        import sys
        from core.collection import Collection
        from core.errors import CollectionError
        try:
            Collection.open({str(tmp_path / "c")!r})
        except CollectionError as error:
            print(error)
            sys.exit(7)
        """
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 7 and "already open for writing" in result.stdout
    coll.close()
    with Collection.open(tmp_path / "c") as again:
        assert len(again) == 1


def test_create_refuses_existing_folder(tmp_path: Path) -> None:
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "something").write_text("x")
    with pytest.raises(CollectionError, match="already exists"):
        Collection.create(tmp_path / "c", "x")
    with pytest.raises(CollectionError, match="not a collection"):
        Collection.open(tmp_path / "nowhere")
    with pytest.raises(CollectionError, match="missing"):
        Collection.open(tmp_path / "c")


def test_batch_defers_fsync_but_keeps_every_change(tmp_path: Path, mnist_test) -> None:
    coll = Collection.create(tmp_path / "c", "b", compact_every=2)
    with coll.batch():
        items = add_some(coll, mnist_test, 5)
        for item in items:
            coll.set_human_label(item.id, "r", 1)
        assert (tmp_path / "c" / JOURNAL).read_bytes().count(b"\n") == 10  # no compaction inside the block
    assert (tmp_path / "c" / JOURNAL).stat().st_size == 0  # compacted when the block ended
    crashed = snapshot(tmp_path / "c", tmp_path / "crashed")
    coll.close()
    with Collection.open(crashed) as recovered:
        assert [i.human_labels for i in recovered.items] == [{"r": 1}] * 5


def test_pid_file_fallback_trusts_only_live_other_processes(tmp_path: Path) -> None:
    from core.collection.lock import _check_pid_file

    lock = tmp_path / ".lock"
    lock.write_text(f"{os.getppid()}\n")  # a live process that is not us
    with pytest.raises(BlockingIOError):
        _check_pid_file(lock)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    lock.write_text(f"{dead.pid}\n")
    _check_pid_file(lock)
    lock.write_text(f"{os.getpid()}\n")
    _check_pid_file(lock)
