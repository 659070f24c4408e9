"""The autosaved draft of an unsaved edit (no Qt): one file that survives a crash and is offered on the next start.

A draft holds what is needed to bring the edit back: the original, the clean image (as loaded or last saved),
the edit itself, where it came from, its budget and its intended label. It is one ``.npz`` file (arrays float32
(28, 28) in [0, 1], plus a JSON ``meta`` string with a ``format_version``), written atomically with
:mod:`core.files` so a crash mid-write leaves the previous draft whole. Loading never unpickles.

One draft file serves one user: two editors open at once share it, and the last one written wins.
"""

from __future__ import annotations

import contextlib
import io
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import numpy as np

from core import budget
from core.errors import InvarianceError
from core.files import atomic_output
from core.labels import is_valid_label, label_name
from core.paths import user_data_dir
from editor.state.editing import EditorState, Source

DRAFT_FORMAT_VERSION: Final = 1
IMAGE_KEYS: Final = ("original", "clean", "edited")


class DraftError(InvarianceError):
    """A draft file that cannot be read (damaged, or written by an unknown version)."""


def default_draft_path() -> Path:
    """``<user data folder>/editor/draft.npz`` (see :func:`core.paths.user_data_dir`)."""
    return user_data_dir() / "editor" / "draft.npz"


@dataclass(frozen=True)
class Draft:
    """An unsaved edit. Images float32 (28, 28) in [0, 1]; ``written_at`` in seconds since the epoch."""

    original: np.ndarray
    clean: np.ndarray
    edited: np.ndarray
    original_label: int
    source: Source
    norm: str
    eps: float
    intended_label: int | None
    written_at: float

    @classmethod
    def of(cls, state: EditorState) -> Draft:
        """The state's current edit (copies: the draft can be written from another thread)."""
        return cls(
            state.original.copy(), state.clean_image.copy(), state.edited.copy(), state.original_label, state.source,
            state.norm, state.eps, state.intended_label, time.time(),
        )  # fmt: skip

    def describe(self) -> str:
        """One line: which digit, its budget, its intended label and when it was written."""
        source = self.source
        if source.kind == "collection":
            where = f"collection item {source.detail[:8]}"
        else:
            where = f"{source.split} digit #{source.index}" if source.index >= 0 else "a digit"
        intended = "no intended label" if self.intended_label is None else f"intended {label_name(self.intended_label)}"
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(self.written_at))
        return f"{where} (label {label_name(self.original_label)}), {self.norm} ε = {self.eps:g}, {intended}, {when}"


class DraftFile:
    """Writes, reads and clears the draft at ``path``."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def write(self, draft: Draft) -> None:
        """Replace the draft atomically (takes a few ms with fsync: call it off the GUI thread)."""
        meta = {
            "format_version": DRAFT_FORMAT_VERSION,
            "original_label": draft.original_label,
            "source": {
                "kind": draft.source.kind,
                "split": draft.source.split,
                "index": draft.source.index,
                "detail": draft.source.detail,
            },
            "norm": draft.norm,
            "eps": draft.eps,
            "intended_label": draft.intended_label,
            "written_at": draft.written_at,
        }
        buffer = io.BytesIO()
        np.savez(
            buffer,
            original=np.asarray(draft.original, np.float32),
            clean=np.asarray(draft.clean, np.float32),
            edited=np.asarray(draft.edited, np.float32),
            meta=np.array(json.dumps(meta)),
        )
        with atomic_output(self.path) as temporary:
            temporary.write_bytes(buffer.getvalue())

    def read(self) -> Draft | None:
        """The draft, or None when there is none; :class:`DraftError` (naming the file) when it is damaged."""
        if not self.path.exists():
            return None
        try:
            with np.load(self.path, allow_pickle=False) as data:
                images = {key: np.asarray(data[key], dtype=np.float32) for key in IMAGE_KEYS}
                meta = json.loads(str(data["meta"]))
            return self._draft(images, meta)
        except (OSError, ValueError, KeyError, TypeError, InvarianceError) as error:
            raise DraftError(f"{self.path}: not a readable editor draft ({error})") from None

    def _draft(self, images: dict[str, np.ndarray], meta: dict[str, object]) -> Draft:
        if meta.get("format_version") != DRAFT_FORMAT_VERSION:
            raise ValueError(f"format_version {meta.get('format_version')!r}, expected {DRAFT_FORMAT_VERSION}")
        for key, image in images.items():
            if image.shape != (28, 28) or not np.isfinite(image).all():
                raise ValueError(f"{key} is not a finite (28, 28) image")
        source = meta["source"]
        if not isinstance(source, dict):
            raise ValueError("source is not a table")
        norm = str(meta["norm"])
        eps = budget.get_norm(norm).validate_eps(float(str(meta["eps"])), where="the draft's ε")
        intended = meta.get("intended_label")
        if intended is not None and not (isinstance(intended, int) and is_valid_label(intended)):
            raise ValueError(f"intended label {intended!r}")
        return Draft(
            images["original"], images["clean"], images["edited"], int(str(meta["original_label"])),
            Source(str(source["kind"]), str(source["split"]), int(str(source["index"])), str(source["detail"])),
            norm, eps, intended, float(str(meta["written_at"])),
        )  # fmt: skip

    def clear(self) -> None:
        """Remove the draft (the editor wrote it); nothing when there is none."""
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
