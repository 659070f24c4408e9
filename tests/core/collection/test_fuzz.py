"""Fuzzing: the manifest/journal reader, the PNG decoder and the importers raise CollectionError or succeed.

Never another exception, and a failed import leaves nothing behind.
"""

from __future__ import annotations

import io
import json
import shutil
from contextlib import suppress
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fixtures_collection import (
    FUZZ,
    FUZZ_WRITES,
    any_array,
    json_values,
    leftovers,
    mutate,
    scratch,
    write_small_collection,
)
from hypothesis import given
from hypothesis import strategies as st

from core.collection import Collection, import_npz
from core.collection.journal import JOURNAL
from core.collection.manifest import MANIFEST
from core.collection.png import decode_png, encode_png
from core.errors import CollectionError


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_small_collection(tmp_path_factory.mktemp("fuzz") / "template")


@FUZZ
@given(data=st.binary(max_size=300))
def test_png_decoder_only_raises_value_error(data: bytes) -> None:
    valid = encode_png(np.arange(784, dtype=np.uint8).reshape(28, 28) % 251)
    for candidate in (data, valid[: len(data) % len(valid)] + data, valid[:33] + data):
        with suppress(ValueError):
            decode_png(candidate)


def test_png_roundtrip_exact() -> None:
    image = np.random.default_rng(1).integers(0, 256, (28, 28)).astype(np.uint8)
    assert np.array_equal(decode_png(encode_png(image)), image)


@FUZZ
@given(path=st.lists(st.integers(0, 50), max_size=5), value=json_values)
def test_mutated_manifest_gives_collection_error_or_opens(template: Path, path: list[int], value: Any) -> None:
    with scratch() as folder:
        target = shutil.copytree(template, folder / "c")
        document = json.loads((target / MANIFEST).read_text())
        content = json.dumps(mutate(document, path, value)).encode()
        (target / MANIFEST).write_bytes(content)
        try:
            Collection.open(target, read_only=True).close()
        except CollectionError as error:
            assert "\n" not in str(error)
            assert (target / MANIFEST).read_bytes() == content  # left untouched
        else:
            Collection.open(target).close()  # what reads also opens for writing


@FUZZ_WRITES
@given(data=st.binary(max_size=200), keep=st.integers(0, 400))
def test_random_manifest_or_journal_bytes(template: Path, data: bytes, keep: int) -> None:
    with scratch() as folder:
        target = shutil.copytree(template, folder / "c")
        manifest = (target / MANIFEST).read_bytes()
        (target / MANIFEST).write_bytes(manifest[:keep] + data)
        try:
            Collection.open(target).close()
        except CollectionError:
            assert (target / MANIFEST).read_bytes() == manifest[:keep] + data
        (target / MANIFEST).write_bytes(manifest)
        (target / JOURNAL).write_bytes(data)
        try:
            with Collection.open(target) as coll:
                assert len(coll) == 3
        except CollectionError:
            pass


def valid_npz(seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {
        "images": rng.integers(0, 256, (3, 28, 28)).astype(np.uint8),
        "labels": rng.integers(-1, 10, 3),
        "source_indices": rng.integers(0, 10_000, 3),
    }


@FUZZ_WRITES
@given(
    seed=st.integers(0, 3),
    overrides=st.dictionaries(
        st.sampled_from(["images", "labels", "source_indices", "intended_labels", "originals", "ids", "eps", "norms"]),
        any_array,
        max_size=2,
    ),
    drop=st.sets(st.sampled_from(["images", "labels", "source_indices"]), max_size=1),
    norm=st.sampled_from([None, "linf", "l0"]),
)
def test_npz_importer_fuzz(seed: int, overrides: dict[str, np.ndarray], drop: set[str], norm: str | None) -> None:
    arrays = {key: value for key, value in {**valid_npz(seed), **overrides}.items() if key not in drop}
    with scratch() as folder:
        np.savez(folder / "in.npz", **arrays)
        try:
            report = import_npz(folder / "in.npz", folder / "out", norm=norm, eps=None if norm is None else 0.3)
        except CollectionError as error:
            assert "\n" not in str(error)
            assert not (folder / "out").exists() and leftovers(folder) == []
        else:
            with Collection.open(folder / "out", read_only=True) as coll:
                assert len(coll) == report.total == len(arrays["images"])


@FUZZ
@given(data=st.binary(max_size=400), prefix=st.sampled_from([b"", b"PK\x03\x04", b"\x93NUMPY\x01\x00"]))
def test_random_bytes_are_not_npz(data: bytes, prefix: bytes) -> None:
    with scratch() as folder:
        (folder / "in.npz").write_bytes(prefix + data)
        with pytest.raises(CollectionError):
            import_npz(folder / "in.npz", folder / "out")
        assert not (folder / "out").exists() and leftovers(folder) == []


@pytest.mark.parametrize("mode", ["L", "LA", "RGB", "RGBA"])
def test_png_decoder_reads_other_writers_with_every_row_filter(tmp_path: Path, mode: str) -> None:
    image_module = pytest.importorskip("PIL.Image")
    gray = np.random.default_rng(2).integers(0, 256, (28, 28)).astype(np.uint8)
    gray[:, :14] = np.arange(14, dtype=np.uint8) * 9  # smooth part: encoders pick Sub/Up/Average/Paeth there
    picture = image_module.fromarray(gray, mode="L").convert(mode)
    picture.save(tmp_path / "x.png", optimize=True)
    assert np.array_equal(decode_png((tmp_path / "x.png").read_bytes()), gray)
    ours = image_module.open(io.BytesIO(encode_png(gray)))
    assert np.array_equal(np.asarray(ours), gray)


def test_png_decoder_refuses_colour() -> None:
    image_module = pytest.importorskip("PIL.Image")
    colour = np.zeros((28, 28, 3), np.uint8)
    colour[..., 0] = 200
    buffer = io.BytesIO()
    image_module.fromarray(colour, mode="RGB").save(buffer, format="PNG")
    with pytest.raises(ValueError, match="colour image"):
        decode_png(buffer.getvalue())
