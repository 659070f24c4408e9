"""Guarded reading of untrusted ``.npy`` / ``.npz`` files: never unpickles, never allocates from a lying header.

Every failure becomes a :class:`CollectionError` whose message names the file (and the member of an ``.npz``)
and the problem, in one line.
"""

from __future__ import annotations

import io
import zipfile
import zlib
from pathlib import Path
from typing import IO, Final

import numpy as np

from core.errors import CollectionError

MAX_BYTES: Final = 256 * 1024 * 1024
"""Largest array (in bytes, as declared by its header) that will be read."""
MAX_TOTAL_BYTES: Final = 256 * 1024 * 1024
"""Largest sum of an ``.npz``'s members (as declared by the archive, which reading never exceeds)."""

_NUMPY_ERRORS: Final = (
    ValueError,
    OSError,
    EOFError,
    TypeError,
    SyntaxError,
    OverflowError,
    MemoryError,
    KeyError,
    zlib.error,
)  # zlib.error: a damaged compressed member


def load_npy(path: Path) -> np.ndarray:
    """The array in the ``.npy`` file ``path`` (``allow_pickle=False``); CollectionError when absent or invalid."""
    _refuse_link(path)
    if not path.is_file():
        raise CollectionError(f"{path}: file not found")
    try:
        with path.open("rb") as handle:
            return _read_array(handle, str(path))
    except OSError as error:
        raise CollectionError(f"{path}: cannot read ({error.strerror or error})") from None


def load_npz(path: Path) -> dict[str, np.ndarray]:
    """All arrays of the ``.npz`` archive ``path`` by name (without ``.npy``); CollectionError when invalid.

    The archive's declared sizes are checked before anything is decompressed: no member over :data:`MAX_BYTES`
    and no more than :data:`MAX_TOTAL_BYTES` in all (``zipfile`` never reads past a member's declared size).
    """
    _refuse_link(path)
    if not path.is_file():
        raise CollectionError(f"{path}: file not found")
    try:
        with zipfile.ZipFile(path) as archive:
            arrays: dict[str, np.ndarray] = {}
            members = archive.infolist()
            total = sum(info.file_size for info in members)
            if total > MAX_TOTAL_BYTES + 4096 * len(members):
                raise CollectionError(
                    f"{path}: too large ({total} bytes once decompressed; the limit is {MAX_TOTAL_BYTES})"
                )
            for info in members:
                if info.is_dir():
                    continue
                if not info.filename.endswith(".npy"):
                    raise CollectionError(f"{path}: member {info.filename!r} is not a .npy array")
                if info.file_size > MAX_BYTES + 4096:
                    raise CollectionError(f"{path}: member {info.filename!r} is too large ({info.file_size} bytes)")
                raw = archive.read(info)
                arrays[info.filename[: -len(".npy")]] = _read_array(io.BytesIO(raw), f"{path}[{info.filename}]")
            return arrays
    except CollectionError:
        raise
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, RuntimeError) as error:
        raise CollectionError(f"{path}: not a valid .npz archive ({error})") from None
    except _NUMPY_ERRORS as error:
        raise CollectionError(f"{path}: not a valid .npz archive ({type(error).__name__}: {error})") from None


def _refuse_link(path: Path) -> None:
    if path.is_symlink():
        raise CollectionError(f"{path}: is a symbolic link; links are not followed")


def _read_array(handle: IO[bytes], where: str) -> np.ndarray:
    try:
        version = np.lib.format.read_magic(handle)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(handle)
        elif version == (2, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(handle)
        else:
            raise CollectionError(f"{where}: unsupported .npy version {version}")
        if dtype.hasobject:
            raise CollectionError(f"{where}: contains Python objects; refusing to unpickle")
        count = int(np.prod(shape, dtype=np.float64)) if shape else 1
        if count * dtype.itemsize > MAX_BYTES:
            raise CollectionError(f"{where}: array of shape {shape} is too large")
        handle.seek(0)
        array = np.lib.format.read_array(handle, allow_pickle=False)
    except CollectionError:
        raise
    except _NUMPY_ERRORS as error:
        raise CollectionError(f"{where}: not a valid .npy array ({type(error).__name__}: {error})") from None
    if fortran:
        array = np.ascontiguousarray(array)
    return np.asarray(array)
