"""Durable file-system helpers: atomic writes (temp file + fsync + os.replace + directory fsync)."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path
from typing import Final

TEMP_SUFFIX: Final = ".tmp"
"""Suffix of every temporary file this package writes (removed when a collection is opened for writing)."""


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


def atomic_write_bytes(path: Path, data: bytes, *, durable: bool = True) -> None:
    """Write ``data`` to ``path`` so that readers see the old file or the whole new one, never a mix."""
    with tempfile.NamedTemporaryFile(
        dir=path.parent, prefix=f".{path.name}.", suffix=TEMP_SUFFIX, delete=False
    ) as handle:
        temporary = handle.name
        try:
            handle.write(data)
            handle.flush()
            if durable:
                os.fsync(handle.fileno())
        except BaseException:
            handle.close()
            with contextlib.suppress(OSError):
                os.unlink(temporary)
            raise
    try:
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    if durable:
        fsync_dir(path.parent)


def fsync_file(path: Path) -> None:
    """fsync an existing file by path."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def staging_dir(target: Path, purpose: str) -> Path:
    """A fresh hidden directory beside ``target`` to build it in before :func:`publish` renames it into place."""
    target.parent.mkdir(parents=True, exist_ok=True)
    staged = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.{purpose}-", suffix=TEMP_SUFFIX))
    staged.chmod(0o755)  # mkdtemp makes it private; the published folder should look like any other
    return staged


def publish(staged: Path, target: Path, *, force: bool) -> None:
    """Rename ``staged`` (file or directory) to ``target``; an existing ``target`` is replaced only with ``force``.

    Raises FileExistsError when ``target`` exists and ``force`` is false (``staged`` is left for the caller).
    """
    if target.exists() or target.is_symlink():
        if not force:
            raise FileExistsError(str(target))
        old = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.old-", suffix=TEMP_SUFFIX))
        moved = old / "previous"
        os.replace(target, moved)
        try:
            os.replace(staged, target)
        except OSError:
            os.replace(moved, target)
            raise
        finally:
            fsync_dir(target.parent)
        remove_tree(old)
    else:
        os.replace(staged, target)
        fsync_dir(target.parent)


def remove_tree(path: Path) -> None:
    """Delete a file or a directory tree, ignoring what is already gone."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
