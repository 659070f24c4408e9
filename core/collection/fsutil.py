"""File-system helpers for collections: staged folders published by rename (atomic files: ``core.files``)."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from core.errors import CollectionError
from core.files import TEMP_SUFFIX, atomic_write_bytes, fsync_dir

__all__ = [
    "MAX_TEXT_BYTES",
    "TEMP_SUFFIX",
    "StaleStaging",
    "atomic_write_bytes",
    "clear_stale_staging",
    "fsync_dir",
    "fsync_file",
    "process_alive",
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
    """A fresh hidden directory beside ``target`` to build it in before :func:`publish` renames it into place.

    Named ``.TARGET.PURPOSE-PID-RANDOM.tmp``: the process id tells :func:`clear_stale_staging` whether the folder's
    owner still runs.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    prefix = f".{target.name}.{purpose}-{os.getpid()}-"
    staged = Path(tempfile.mkdtemp(dir=target.parent, prefix=prefix, suffix=TEMP_SUFFIX))
    staged.chmod(0o755)  # mkdtemp makes it private; the published folder should look like any other
    return staged


@dataclass(frozen=True)
class StaleStaging:
    """Staging folders of ``target`` left by killed runs: ``removed`` (their owner process is gone) and ``left``
    (owner unknown, from before staging folders carried it, or a process of that id runs: named, not touched)."""

    removed: tuple[Path, ...] = ()
    left: tuple[Path, ...] = ()


def clear_stale_staging(target: Path, purpose: str) -> StaleStaging:
    """Remove the staging folders of ``target`` for ``purpose`` (:func:`staging_dir`) whose owner process is gone.

    Only entries named exactly as :func:`staging_dir` names them for this target and purpose are considered;
    one whose owner still runs (this process included) or is unknown is left and returned in ``left``.
    """
    pattern = re.compile(
        rf"\.{re.escape(target.name)}\.{re.escape(purpose)}-(?:(\d+)-)?[A-Za-z0-9_]+{re.escape(TEMP_SUFFIX)}"
    )
    removed: list[Path] = []
    left: list[Path] = []
    try:
        entries = sorted(target.parent.iterdir()) if target.parent.is_dir() else []
    except OSError:
        return StaleStaging()
    for entry in entries:
        match = pattern.fullmatch(entry.name)
        if match is None or entry.is_symlink() or not entry.is_dir():
            continue
        owner = match.group(1)
        if owner is not None and not process_alive(int(owner)):
            remove_tree(entry)
            removed.append(entry)
        else:
            left.append(entry)
    return StaleStaging(tuple(removed), tuple(left))


def process_alive(pid: int) -> bool:
    """Whether a process with id ``pid`` runs (one of another user counts as running)."""
    if pid <= 0:
        return False
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OverflowError:
        return False
    return True


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


@dataclass(frozen=True)
class StagedWords:
    """How :func:`write_staged`'s errors name things: ``folder`` it could not make (e.g. "the output's folder"),
    the ``action`` that failed (e.g. "write the export"), and the ``hint`` when the target already exists."""

    folder: str
    action: str
    hint: str


def write_staged(
    out: Path, purpose: str, write: Callable[[Path], Path], words: StagedWords, *, force: bool = False
) -> None:
    """Fill a fresh staging folder beside ``out`` with ``write(folder)``, which returns what to publish (the folder
    or a file in it), and publish that as ``out``; the staging folder is removed whatever happens.

    Raises one :class:`CollectionError` line naming ``out`` (and nothing is left at ``out``) when the folder
    cannot be made, ``out`` exists (unless ``force``), or writing fails.
    """
    try:
        staged = staging_dir(out, purpose)
    except OSError as error:
        raise CollectionError(f"{out}: cannot create {words.folder} ({error.strerror or error})") from None
    try:
        target = write(staged)
        try:
            publish(target, out, force=force)
        except FileExistsError:
            raise CollectionError(f"{out}: already exists; {words.hint}") from None
    except OSError as error:
        raise CollectionError(f"{out}: cannot {words.action} ({error})") from None
    finally:
        remove_tree(staged)


def remove_tree(path: Path) -> None:
    """Delete a file or a directory tree, ignoring what is already gone."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
