"""The write lock of a collection: one process at a time may write.

``.lock`` holds the pid of the writer. On POSIX an ``flock`` is held while the file is open; where ``flock`` is
missing (Windows, which has no ``fcntl``) or refused (some network mounts), the pid is trusted while that
process lives.
"""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path
from typing import Final

from core.collection.fsutil import process_alive
from core.errors import CollectionError

LOCK: Final = ".lock"


def acquire_lock(folder: Path) -> int:
    """Take the write lock of the collection in ``folder`` and return the open lock file's descriptor.

    Raises CollectionError naming the holder when another live process has it.
    """
    lock_path = folder / LOCK
    try:
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as error:
        raise CollectionError(f"{lock_path}: cannot create the lock file ({error})") from None
    try:
        _lock(fd, lock_path)
    except BlockingIOError:
        os.close(fd)
        holder = _read_pid(lock_path)
        who = f"process {holder}" if holder else "another process"
        raise CollectionError(
            f"{folder}: already open for writing by {who} (lock file {lock_path}); close it there first"
        ) from None
    os.ftruncate(fd, 0)
    os.write(fd, f"{os.getpid()}\n".encode())
    return fd


def close_fds(*fds: int | None) -> None:
    """Close each open descriptor, ignoring those already closed."""
    for fd in fds:
        if fd is not None:
            with contextlib.suppress(OSError):
                os.close(fd)


if sys.platform == "win32":  # pragma: no cover - no fcntl on Windows: a pid file, trusted while that process lives

    def _lock(fd: int, lock_path: Path) -> None:
        _check_pid_file(lock_path)

else:
    import fcntl

    def _lock(fd: int, lock_path: Path) -> None:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise
        except OSError:  # file systems without flock (some network mounts): trust a live pid
            _check_pid_file(lock_path)


def _read_pid(lock_path: Path) -> int | None:
    try:
        text = lock_path.read_text().strip()
        return int(text) if text else None
    except (OSError, ValueError):
        return None


def _check_pid_file(lock_path: Path) -> None:
    """Raise BlockingIOError when the pid in ``lock_path`` is another live process."""
    holder = _read_pid(lock_path)
    if holder and holder != os.getpid() and process_alive(holder):
        raise BlockingIOError
