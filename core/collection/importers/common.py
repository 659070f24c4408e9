"""What every importer shares: the report, the checks of arrays and paths, and building the collection."""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import numpy as np

from core.collection.export import UNKNOWN_LABEL
from core.collection.fsutil import (
    StagedWords,
    StaleStaging,
    clear_stale_staging,
    read_limited,
    write_staged,
)
from core.collection.manifest import BACKUP, MANIFEST
from core.collection.schema import LABEL_KINDS, Item
from core.collection.store import Collection
from core.collection.validation import new_item
from core.errors import CollectionError, InvarianceError
from core.interrupt import Interrupted
from core.labels import NOT_A_DIGIT, is_valid_label

MNIST_TEST_SIZE: Final = 10_000


@dataclass(frozen=True)
class ImportOptions:
    """What the user said about the source: what its labels mean, and one budget for every item (npz only)."""

    label: str = "original"
    norm: str | None = None
    eps: float | None = None


@dataclass(frozen=True)
class SetCount:
    """Per-set outcome of an import: items, how many exceed their budget and the largest such distance."""

    set_name: str
    count: int
    norm: str | None
    eps: float | None
    violations: int
    max_violation: float | None


@dataclass(frozen=True)
class ImportReport:
    """Where the new collection is and what went into it."""

    path: Path
    sets: tuple[SetCount, ...]
    skipped: int = 0
    """Items already in ``path`` from an earlier run of the same import, not written again."""
    stale: StaleStaging = field(default_factory=StaleStaging)
    """Staging folders of killed imports to ``path``: removed (owner gone) or left and named."""

    @property
    def total(self) -> int:
        return sum(entry.count for entry in self.sets)

    @property
    def violations(self) -> int:
        return sum(entry.violations for entry in self.sets)


def check_kind(label: str) -> None:
    if label not in LABEL_KINDS:
        raise CollectionError(f"unknown label kind {label!r}; choose one of {', '.join(LABEL_KINDS)}")


def json_loads(text: str, where: str) -> object:
    """Parse untrusted JSON text; CollectionError (one line) on bad syntax, deep nesting or huge numbers."""
    try:
        return json.loads(text)
    except (ValueError, RecursionError) as error:
        raise CollectionError(f"{where}: invalid JSON ({type(error).__name__})") from None


def check_out(out: str | Path) -> Path:
    """``out`` as a Path, unless it exists as anything but a collection (to resume into) or an empty folder."""
    out = Path(out)
    if _is_collection(out):
        return out
    if out.is_symlink() or (out.exists() and not (out.is_dir() and not any(out.iterdir()))):
        raise CollectionError(f"{out}: already exists; choose a new folder for the collection")
    return out


def check_images(array: np.ndarray, where: object, *, pixel_max: int, count: int | None = None) -> np.ndarray:
    """Validate an image stack -> uint8 (N, 28, 28), or float64 (N, 28, 28) in [0, 1] for non-integral values.

    Accepts (N, 28, 28), (N, 28, 28, 1), (N, 1, 28, 28) and (N, 784). Integer arrays and integral floats must
    lie in [0, 255] (and are taken as uint8 pixels when ``pixel_max`` is 255 or the dtype is uint8); other floats
    must lie in [0, ``pixel_max``].
    """
    shape = tuple(array.shape)
    if (len(shape) == 4 and shape[1:] in ((28, 28, 1), (1, 28, 28))) or (len(shape) == 2 and shape[1] == 784):
        array = array.reshape(shape[0], 28, 28)
    elif len(shape) != 3 or shape[1:] != (28, 28):
        raise CollectionError(f"{where}: expected images of shape (N, 28, 28), got {shape}")
    if count is not None and len(array) != count:
        raise CollectionError(f"{where}: has {len(array)} images, expected {count}")
    if array.dtype == np.uint8:
        return np.ascontiguousarray(array)
    if array.dtype.kind in "iu":
        if array.size and (array.min() < 0 or array.max() > 255):
            raise CollectionError(f"{where}: pixel values outside 0-255")
        if pixel_max != 255:
            raise CollectionError(f"{where}: integer images must be uint8 (got {array.dtype})")
        return array.astype(np.uint8)
    if array.dtype.kind != "f":
        raise CollectionError(f"{where}: images must be numbers (uint8 or float), got {array.dtype}")
    values = array.astype(np.float64)
    if not np.isfinite(values).all():
        raise CollectionError(f"{where}: images contain NaN or infinite values")
    if values.size and (values.min() < 0 or values.max() > pixel_max):
        raise CollectionError(f"{where}: pixel values outside 0-{pixel_max}")
    if pixel_max == 255:
        if np.array_equal(values, np.rint(values)):
            return values.astype(np.uint8)
        return values / 255.0
    return values


def check_labels(
    array: np.ndarray, where: object, count: int, *, allow_unknown: bool = False, like: str = "images"
) -> np.ndarray:
    """Validate labels: 1-D, ``count`` long, integers (or integral floats) in -1..9 (or -2 when allowed)."""
    if array.ndim != 1 or len(array) != count:
        raise CollectionError(
            f"{where}: expected {count} labels (one per image of {like}), got shape {tuple(array.shape)}"
        )
    values = as_integers(array, where)
    low = UNKNOWN_LABEL if allow_unknown else NOT_A_DIGIT
    if values.size and (values.min() < low or values.max() > 9):
        raise CollectionError(f"{where}: labels must be 0-9 or -1 (not a digit)")
    return values


def check_indices(
    array: np.ndarray, where: object, count: int, *, allow_unknown: bool = False, like: str = "images"
) -> np.ndarray:
    """Validate MNIST test indices: 1-D, ``count`` long, integers in [0, 10000) (or -1 when allowed)."""
    if array.ndim != 1 or len(array) != count:
        raise CollectionError(
            f"{where}: expected {count} indices (one per image of {like}), got shape {tuple(array.shape)}"
        )
    values = as_integers(array, where)
    low = -1 if allow_unknown else 0
    if values.size and (values.min() < low or values.max() >= MNIST_TEST_SIZE):
        raise CollectionError(f"{where}: MNIST test indices must lie in 0..{MNIST_TEST_SIZE - 1}")
    return values


def as_integers(array: np.ndarray, where: object) -> np.ndarray:
    if array.dtype.kind in "iu":
        return array.astype(np.int64)
    if array.dtype.kind == "f":
        values = array.astype(np.float64)
        if (
            np.isfinite(values).all()
            and np.array_equal(values, np.rint(values))
            and np.abs(values).max(initial=0) < 2**53
        ):
            return values.astype(np.int64)
    raise CollectionError(f"{where}: expected integers, got {array.dtype}")


def inside(folder: Path, relative: str, where: str) -> Path:
    if not relative or any(ord(char) < 32 for char in relative):
        raise CollectionError(f"{where}: invalid file name {relative[:40]!r}")
    parts = Path(relative).parts
    if Path(relative).is_absolute() or ".." in parts:
        raise CollectionError(f"{where}: file_name {relative[:40]!r} points outside {folder}")
    candidate = folder
    for part in parts:
        candidate = no_link(candidate / part, where)
    try:
        resolved = candidate.resolve()
    except (OSError, ValueError, RuntimeError) as error:
        raise CollectionError(f"{where}: invalid file name {relative[:40]!r} ({error})") from None
    if folder.resolve() not in resolved.parents:
        raise CollectionError(f"{where}: file_name {relative[:40]!r} points outside {folder}")
    return candidate


def no_link(path: Path, where: str = "") -> Path:
    """``path``, unless it is a symbolic link: importers never follow links (out of the folder or anywhere)."""
    context = f"{where}: " if where else ""
    try:
        is_link = path.is_symlink()
    except OSError as error:  # e.g. a file name longer than the file system allows
        raise CollectionError(f"{context}invalid file name {path.name[:40]!r} ({error.strerror or error})") from None
    if is_link:
        raise CollectionError(f"{context}{path} is a symbolic link; links are not followed")
    return path


def json_label(value: object, where: str, *, digits: bool = False) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not is_valid_label(value) or (digits and value < 0):
        raise CollectionError(f"{where}: invalid label {value!r}")
    return value


def csv_int(value: str, where: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise CollectionError(f"{where}: {value[:20]!r} is not an integer") from None
    if abs(number) >= 2**31:
        raise CollectionError(f"{where}: {value[:20]!r} is out of range")
    return number


def read_csv_records(table: Path) -> list[tuple[int, dict[str, str]]]:
    """(line number, record) of each data line of the CSV file ``table``; CollectionError when unreadable."""
    try:
        records = list(csv.DictReader(io.StringIO(read_limited(table).decode("utf-8"), newline="")))
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise CollectionError(f"{table}: cannot read ({error})") from None
    numbered = []
    for number, record in enumerate(records, start=2):
        if None in record or any(value is None for value in record.values()):
            raise CollectionError(f"{table} line {number}: wrong number of columns")
        numbered.append((number, record))
    return numbered


IMPORT_CHUNK: Final = 64
"""Items made durable together (one fsync for the chunk): a power cut loses at most one chunk; a killed process,
whose writes the kernel already holds, at most the item in flight."""


def build_collection(
    out: Path, name: str, author: str, rows: Iterable[dict[str, Any]], *, source: Path
) -> ImportReport:
    """Write ``rows`` (keyword arguments of ``add``) into the collection ``out``, item by item, resumably.

    Every row is checked and turned into an item before anything is written, so bad input leaves nothing behind.
    The collection is created empty in a staging folder and renamed into place; then each item goes through its
    journal and lock. Each row's item id is fixed (the row's own, or derived from its content and position),
    so running the same import again skips the items already written and adds the rest, in order; an ``out``
    that holds any other item is refused. Ctrl-C (or SIGTERM) raises
    :class:`~core.interrupt.Interrupted` with the count kept.
    """
    items = [_row_item(index, dict(row), author, source) for index, row in enumerate(rows)]
    stale = clear_stale_staging(out, "import")
    collection = _open_target(out, name, author, {item.id for item in items})
    counts: dict[str, list[Any]] = {}
    with collection:
        todo = [item for item in items if item.id not in collection]
        skipped = len(items) - len(todo)
        written = 0
        try:
            for start in range(0, len(todo), IMPORT_CHUNK):
                with collection.batch():
                    for item in todo[start : start + IMPORT_CHUNK]:
                        collection.restore(item)
                        written += 1
        except KeyboardInterrupt as error:
            detail = f"they are in {out}; the same command resumes"
            raise Interrupted(skipped + written, len(items), cause=error, unit="items", detail=detail) from None
    for item in items:
        entry = counts.setdefault(item.set_name, [0, item.norm, item.eps, 0, None])
        entry[0] += 1
        if entry[2] != item.eps:
            entry[2] = None  # the ℓ0 set: each item has its own budget
        if item.budget_violation is not None:
            entry[3] += 1
            entry[4] = max(entry[4] or 0.0, item.budget_violation)
    sets = tuple(SetCount(set_name, *values) for set_name, values in counts.items())
    return ImportReport(out, sets, skipped=skipped, stale=stale)


def _row_item(index: int, row: dict[str, Any], author: str, source: Path) -> Item:
    """The item of row ``index``: its id is the row's ``item_id``, else fixed by its content and position."""
    item_id = row.pop("item_id", None) or _derived_id(index, row)
    row_author = row.pop("author", None)
    try:
        return new_item(
            **row, item_id=item_id, author=author if row_author is None else row_author, allow_violation=True
        )
    except InvarianceError as error:
        raise CollectionError(f"{source}: {error}") from None


def _derived_id(index: int, row: dict[str, Any]) -> str:
    digest = hashlib.sha256(f"import row {index}".encode())
    for key in sorted(row):
        value = row[key]
        digest.update(key.encode())
        digest.update(np.ascontiguousarray(value).tobytes() if isinstance(value, np.ndarray) else repr(value).encode())
    return digest.hexdigest()[:32]


def _open_target(out: Path, name: str, author: str, ids: set[str]) -> Collection:
    """The collection at ``out`` to import into: made (empty, atomically) when absent; an existing one only when
    every item it holds is one of ``ids`` (an earlier run of the same import)."""
    if not _is_collection(out):
        check_out(out)
        if out.is_dir():  # an empty folder
            Collection.create(out, name, author=author).close()
        else:
            _create_published(out, name, author)
    collection = Collection.open(out)
    foreign = [item.id for item in collection.items if item.id not in ids]
    if foreign:
        collection.close()
        raise CollectionError(
            f"{out}: already exists and holds {len(foreign)} item(s) this import did not write; "
            "choose a new folder for the collection"
        )
    return collection


_CREATE_WORDS: Final = StagedWords(
    "the collection's folder", "create the collection", "choose a new folder for the collection"
)


def _create_published(out: Path, name: str, author: str) -> None:
    def create(staged: Path) -> Path:
        Collection.create(staged, name, author=author).close()
        return staged

    write_staged(out, "import", create, _CREATE_WORDS)


def _is_collection(path: Path) -> bool:
    return path.is_dir() and not path.is_symlink() and ((path / MANIFEST).exists() or (path / BACKUP).exists())
