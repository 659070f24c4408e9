"""Which models a ``train`` command has finished, so that the same command again skips them.

One small JSON file per command (its models and settings) in the runs folder, rewritten atomically after each
model and removed when the command completes; a model interrupted mid-way resumes from its own saved state
(:mod:`core.training.context`).
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from core.files import atomic_write_bytes
from core.paths import runs_dir

log = logging.getLogger(__name__)

FORMAT_VERSION: Final = 1


@dataclass
class TrainLedger:
    """The models of one ``train`` command (``names``, in order) and those it has finished."""

    path: Path
    names: tuple[str, ...]
    finished: list[str] = field(default_factory=list)

    @property
    def remaining(self) -> list[str]:
        return [name for name in self.names if name not in self.finished]

    def mark_finished(self, name: str) -> None:
        """Record that ``name`` is trained (durable when this returns)."""
        if name not in self.finished:
            self.finished.append(name)
        document = {"format_version": FORMAT_VERSION, "names": list(self.names), "finished": self.finished}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(self.path, json.dumps(document, indent=1).encode())

    def complete(self) -> None:
        """The command has trained every model: the next run of it starts over."""
        self.path.unlink(missing_ok=True)


def ledger_for(names: Sequence[str], settings: Mapping[str, Any], *, fresh: bool = False) -> TrainLedger:
    """The ledger of training ``names`` with ``settings`` (seed, device, time budget, …): what an earlier,
    interrupted run of the same command finished, unless ``fresh``."""
    key = json.dumps({"names": list(names), "settings": dict(settings)}, sort_keys=True, default=str)
    path = runs_dir() / f"train-{hashlib.sha256(key.encode()).hexdigest()[:16]}.json"
    ledger = TrainLedger(path, tuple(names))
    if fresh or not path.is_file():
        return ledger
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        finished = [str(name) for name in document["finished"] if name in names]
    except (OSError, ValueError, KeyError, TypeError) as error:
        log.warning("%s: unreadable, training every model again (%s)", path, error)
        return ledger
    ledger.finished = finished
    return ledger
