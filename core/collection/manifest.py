"""The manifest of a collection: ``manifest.json`` (every item as of the last compaction) and its backup.

``{"format_version": 1, "name", "author", "created", "modified", "journal_seq", "items": [...]}``; the items are
the records of :func:`core.collection.schema.item_to_record`. ``manifest.json.bak`` is the previous good one.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from core.collection.fsutil import read_limited
from core.collection.schema import FORMAT_VERSION, now_iso
from core.errors import CollectionError

MANIFEST: Final = "manifest.json"
BACKUP: Final = "manifest.json.bak"


@dataclass(frozen=True)
class Manifest:
    """A manifest's header and its item records (not yet checked: see ``record_to_fields``)."""

    name: str
    author: str
    created: str
    journal_seq: int
    records: list[Any]


def backup_hint(folder: Path) -> str:
    """Text to append to an error about the manifest of ``folder``: where the last good one is, if any."""
    return f"; the last good manifest is {folder / BACKUP}" if (folder / BACKUP).exists() else ""


def manifest_bytes(name: str, author: str, created: str, journal_seq: int, records: list[dict[str, Any]]) -> bytes:
    """The contents of ``manifest.json`` for these items, stamped ``modified`` now."""
    document = {
        "format_version": FORMAT_VERSION,
        "name": name,
        "author": author,
        "created": created,
        "modified": now_iso(),
        "journal_seq": journal_seq,
        "items": records,
    }
    return (json.dumps(document, indent=1, allow_nan=False) + "\n").encode()


def read_manifest(folder: Path) -> Manifest:
    """The manifest of the collection in ``folder``; CollectionError naming the file, the problem and the backup."""
    manifest_path = folder / MANIFEST
    hint = backup_hint(folder)
    if not manifest_path.is_file():
        raise CollectionError(f"{manifest_path}: missing; {folder} is not a collection{hint}")
    try:
        raw = read_limited(manifest_path)
        document = json.loads(raw.decode("utf-8"))
    except OSError as error:
        raise CollectionError(f"{manifest_path}: cannot read ({error}){hint}") from None
    except UnicodeDecodeError as error:
        raise CollectionError(f"{manifest_path}: not UTF-8 text (byte {error.start}){hint}") from None
    except (ValueError, RecursionError) as error:  # ValueError: bad syntax, or an integer too long to read
        reason = "nested too deeply" if isinstance(error, RecursionError) else str(error)[:120]
        raise CollectionError(f"{manifest_path}: invalid JSON ({reason}){hint}") from None
    try:
        return _parse(document, manifest_path)
    except CollectionError as error:
        raise CollectionError(f"{error}{hint}") from None


def _parse(document: object, where: Path) -> Manifest:
    if not isinstance(document, dict):
        raise CollectionError(f"{where}: not a collection manifest (top level is not an object)")
    version = document.get("format_version")
    if isinstance(version, bool) or not isinstance(version, int):
        raise CollectionError(f"{where}: missing or invalid format_version")
    if version != FORMAT_VERSION:
        raise CollectionError(f"{where}: unknown format_version {version} (this program reads {FORMAT_VERSION})")
    for key in ("name", "author", "created"):
        if not isinstance(document.get(key), str):
            raise CollectionError(f"{where}: '{key}' must be a string")
    seq = document.get("journal_seq")
    if isinstance(seq, bool) or not isinstance(seq, int) or seq < 0:
        raise CollectionError(f"{where}: invalid journal_seq {seq!r}")
    records = document.get("items")
    if not isinstance(records, list):
        raise CollectionError(f"{where}: 'items' must be a list")
    return Manifest(document["name"], document["author"], document["created"], seq, records)
