"""Atomic, durable file writes shared by every writer of the product.

A reader sees either the old file or the whole new one, never a mix: the data goes to a temporary file in the
same folder, is flushed and fsynced, then renamed over the target, and the folder entry is fsynced.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Final

TEMP_SUFFIX: Final = ".tmp"
"""Suffix of every temporary file written here (collections remove stale ones when they open)."""


def fsync_dir(path: Path) -> None:
    """Flush the directory entry table of ``path`` (no-op where directories cannot be opened, e.g. Windows)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_output(path: Path, *, durable: bool = True, overwrite: bool = True) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; when the block ends without error, it becomes ``path``.

    For writers that want a file name (``np.save``, ``safetensors.save_file``). With ``overwrite=False`` an
    existing ``path`` is never replaced and :class:`FileExistsError` is raised instead (via ``os.link``).
    On error the temporary file is removed and ``path`` is untouched.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=TEMP_SUFFIX, dir=path.parent)
    os.close(fd)
    temporary = Path(name)
    try:
        yield temporary
        if durable:
            with open(temporary, "rb") as handle:
                os.fsync(handle.fileno())
        os.chmod(temporary, 0o644)
        if overwrite:
            os.replace(temporary, path)
        else:
            os.link(temporary, path)
        if durable:
            fsync_dir(path.parent)
    finally:
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()


def atomic_write_bytes(path: Path, data: bytes, *, durable: bool = True, overwrite: bool = True) -> None:
    """Write ``data`` to ``path`` atomically (see :func:`atomic_output`)."""
    with atomic_output(path, durable=durable, overwrite=overwrite) as temporary:
        temporary.write_bytes(data)


def atomic_write_text(path: Path, text: str, *, durable: bool = True, overwrite: bool = True) -> None:
    """Write UTF-8 ``text`` to ``path`` atomically (see :func:`atomic_output`)."""
    atomic_write_bytes(path, text.encode("utf-8"), durable=durable, overwrite=overwrite)
