"""Bad input gets one line naming the file and the problem, exit code 1, nothing written."""

from __future__ import annotations

import argparse
import gzip
import json
import os
import struct
import time
import tracemalloc
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pytest

from core import data
from core.cli import build_parser, main
from core.collection import Collection, fsutil, import_folder, import_npz, npyio, png
from core.data import load_mnist
from core.errors import CollectionError

ID = "0123456789abcdef0123456789abcdef"


def one_line_error(capsys: pytest.CaptureFixture[str], *words: str) -> str:
    err = capsys.readouterr().err
    assert err.startswith("invariance: error:") and err.count("\n") == 1, err
    assert "Traceback" not in err and "internal error" not in err
    for word in words:
        assert word in err, (word, err)
    return err


def listing(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


@pytest.fixture
def coll(tmp_path: Path) -> Path:
    images, _ = load_mnist("test")
    path = tmp_path / "c"
    with Collection.create(path, "hardening") as collection:
        collection.add(images[0], intended_label=3, item_id=ID, source_split="test", source_index=0)
    return path


# ---------------------------------------------------------------------------------------------- ids


@pytest.mark.parametrize("bad", ["../../x", ID + "\n", ID.upper(), ID[:-1], "", "a/" + ID[2:]])
def test_add_refuses_an_invalid_item_id(tmp_path: Path, coll: Path, bad: str) -> None:
    before = listing(tmp_path)
    with Collection.open(coll) as collection, pytest.raises(CollectionError, match="invalid item id"):
        collection.add(np.zeros((28, 28), np.uint8), item_id=bad)
    assert listing(tmp_path) == before


def test_manifest_id_with_trailing_newline_is_refused(coll: Path, capsys: pytest.CaptureFixture[str]) -> None:
    manifest = coll / "manifest.json"
    document = json.loads(manifest.read_text())
    document["items"][0]["id"] = ID + "\n"
    manifest.write_text(json.dumps(document))
    assert main(["collection", str(coll)]) == 1
    one_line_error(capsys, "manifest.json", "invalid item id")


# ---------------------------------------------------------------------------------------------- JSON


@pytest.mark.parametrize(
    "field, raw",
    [
        ("eps", "1e400"),
        ("eps", "1" * 400),
        ("source_index", "9" * 5000),
        ("budget_violation", "1" * 400),
        ("distances", '{"linf": ' + "1" * 400 + "}"),
        ("items", "[" * 100_000 + "]" * 100_000),
    ],
)
def test_manifest_number_and_depth_errors_are_one_line(
    coll: Path, capsys: pytest.CaptureFixture[str], field: str, raw: str
) -> None:
    manifest = coll / "manifest.json"
    document = json.loads(manifest.read_text())
    marker = "__PLACEHOLDER__"
    if field == "items":
        document["items"] = marker
    else:
        document["items"][0][field] = marker
    manifest.write_text(json.dumps(document).replace(f'"{marker}"', raw))
    before = manifest.read_bytes()
    assert main(["collection", str(coll)]) == 1
    one_line_error(capsys, "manifest.json")
    assert manifest.read_bytes() == before


@pytest.mark.parametrize("raw", ["1e400", "1" * 5000, "[" * 100_000])
def test_hf_metadata_number_and_depth_errors_are_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], raw: str
) -> None:
    folder = tmp_path / "hf"
    folder.mkdir()
    (folder / "a.png").write_bytes(png.encode_png(np.zeros((28, 28), np.uint8)))
    (folder / "metadata.jsonl").write_text('{"file_name": "a.png", "label": 3, "eps": ' + raw + ', "norm": "linf"}\n')
    assert main(["import", str(folder), "--out", str(tmp_path / "out")]) == 1
    one_line_error(capsys, "metadata.jsonl")
    assert not (tmp_path / "out").exists()


def test_jsonl_is_split_on_newlines_only(tmp_path: Path) -> None:
    folder = tmp_path / "hf"
    folder.mkdir()
    (folder / "a.png").write_bytes(png.encode_png(np.zeros((28, 28), np.uint8)))
    row = {"file_name": "a.png", "label": 3, "notes": "line\u2028separator\u0085next\x0cpage"}
    (folder / "metadata.jsonl").write_text(json.dumps(row, ensure_ascii=False) + "\n", encoding="utf-8")
    import_folder(folder, tmp_path / "out")
    with Collection.open(tmp_path / "out", read_only=True) as collection:
        assert collection.items[0].notes == row["notes"]


# ---------------------------------------------------------------------------------------------- npz size


def test_npz_total_size_is_capped_before_reading(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(npyio, "MAX_BYTES", 1_000_000)
    monkeypatch.setattr(npyio, "MAX_TOTAL_BYTES", 1_000_000)
    arrays = {name: np.zeros((700, 28, 28), np.uint8) for name in ("images", "originals")}  # 549 kB each
    np.savez_compressed(tmp_path / "two.npz", labels=np.zeros(700, np.int64), **arrays)
    with pytest.raises(CollectionError, match="too large"):
        npyio.load_npz(tmp_path / "two.npz")


def test_small_npz_that_expands_to_750_mb_is_refused_without_allocating(tmp_path: Path) -> None:
    path = tmp_path / "bomb.npz"
    chunk = bytes(16 * 1024 * 1024)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for name in ("images", "originals", "extra"):
            count = 250 * 1024 * 1024 // 784  # 250 MB of uint8 digits per array: each under the per-array cap
            header = np.lib.format.header_data_from_array_1_0(np.zeros((1, 28, 28), np.uint8))
            header["shape"] = (count, 28, 28)
            with archive.open(f"{name}.npy", "w", force_zip64=True) as member:
                np.lib.format.write_array_header_1_0(member, header)
                left = count * 784
                while left:
                    member.write(chunk[: min(left, len(chunk))])
                    left -= min(left, len(chunk))
    assert path.stat().st_size < 2 * 1024 * 1024
    tracemalloc.start()
    try:
        with pytest.raises(CollectionError, match="too large"):
            import_npz(path, tmp_path / "out")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 20 * 1024 * 1024
    assert not (tmp_path / "out").exists()


# ---------------------------------------------------------------------------------------------- PNG


def big_png(side: int, row_filter: int) -> bytes:
    """A ``side`` x ``side`` gray PNG whose every row uses ``row_filter`` (1 = Sub: slow to undo per pixel)."""
    raw = (bytes([row_filter]) + bytes(side)) * side
    header = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    return png.SIGNATURE + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 1)) + chunk(b"IEND", b"")


def test_png_size_is_checked_before_decoding(tmp_path: Path) -> None:
    path = tmp_path / "big.png"
    path.write_bytes(big_png(4096, 1))
    started = time.perf_counter()
    with pytest.raises(CollectionError, match="4096x4096, expected 28x28"):
        png.read_digit_png(path)
    assert time.perf_counter() - started < 2.0


# ---------------------------------------------------------------------------------------------- symlinks


def digit_png(folder: Path, name: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(png.encode_png(np.full((28, 28), 7, np.uint8)))
    return path


def test_imagefolder_does_not_follow_a_linked_class_folder(tmp_path: Path, capsys) -> None:
    digit_png(tmp_path / "outside", "secret.png")
    digit_png(tmp_path / "src" / "3", "a.png")
    os.symlink(tmp_path / "outside", tmp_path / "src" / "4")
    assert main(["import", str(tmp_path / "src"), "--out", str(tmp_path / "out")]) == 1
    one_line_error(capsys, "symbolic link")
    assert not (tmp_path / "out").exists()


def test_imagefolder_does_not_follow_a_linked_file(tmp_path: Path, capsys) -> None:
    secret = digit_png(tmp_path / "outside", "secret.png")
    digit_png(tmp_path / "src" / "3", "a.png")
    os.symlink(secret, tmp_path / "src" / "3" / "b.png")
    assert main(["import", str(tmp_path / "src"), "--out", str(tmp_path / "out")]) == 1
    one_line_error(capsys, "symbolic link")


@pytest.mark.parametrize("fmt", ["hf", "csv"])
def test_hf_and_csv_refuse_linked_images(tmp_path: Path, coll: Path, capsys, fmt: str) -> None:
    with Collection.open(coll, read_only=True) as collection:
        from core.collection import export_collection

        export_collection(collection, tmp_path / "exp", fmt)
    secret = digit_png(tmp_path / "outside", "secret.png")
    image = tmp_path / "exp" / (f"{ID}.png" if fmt == "hf" else f"images/{ID}.png")
    image.unlink()
    os.symlink(secret, image)
    assert main(["import", str(tmp_path / "exp"), "--out", str(tmp_path / "out")]) == 1
    one_line_error(capsys, "symbolic link")


def test_npz_refuses_a_linked_file(tmp_path: Path, capsys) -> None:
    np.savez(tmp_path / "real.npz", images=np.zeros((1, 28, 28), np.uint8), labels=np.array([3]))
    os.symlink(tmp_path / "real.npz", tmp_path / "link.npz")
    assert main(["import", str(tmp_path / "link.npz"), "--out", str(tmp_path / "out")]) == 1
    one_line_error(capsys, "symbolic link")


# ---------------------------------------------------------------------------------------------- outputs


@pytest.mark.parametrize("source", ["npz", "folder", "paper"])
def test_output_under_a_file_is_one_line_error(tmp_path: Path, capsys, source: str) -> None:
    (tmp_path / "afile").write_text("x")
    out = str(tmp_path / "afile" / "coll")
    if source == "npz":
        np.savez(tmp_path / "in.npz", images=np.zeros((1, 28, 28), np.uint8), labels=np.array([3]))
        args = ["import", str(tmp_path / "in.npz"), "--out", out]
    elif source == "folder":
        digit_png(tmp_path / "src" / "3", "a.png")
        args = ["import", str(tmp_path / "src"), "--out", out]
    else:
        from fixtures_collection import write_paper_layout

        write_paper_layout(tmp_path / "repo", count=2, manual=1)
        args = ["import-paper", str(tmp_path / "repo"), "--out", out]
    assert main(args) == 1
    one_line_error(capsys, "afile")
    assert (tmp_path / "afile").read_text() == "x"


# ---------------------------------------------------------------------------------------------- argparse


def test_no_parser_accepts_abbreviations() -> None:
    def parsers(parser: argparse.ArgumentParser) -> list[argparse.ArgumentParser]:
        found = [parser]
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for sub in action.choices.values():
                    found += parsers(sub)
        return found

    every = parsers(build_parser())
    assert len(every) > 10 and all(parser.allow_abbrev is False for parser in every)


def test_n_is_not_taken_for_norm(tmp_path: Path, capsys) -> None:
    np.savez(tmp_path / "in.npz", images=np.zeros((1, 28, 28), np.uint8), labels=np.array([3]))
    with pytest.raises(SystemExit) as exit_info:
        main(["import", str(tmp_path / "in.npz"), "--out", str(tmp_path / "o"), "--nor", "l2", "--eps", "1"])
    assert exit_info.value.code == 2
    assert "unrecognized arguments: --nor" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


# ---------------------------------------------------------------------------------------------- IDX (data --data-dir)


@pytest.mark.parametrize("damage", ["corrupt", "bomb"])
def test_idx_gzip_damage_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, damage: str
) -> None:
    monkeypatch.setattr(data, "MAX_IDX_BYTES", 1024 * 1024)
    header = bytes([0, 0, 8, 3]) + struct.pack(">III", 2, 28, 28)
    if damage == "corrupt":
        packed = bytearray(gzip.compress(header + bytes(2 * 784)))
        packed[12] ^= 0x5A  # inside the deflate stream
    else:
        packed = bytearray(gzip.compress(header + bytes(70 * 1024 * 1024), compresslevel=1))
    (tmp_path / "train-images-idx3-ubyte.gz").write_bytes(bytes(packed))
    tracemalloc.start()
    try:
        assert main(["data", "--data-dir", str(tmp_path)]) == 1
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    one_line_error(capsys, "train-images-idx3-ubyte.gz")
    assert peak < 8 * 1024 * 1024  # read in bounded pieces, never the whole 70 MB


@pytest.mark.parametrize("what", ["manifest.json", "journal.jsonl", "metadata.jsonl", "items.csv"])
def test_text_files_over_the_size_cap_are_one_line(
    tmp_path: Path, coll: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, what: str
) -> None:
    if what in ("metadata.jsonl", "items.csv"):
        with Collection.open(coll, read_only=True) as collection:
            from core.collection import export_collection

            export_collection(collection, tmp_path / "exp", "hf" if what == "metadata.jsonl" else "csv")
        target, args = tmp_path / "exp" / what, ["import", str(tmp_path / "exp"), "--out", str(tmp_path / "out")]
    else:
        target, args = coll / what, ["collection", str(coll)]
        if what == "journal.jsonl":
            target.write_bytes(b"")
    limit = max(target.stat().st_size, (coll / "manifest.json").stat().st_size)
    monkeypatch.setattr(fsutil, "MAX_TEXT_BYTES", limit)
    with target.open("ab") as handle:
        handle.write(b" " * (limit + 1 - target.stat().st_size) if what != "journal.jsonl" else b"x" * (limit + 1))
    assert main(args) == 1
    one_line_error(capsys, what, "too large")
