"""Fuzz every CLI command that reads a collection-area file: a damaged input gives exit 0 (still valid) or exit 1
with one line ``invariance: error: ...``; never a traceback, never exit 3, and no input file changes."""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import io
import shutil
import struct
from pathlib import Path

import numpy as np
import pytest
from fixtures_collection import scratch, write_small_collection
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.cli import main
from core.collection import Collection, export_collection

CLI_FUZZ = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])

TOKENS = (
    b"1e400",
    b"9" * 5000,
    b"[" * 3000,
    b"{" * 3000,
    "\u2028".encode(),
    b"-1",
    b"NaN",
    b"null",
    b'"../../x"',
    b"\x00",
    b"\xff\xfe",
    b"0" * 32 + b"\n",
    b"\n",
    b",",
    b'"',
)

mutations = st.lists(
    st.tuples(
        st.sampled_from(["flip", "truncate", "insert", "token", "delete", "value", "value"]),
        st.integers(0, 2**20),
        st.binary(min_size=1, max_size=6),
        st.sampled_from(TOKENS),
    ),
    min_size=1,
    max_size=3,
)


def damage(data: bytes, edits: list[tuple[str, int, bytes, bytes]]) -> bytes:
    for kind, position, noise, token in edits:
        at = position % (len(data) + 1)
        if kind == "flip" and data:
            at %= len(data)
            data = data[:at] + bytes([data[at] ^ (noise[0] or 1)]) + data[at + 1 :]
        elif kind == "truncate":
            data = data[:at]
        elif kind == "insert":
            data = data[:at] + noise + data[at:]
        elif kind == "token":
            data = data[:at] + token + data[at:]
        elif kind == "value":  # replace the JSON value or CSV cell after the n-th ':' or ',' with the token
            separators = [i for i, byte in enumerate(data) if byte in b":,"]
            if separators:
                start = separators[position % len(separators)] + 1
                end = start
                while end < len(data) and data[end] not in b",}]\n":
                    end += 1
                data = data[:start] + token + data[end:]
        else:
            data = data[:at] + data[at + len(noise) :]
    return data


def tree_hash(root: Path) -> dict[str, str]:
    return {
        str(path.relative_to(root)): hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "dir"
        for path in sorted(root.rglob("*"))
    }


def run_cli(args: list[str]) -> tuple[int, str]:
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        code = main(args)
    return code, err.getvalue()


def check(source: Path, args: list[str], out: Path | None) -> None:
    before = tree_hash(source)
    code, err = run_cli(args)
    assert "Traceback" not in err and "internal error" not in err, err
    assert code in (0, 1), (code, err)
    if code == 1:
        assert err.startswith("invariance: error:") and err.count("\n") == 1, err
        if out is not None:
            assert not out.exists()
            assert not [p.name for p in out.parent.iterdir() if p.name.startswith(f".{out.name}.")]
    assert tree_hash(source) == before


@pytest.fixture(scope="module")
def templates(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("cli-fuzz")
    collection = write_small_collection(root / "coll")
    with Collection.open(collection, compact_every=1000) as coll:  # leave journal lines to read back
        coll.set_human_label(coll.items[0].id, "r1", 4)
        coll.update(coll.items[1].id, notes="journal")
    # the journal is folded into the manifest on a writable close; keep a copy with lines still in it
    found = {"coll": collection}
    with Collection.open(collection, read_only=True) as coll:
        for fmt in ("npz", "hf", "csv", "imagefolder"):
            out = root / (f"{fmt}.npz" if fmt == "npz" else fmt)
            export_collection(coll, out, fmt)
            found[fmt] = out
    plain = root / "plain.npz"
    images = np.random.default_rng(1).integers(0, 256, (3, 28, 28)).astype(np.uint8)
    np.savez(plain, images=images, labels=np.array([1, 2, 3]), originals=images.astype(np.float32) / 255)
    found["plain"] = plain
    idx = root / "idx"
    idx.mkdir()
    for name, dims, body in (
        ("train-images-idx3-ubyte.gz", (3, 28, 28), bytes(3 * 784)),
        ("train-labels-idx1-ubyte.gz", (3,), bytes([1, 2, 3])),
        ("t10k-images-idx3-ubyte.gz", (2, 28, 28), bytes(2 * 784)),
        ("t10k-labels-idx1-ubyte.gz", (2,), bytes([4, 5])),
    ):
        header = bytes([0, 0, 8, len(dims)]) + b"".join(struct.pack(">I", d) for d in dims)
        (idx / name).write_bytes(gzip.compress(header + body) if "images" in name else header + body)
    found["idx"] = idx
    return found


def damaged_copy(template: Path, folder: Path, which: int, edits: list[tuple[str, int, bytes, bytes]]) -> Path:
    """Copy ``template`` into ``folder`` and damage one of its files (chosen by ``which``)."""
    target = folder / template.name
    if template.is_dir():
        shutil.copytree(template, target)
        files = sorted(p for p in target.rglob("*") if p.is_file() and p.name != ".lock")
    else:
        shutil.copy2(template, target)
        files = [target]
    chosen = files[which % len(files)]
    chosen.write_bytes(damage(chosen.read_bytes(), edits))
    return target


@CLI_FUZZ
@given(which=st.integers(0, 50), edits=mutations, command=st.sampled_from(["collection", "export"]))
def test_manifest_journal_and_images(templates: dict[str, Path], which: int, edits, command: str) -> None:
    with scratch() as folder:
        source = damaged_copy(templates["coll"], folder, which, edits)
        if command == "collection":
            check(source, ["collection", str(source)], None)
        else:
            out = folder / "out"
            check(source, ["export", str(source), "--format", "hf", "--out", str(out)], out)


@CLI_FUZZ
@given(which=st.integers(0, 1), edits=mutations, plain=st.booleans())
def test_npz(templates: dict[str, Path], which: int, edits, plain: bool) -> None:
    with scratch() as folder:
        source = damaged_copy(templates["plain" if plain else "npz"], folder, which, edits)
        out = folder / "out"
        check(source, ["import", str(source), "--out", str(out)], out)


@CLI_FUZZ
@given(which=st.integers(0, 50), edits=mutations, fmt=st.sampled_from(["hf", "csv", "imagefolder"]))
def test_folders(templates: dict[str, Path], which: int, edits, fmt: str) -> None:
    with scratch() as folder:
        source = damaged_copy(templates[fmt], folder, which, edits)
        out = folder / "out"
        check(source, ["import", str(source), "--out", str(out)], out)


@CLI_FUZZ
@given(which=st.integers(0, 3), edits=mutations)
def test_idx_data_dir(templates: dict[str, Path], which: int, edits) -> None:
    with scratch() as folder:
        source = damaged_copy(templates["idx"], folder, which, edits)
        before = tree_hash(source)
        code, err = run_cli(["data", "--data-dir", str(source)])
        assert code == 1 and err.startswith("invariance: error:") and err.count("\n") == 1, (code, err)
        assert tree_hash(source) == before
