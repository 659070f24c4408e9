"""File-system helpers for collections: staged folders published by rename (atomic files: ``core.files``)."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path

from core.errors import CollectionError
from core.files import TEMP_SUFFIX, atomic_write_bytes, fsync_dir

__all__ = [
    "MAX_TEXT_BYTES",
    "TEMP_SUFFIX",
    "atomic_write_bytes",
    "fsync_dir",
    "fsync_file",
    "publish",
    "read_limited",
    "remove_tree",
    "staging_dir",
]

MAX_TEXT_BYTES = 256 * 1024 * 1024
"""Largest manifest, journal, metadata.jsonl or items.csv read (100,000 items take about 60 MB)."""


def read_limited(path: Path, limit: int | None = None) -> bytes:
    """The bytes of ``path``; CollectionError when it holds more than ``limit`` (default :data:`MAX_TEXT_BYTES`).

    Never reads more than ``limit`` + 1 bytes, whatever the file claims. OSError passes through to the caller.
    """
    limit = MAX_TEXT_BYTES if limit is None else limit
    with path.open("rb") as handle:
        data = handle.read(limit + 1)
    if len(data) > limit:
        raise CollectionError(f"{path}: too large (more than {limit} bytes)")
    return data


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
