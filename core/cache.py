"""A process-wide cache of expensive objects (checkpoints loaded onto a device, candidate banks), one per key."""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

T = TypeVar("T")


class KeyedCache(Generic[T]):
    """Objects built once per key and shared by every thread.

    Building happens under the lock, so a second thread asking for the same key waits for the first build
    instead of loading the same weights twice. A build that raises caches nothing.
    """

    def __init__(self) -> None:
        self._items: dict[Hashable, T] = {}
        self._lock = threading.Lock()

    def get(self, key: Hashable, build: Callable[[], T]) -> T:
        with self._lock:
            if key not in self._items:
                self._items[key] = build()
            return self._items[key]

    def clear(self) -> None:
        """Forget every object (tests, retraining)."""
        with self._lock:
            self._items.clear()
