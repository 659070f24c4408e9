"""A labeled set on disk: ``manifest.json`` + ``journal.jsonl`` + PNG files, with crash-safe autosave.

Layout of a collection directory::

    manifest.json       {"format_version": 1, "name", "author", "created", "modified", "journal_seq", "items": [...]}
    manifest.json.bak   the previous good manifest (rewritten at every compaction)
    journal.jsonl       one line per change since the manifest: "<crc32 hex> <json>"; {"seq", "op": "put"|"del", ...}
    images/<id>-<sha>.png      edited images (8-bit gray PNG; <sha> = first 16 hex of sha256 of the pixels)
    originals/<sha>.png        original images, shared by items with the same source digit
    .lock               holds the pid of the one process that may write (an ``flock`` is held while open)

Durability: every mutating call writes its PNG files atomically (temp + fsync + rename + directory fsync), then
appends one checksummed journal line and fsyncs it before returning. Opening replays the journal, ignores a torn
last line, and (when writable) folds everything into a new manifest, truncates the journal and removes temporary
and unreferenced files. A corrupt manifest is reported (CollectionError naming the file, the reason and the
backup) and left untouched.

Items are checked and built by :mod:`core.collection.validation`, journal lines encoded and read by
:mod:`core.collection.journal`, the manifest read and written by :mod:`core.collection.manifest`, and the write
lock taken by :mod:`core.collection.lock`.
"""

from __future__ import annotations

import contextlib
import logging
import os
import uuid
import weakref
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Final, Unpack

import numpy as np

from core.collection import png
from core.collection.fsutil import TEMP_SUFFIX, atomic_write_bytes, fsync_dir, fsync_file
from core.collection.journal import JOURNAL, encode_line, read_entries
from core.collection.lock import acquire_lock, close_fds
from core.collection.manifest import BACKUP, MANIFEST, backup_hint, manifest_bytes, read_manifest
from core.collection.schema import (
    EDITABLE_FIELDS,
    Item,
    check_label,
    is_item_id,
    item_to_record,
    now_iso,
    record_to_fields,
)
from core.collection.validation import ItemFields, build_item, check_pixels, new_item, pixels_digest
from core.errors import CollectionError

log = logging.getLogger(__name__)

DEFAULT_COMPACT_EVERY: Final = 256
"""Journal lines after which the manifest is rewritten and the journal truncated."""

write_step_hook: Callable[[str], None] | None = None
"""Tests only: called with a step's name before each write a save makes (image files, journal line, fsync,
manifest, truncation), so a test can end the process at every step in turn and check what survives."""


def _step(name: str) -> None:
    if write_step_hook is not None:
        write_step_hook(name)


class Collection:
    """A labeled set of edited digits stored in a directory; see the module docstring for the layout.

    Use :meth:`create` or :meth:`open`; close with :meth:`close` (or a ``with`` block), which also folds the
    journal into the manifest. A read-only collection takes no lock and never writes.

    Not thread-safe: use one instance from one thread at a time. A durable call costs a few fsyncs (about
    20-35 ms on a busy laptop-class disk); editors may want to save from a worker thread.
    """

    def __init__(self, path: Path, *, read_only: bool, compact_every: int) -> None:
        self.path = path
        self.read_only = read_only
        self.name = ""
        self.author = ""
        self.created = ""
        self._compact_every = max(1, int(compact_every))
        self._order: list[str] = []
        self._items: dict[str, Item] = {}
        self._seq = 0
        self._journal_lines = 0
        self._journal_size = 0
        self._journal_fd: int | None = None
        self._lock_fd: int | None = None
        self._durable = True
        self._pending_sync: set[Path] = set()
        self._journal_unsynced = False
        self._closed = False
        self._finalizer: weakref.finalize[..., Collection] | None = None

    # ------------------------------------------------------------------ opening and closing

    @classmethod
    def create(
        cls, path: str | Path, name: str, *, author: str = "", compact_every: int = DEFAULT_COMPACT_EVERY
    ) -> Collection:
        """Make a new, empty collection at ``path`` (which must not exist, or be an empty directory)."""
        path = Path(path)
        if path.exists() and (not path.is_dir() or any(path.iterdir())):
            raise CollectionError(f"{path}: already exists; choose a new folder for the collection")
        try:
            path.mkdir(parents=True, exist_ok=True)
            (path / "images").mkdir(exist_ok=True)
            (path / "originals").mkdir(exist_ok=True)
        except OSError as error:
            raise CollectionError(f"{path}: cannot create the collection folder ({error})") from None
        coll = cls(path, read_only=False, compact_every=compact_every)
        coll._acquire_lock()
        coll.name, coll.author, coll.created = str(name), str(author), now_iso()
        try:
            coll._write_manifest(backup=False)
            atomic_write_bytes(path / BACKUP, (path / MANIFEST).read_bytes())  # so a backup always exists
            coll._open_journal()
            fsync_dir(path.parent)
        except OSError as error:
            coll._release()
            raise CollectionError(f"{path}: cannot write the collection ({error})") from None
        return coll

    @classmethod
    def open(
        cls, path: str | Path, *, read_only: bool = False, compact_every: int = DEFAULT_COMPACT_EVERY
    ) -> Collection:
        """Open an existing collection, replaying its journal; writable unless ``read_only``.

        Raises CollectionError when the folder is not a collection, is corrupt, or another live process holds
        its write lock.
        """
        path = Path(path)
        if not path.is_dir():
            raise CollectionError(f"{path}: not a collection folder (no such directory)")
        coll = cls(path, read_only=read_only, compact_every=compact_every)
        if not read_only:
            coll._acquire_lock()
        try:
            torn = coll._load()
            if not read_only:
                coll._recover(torn)
        except BaseException:
            coll._release()
            raise
        return coll

    @classmethod
    def open_or_create(cls, path: str | Path, *, author: str = "") -> tuple[Collection, bool]:
        """Open the collection at ``path`` for writing, or create it (named after the folder) when there is none.

        Returns (collection, created). A folder with only a ``manifest.json.bak`` is opened, so that the error
        names the last good manifest; a folder that holds other files but neither is refused, as by :meth:`create`.
        """
        path = Path(path)
        if (path / MANIFEST).exists() or (path / BACKUP).exists():
            return cls.open(path), False
        return cls.create(path, path.name, author=author), True

    def close(self) -> None:
        """Fold the journal into the manifest (if writable) and release the lock. Safe to call twice."""
        if self._closed:
            return
        try:
            if not self.read_only and self._journal_lines:
                self.compact()
            elif not self.read_only:
                self._sync_pending()
        finally:
            self._closed = True
            self._release()

    def __enter__(self) -> Collection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ reading

    @property
    def items(self) -> list[Item]:
        """All items in insertion order (a new list each time)."""
        return [self._items[item_id] for item_id in self._order]

    def __len__(self) -> int:
        return len(self._order)

    def __iter__(self) -> Iterator[Item]:
        return iter(self.items)

    def __contains__(self, item_id: object) -> bool:
        return item_id in self._items

    def get(self, item_id: str) -> Item:
        """The item with ``item_id``; CollectionError when there is none."""
        try:
            return self._items[item_id]
        except (KeyError, TypeError):
            raise CollectionError(f"{self.path}: no item with id {item_id!r}") from None

    def index_of(self, item_id: str) -> int:
        """Position of ``item_id`` in :attr:`items`."""
        self.get(item_id)
        return self._order.index(item_id)

    # ------------------------------------------------------------------ writing

    def add(
        self,
        image: np.ndarray,
        *,
        author: str | None = None,
        item_id: str | None = None,
        **fields: Unpack[ItemFields],
    ) -> Item:
        """Save a new item and return it (durable when this returns).

        ``image``: uint8 (28, 28), or float (28, 28) in [0, 1] which is rounded with :func:`core.budget.quantize`
        when ``original``/``norm``/``eps`` are known. ``original`` defaults to MNIST ``source_split[source_index]``
        (whose label also fills ``original_label``). Distances in every norm are measured on the uint8 pixels.
        An item outside ``norm``/``eps`` raises BudgetError unless ``allow_violation``, in which case the
        measured distance is kept in ``budget_violation``.
        """
        self._check_writable()
        item_id = uuid.uuid4().hex if item_id is None else item_id
        if not is_item_id(item_id):
            raise CollectionError(f"{self.path}: invalid item id {str(item_id)[:40]!r} (expected 32 hex digits)")
        if item_id in self._items:
            raise CollectionError(f"{self.path}: an item with id {item_id} already exists")
        item = new_item(image, item_id=item_id, author=self.author if author is None else author, **fields)
        self._put(item, None)
        return item

    def update(self, item_id: str, **changes: Any) -> Item:
        """Change fields of an item and return the new version (durable when this returns).

        Accepts the label, note and metadata fields (``intended_label``, ``human_label``, ``human_labels``,
        ``notes``, ``set_name``, ``method``, ``predictions``, ``author``) and ``image``, ``norm``, ``eps``
        (re-rounded and re-measured; ``allow_violation=True`` as for :meth:`add`).
        """
        self._check_writable()
        current = self.get(item_id)
        allow_violation = bool(changes.pop("allow_violation", False))
        unknown = set(changes) - EDITABLE_FIELDS - {"image", "norm", "eps"}
        if unknown:
            raise CollectionError(f"cannot update field(s) {', '.join(sorted(unknown))} of item {item_id}")
        fields = {
            name: getattr(current, name)
            for name in (
                "id", "source_split", "source_index", "original_label", "intended_label", "human_label",
                "human_labels", "method", "set_name", "predictions", "author", "created", "notes", "extra",
            )
        }  # fmt: skip
        for name in EDITABLE_FIELDS & set(changes):
            fields[name] = changes[name]
        fields["human_labels"] = dict(fields["human_labels"])
        fields["predictions"] = dict(fields["predictions"])
        fields["modified"] = now_iso()
        image = changes.get("image", current.image)
        norm = changes.get("norm", current.norm)
        eps = changes.get("eps", current.eps)
        keep_violation = "image" not in changes and "norm" not in changes and "eps" not in changes
        item = build_item(fields, image, current.original, norm, eps, allow_violation or keep_violation)
        self._put(item, None)
        return item

    def set_human_label(self, item_id: str, rater: str, label: int | None) -> Item:
        """Record ``rater``'s label for an item (``None`` removes it); durable when this returns."""
        if not isinstance(rater, str) or not rater.strip():
            raise CollectionError("rater must be a non-empty name")
        checked = check_label(label, f"label of rater {rater!r}")
        labels = dict(self.get(item_id).human_labels)
        if checked is None:
            labels.pop(rater, None)
        else:
            labels[rater] = checked
        return self.update(item_id, human_labels=labels)

    def delete(self, item_id: str) -> Item:
        """Remove an item and return it, so that :meth:`restore` can undo the deletion."""
        self._check_writable()
        item = self.get(item_id)
        self._append({"op": "del", "id": item_id})
        self._apply_delete(item_id)
        self._maybe_compact()
        return item

    def restore(self, item: Item, position: int | None = None) -> Item:
        """Put a deleted ``item`` back with the same id (at ``position`` in :attr:`items`, default the end)."""
        self._check_writable()
        if not isinstance(item, Item):
            raise CollectionError(f"restore needs an Item, got {type(item).__name__}")
        if item.id in self._items:
            raise CollectionError(f"{self.path}: an item with id {item.id} already exists")
        record_to_fields(item_to_record(item), f"{self.path}: restored item")
        check_pixels(item.image, f"item {item.id} image")
        if item.original is not None:
            check_pixels(item.original, f"item {item.id} original")
        self._put(item, position)
        return item

    def compact(self) -> None:
        """Rewrite the manifest with every item (old one kept as ``manifest.json.bak``), then empty the journal."""
        self._check_writable()
        try:
            self._sync_pending()
            self._write_manifest(backup=True)
            if self._journal_fd is not None:
                _step("truncate journal")
                os.ftruncate(self._journal_fd, 0)
                _step("fsync truncated journal")
                os.fsync(self._journal_fd)
        except OSError as error:
            raise CollectionError(f"{self.path}: cannot rewrite the manifest ({error})") from None
        self._journal_lines = 0
        self._journal_size = 0

    @contextlib.contextmanager
    def batch(self) -> Iterator[Collection]:
        """Group many changes: per-call fsyncs are skipped and everything is made durable when the block ends.

        Meant for bulk changes (importers, study ingest); a crash inside the block may lose the block's changes.
        """
        self._check_writable()
        self._durable = False
        try:
            yield self
        finally:
            self._durable = True
            if not self._closed:
                self._sync_pending()
                self._maybe_compact()

    # ------------------------------------------------------------------ internals: journal and files

    def _put(self, item: Item, position: int | None) -> None:
        self._write_png(item.image_file, item.image)
        if item.original is not None and item.original_file is not None:
            self._write_png(item.original_file, item.original)
        entry: dict[str, Any] = {"op": "put", "record": item_to_record(item)}
        if position is not None:
            entry["position"] = int(position)
        self._append(entry)
        self._apply_put(item, position)
        self._maybe_compact()

    def _write_png(self, relative: str, pixels: np.ndarray) -> None:
        target = self.path / relative
        if target.exists():
            return
        _step(f"write {relative}")
        try:
            atomic_write_bytes(target, png.encode_png(np.ascontiguousarray(pixels)), durable=self._durable)
        except OSError as error:
            raise CollectionError(f"{target}: cannot write image ({error})") from None
        if not self._durable:
            self._pending_sync.add(target)

    def _append(self, entry: dict[str, Any]) -> None:
        if self._journal_fd is None:
            raise CollectionError(f"{self.path}: collection is closed")
        line = encode_line({"seq": self._seq + 1, **entry})
        try:
            _step("append journal line")
            written = os.write(self._journal_fd, line)
            if written != len(line):
                raise OSError(f"short write ({written} of {len(line)} bytes)")
            if self._durable:
                _step("fsync journal")
                os.fsync(self._journal_fd)
            else:
                self._journal_unsynced = True
        except OSError as error:
            with contextlib.suppress(OSError):
                os.ftruncate(self._journal_fd, self._journal_size)
            raise CollectionError(f"{self.path / JOURNAL}: cannot save the change ({error})") from None
        self._seq += 1
        self._journal_size += len(line)
        self._journal_lines += 1

    def _maybe_compact(self) -> None:
        """Compact when the journal is long. The change is already durable, so a failure here is only logged."""
        if self._durable and self._journal_lines >= self._compact_every:
            try:
                self.compact()
            except CollectionError as error:
                log.warning("%s (the journal keeps every change; will retry)", error)

    def _apply_put(self, item: Item, position: int | None) -> None:
        if item.id not in self._items:
            if position is None:
                self._order.append(item.id)
            else:
                self._order.insert(max(0, min(int(position), len(self._order))), item.id)
        self._items[item.id] = item

    def _apply_delete(self, item_id: str) -> None:
        if self._items.pop(item_id, None) is not None:
            self._order.remove(item_id)

    def _sync_pending(self) -> None:
        folders = set()
        try:
            for target in sorted(self._pending_sync):
                if target.exists():
                    fsync_file(target)
                    folders.add(target.parent)
            for folder in folders:
                fsync_dir(folder)
            if self._journal_fd is not None and self._journal_unsynced:
                os.fsync(self._journal_fd)
        except OSError as error:
            raise CollectionError(f"{self.path}: cannot flush saved changes to disk ({error})") from None
        self._journal_unsynced = False
        self._pending_sync.clear()

    def _write_manifest(self, *, backup: bool) -> None:
        manifest_path = self.path / MANIFEST
        if backup and manifest_path.exists():
            _step("write manifest backup")
            atomic_write_bytes(self.path / BACKUP, manifest_path.read_bytes())
        records = [item_to_record(self._items[item_id]) for item_id in self._order]
        _step("write manifest")
        atomic_write_bytes(manifest_path, manifest_bytes(self.name, self.author, self.created, self._seq, records))

    def _open_journal(self) -> None:
        journal = self.path / JOURNAL
        flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_BINARY", 0)
        self._journal_fd = os.open(journal, flags, 0o644)
        self._journal_size = os.fstat(self._journal_fd).st_size
        fsync_dir(self.path)  # the journal's directory entry must survive a power cut too
        self._arm_finalizer()

    # ------------------------------------------------------------------ internals: loading and recovery

    def _load(self) -> bool:
        """Read the manifest and replay the journal into memory; returns True when the journal has a torn tail."""
        manifest = read_manifest(self.path)
        self.name, self.author, self.created = manifest.name, manifest.author, manifest.created
        self._seq = manifest.journal_seq
        where = self.path / MANIFEST
        cache: dict[str, np.ndarray] = {}
        try:
            for position, record in enumerate(manifest.records):
                item = self._item_from_record(record, f"{where} item #{position}", cache)
                if item.id in self._items:
                    raise CollectionError(f"{where}: duplicate item id {item.id}")
                self._apply_put(item, None)
        except CollectionError as error:
            raise CollectionError(f"{error}{backup_hint(self.path)}") from None
        return self._replay(self.path / JOURNAL)

    def _item_from_record(self, record: object, where: str, cache: dict[str, np.ndarray]) -> Item:
        fields = record_to_fields(record, where)
        image = self._read_png(fields["image_file"], cache, f"{where} (item {fields['id']})")
        original = None
        if fields["original_file"] is not None:
            original = self._read_png(fields["original_file"], cache, f"{where} (item {fields['id']})")
        return Item(image=image, original=original, **fields)

    def _read_png(self, relative: str, cache: dict[str, np.ndarray], where: str) -> np.ndarray:
        if relative in cache:
            return cache[relative]
        target = self.path / relative
        pixels = png.read_digit_png(target, where)
        digest = Path(relative).stem.rsplit("-", 1)[-1]
        if pixels_digest(pixels) != digest:
            raise CollectionError(f"{target}: pixels do not match the checksum in the file name")
        pixels.setflags(write=False)
        cache[relative] = pixels
        return pixels

    def _replay(self, journal: Path) -> bool:
        entries, torn = read_entries(journal)
        cache: dict[str, np.ndarray] = {}
        for number, entry in entries:
            seq = entry["seq"]
            if seq <= self._seq:
                continue  # already folded into the manifest (crash between manifest rewrite and truncation)
            where = f"{journal} line {number}"
            op = entry.get("op")
            if op == "put":
                item = self._item_from_record(entry.get("record"), where, cache)
                position = entry.get("position")
                if position is not None and (isinstance(position, bool) or not isinstance(position, int)):
                    raise CollectionError(f"{where}: invalid position {position!r}")
                self._apply_put(item, position)
            elif op == "del":
                item_id = entry.get("id")
                if not isinstance(item_id, str):
                    raise CollectionError(f"{where}: invalid id in delete")
                self._apply_delete(item_id)
            else:
                raise CollectionError(f"{where}: unknown operation {op!r}")
            self._seq = seq
            self._journal_lines += 1
        return torn

    def _recover(self, torn: bool) -> None:
        """After a writable open: fold the journal into the manifest and remove leftovers of interrupted writes."""
        try:
            (self.path / "images").mkdir(exist_ok=True)
            (self.path / "originals").mkdir(exist_ok=True)
            journal = self.path / JOURNAL
            if torn or self._journal_lines or (journal.exists() and journal.stat().st_size):
                self._journal_lines = max(self._journal_lines, 1)
                self._open_journal()
                self.compact()
            else:
                self._open_journal()
            referenced = {item.image_file for item in self._items.values()}
            referenced |= {item.original_file for item in self._items.values() if item.original_file}
            for folder in (self.path, self.path / "images", self.path / "originals"):
                for entry in folder.iterdir():
                    relative = entry.relative_to(self.path).as_posix()
                    stale_temp = entry.name.endswith(TEMP_SUFFIX) and entry.is_file()
                    orphan = folder != self.path and entry.suffix == ".png" and relative not in referenced
                    if stale_temp or orphan:
                        log.info("removing leftover file %s", entry)
                        entry.unlink()
        except OSError as error:
            raise CollectionError(f"{self.path}: cannot recover the collection ({error})") from None

    # ------------------------------------------------------------------ internals: lock

    def _acquire_lock(self) -> None:
        self._lock_fd = acquire_lock(self.path)
        self._arm_finalizer()

    def _arm_finalizer(self) -> None:
        if self._finalizer is not None:
            self._finalizer.detach()
        self._finalizer = weakref.finalize(self, close_fds, self._journal_fd, self._lock_fd)

    def _release(self) -> None:
        if self._finalizer is not None:
            self._finalizer.detach()
            self._finalizer = None
        close_fds(self._journal_fd, self._lock_fd)
        self._journal_fd = None
        self._lock_fd = None
        self._closed = True

    def _check_writable(self) -> None:
        if self.read_only:
            raise CollectionError(f"{self.path}: opened read-only")
        if self._closed:
            raise CollectionError(f"{self.path}: collection is closed")
