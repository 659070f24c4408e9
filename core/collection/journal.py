"""The journal of a collection: one checksummed line per change since the manifest was last written.

Each line is ``"<crc32 hex> <json>\\n"`` with ``{"seq", "op": "put"|"del", ...}``; sequence numbers rise. A torn
last line (a crash while appending) is ignored; a damaged line anywhere else makes the collection unreadable.
"""

from __future__ import annotations

import json
import logging
import zlib
from pathlib import Path
from typing import Any, Final

from core.collection.fsutil import read_limited
from core.errors import CollectionError

log = logging.getLogger(__name__)

JOURNAL: Final = "journal.jsonl"


def encode_line(entry: dict[str, Any]) -> bytes:
    """One journal line (checksum, space, compact JSON, newline) for ``entry``."""
    body = json.dumps(entry, sort_keys=True, separators=(",", ":"), allow_nan=False)
    return f"{zlib.crc32(body.encode()):08x} {body}\n".encode()


def read_entries(journal: Path) -> tuple[list[tuple[int, dict[str, Any]]], bool]:
    """The journal's entries as (line number, entry) in order, and whether its last line is torn.

    A missing journal has no entries. Raises CollectionError on a damaged line that is not the last one, or on
    a sequence number that does not rise.
    """
    try:
        raw = read_limited(journal)
    except FileNotFoundError:
        return [], False
    except OSError as error:
        raise CollectionError(f"{journal}: cannot read ({error})") from None
    lines = raw.split(b"\n")
    tail = lines.pop()  # the part after the last newline: empty unless the last write was torn
    torn = bool(tail)
    entries: list[tuple[int, dict[str, Any]]] = []
    last_seq = None
    for number, line in enumerate(lines, start=1):
        entry = _parse_line(line)
        if entry is None:
            if number == len(lines) and not torn:
                log.warning("%s: ignoring a torn last line %d", journal, number)
                return entries, True
            raise CollectionError(f"{journal}: line {number} is corrupt (bad checksum or JSON)")
        seq = entry.get("seq")
        if isinstance(seq, bool) or not isinstance(seq, int) or (last_seq is not None and seq <= last_seq):
            raise CollectionError(f"{journal}: line {number} has an invalid sequence number {seq!r}")
        last_seq = seq
        entries.append((number, entry))
    if torn:
        log.warning("%s: ignoring a torn last line %d", journal, len(lines) + 1)
    return entries, torn


def _parse_line(line: bytes) -> dict[str, Any] | None:
    if len(line) < 10 or line[8:9] != b" ":
        return None
    body = line[9:]
    try:
        if int(line[:8], 16) != zlib.crc32(body):
            return None
        entry = json.loads(body.decode("utf-8"))
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None
    return entry if isinstance(entry, dict) else None
