"""Merging answers files into collections, and the rater ledger the attention check reads.

Ingesting writes each rater's label into the items (``Collection.set_human_label``; re-ingesting a file is
harmless) and records the rater's score on the clean digits of that file in a small ledger file inside every
collection the file touched, ``<collection>/study-raters.json``::

    {"format_version": 1, "kind": "invariance-lab.study-raters",
     "raters": {"ada": {"answers-ada-20261121T200000Z.json": {"n_clean": 20, "n_correct": 19}}}}

Reports merge the ledgers of their collections (one entry per answers file name, so a file that touched two
collections counts once).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import numpy as np

from core.data import load_mnist
from core.errors import CollectionError, StudyError
from core.study.answers import AnswersFile, read_answers, write_json_atomic
from core.study.sets import collection_key

log = logging.getLogger(__name__)

LEDGER: Final = "study-raters.json"
LEDGER_KIND: Final = "invariance-lab.study-raters"
LEDGER_VERSION: Final = 1


@dataclass
class IngestSummary:
    """What one ingest did: files read, labels written per collection, clean score per (rater, file)."""

    files: list[Path] = field(default_factory=list)
    labels: dict[str, int] = field(default_factory=dict)
    clean: dict[tuple[str, str], tuple[int, int]] = field(default_factory=dict)


def resolve_collection(recorded: str, known: Mapping[str, str]) -> str:
    """The collection folder an answers file refers to: the recorded path if it exists, else the folder given on
    the command line with the same name (``known``: folder name -> path). Raises :class:`StudyError`."""
    if Path(recorded).is_dir():
        return collection_key(recorded)
    name = Path(recorded).name
    if name in known:
        return known[name]
    raise StudyError(f"collection {recorded} not found; pass its new location with --collection")


def clean_score(answers: AnswersFile, test_labels: Sequence[int] | np.ndarray | None = None) -> tuple[int, int]:
    """(clean digits shown, answered with their MNIST test label) for one answers file."""
    clean = [trial for trial in answers.trials if trial.ref.is_clean]
    if not clean:
        return 0, 0
    labels = test_labels if test_labels is not None else load_mnist("test")[1]
    return len(clean), sum(int(trial.answer == int(labels[trial.ref.clean_index])) for trial in clean)


def read_ledger(collection: str | Path) -> dict[str, dict[str, tuple[int, int]]]:
    """rater -> answers file name -> (n_clean, n_correct) from a collection's ledger ({} when it has none)."""
    path = Path(collection) / LEDGER
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise StudyError(f"{path}: cannot read the rater ledger ({error})") from None
    if not isinstance(data, dict) or data.get("kind") != LEDGER_KIND or data.get("format_version") != LEDGER_VERSION:
        raise StudyError(f"{path}: not a version-{LEDGER_VERSION} rater ledger")
    out: dict[str, dict[str, tuple[int, int]]] = {}
    raters = data.get("raters")
    if not isinstance(raters, dict):
        raise StudyError(f"{path}: 'raters' must be an object")
    for rater, files in raters.items():
        if not isinstance(files, dict):
            raise StudyError(f"{path}: rater {rater!r} must map answers files to scores")
        for name, score in files.items():
            n_clean, n_correct = (score or {}).get("n_clean"), (score or {}).get("n_correct")
            if not isinstance(n_clean, int) or not isinstance(n_correct, int) or not 0 <= n_correct <= n_clean:
                raise StudyError(f"{path}: bad score of rater {rater!r} in {name!r}")
            out.setdefault(str(rater), {})[str(name)] = (n_clean, n_correct)
    return out


def rater_clean_counts(collections: Sequence[str | Path]) -> dict[str, tuple[int, int]]:
    """rater -> (n_clean, n_correct) summed over the distinct answers files in the collections' ledgers."""
    merged: dict[str, dict[str, tuple[int, int]]] = {}
    for collection in collections:
        for rater, files in read_ledger(collection).items():
            merged.setdefault(rater, {}).update(files)
    return {
        rater: (sum(n for n, _ in files.values()), sum(c for _, c in files.values()))
        for rater, files in sorted(merged.items())
    }


def _write_ledger(collection: str, updates: Mapping[str, Mapping[str, tuple[int, int]]]) -> None:
    ledger = read_ledger(collection)
    for rater, files in updates.items():
        ledger.setdefault(rater, {}).update(files)
    data: dict[str, Any] = {
        "format_version": LEDGER_VERSION,
        "kind": LEDGER_KIND,
        "raters": {
            rater: {name: {"n_clean": n, "n_correct": c} for name, (n, c) in sorted(files.items())}
            for rater, files in sorted(ledger.items())
        },
    }
    try:
        write_json_atomic(Path(collection) / LEDGER, data, overwrite=True)
    except OSError as error:
        raise StudyError(f"cannot write {Path(collection) / LEDGER}: {error.strerror or error}") from None


def ingest(paths: Sequence[str | Path], *, collections: Sequence[str | Path] = ()) -> IngestSummary:
    """Validate every answers file first, then write their labels into the collections they refer to.

    ``collections``: where to find collections that moved since the pack was made (matched by folder name).
    Raises :class:`StudyError` (one line naming the file and trial) before anything is written when a file is
    invalid, refers to a missing collection or to an item the collection does not have.
    """
    from core.collection import Collection

    if not paths:
        raise StudyError("no answers files given")
    known = {Path(c).name: collection_key(c) for c in collections}
    parsed = [(Path(path), read_answers(path)) for path in paths]
    test_labels = load_mnist("test")[1]
    writes: dict[str, list[tuple[str, str, int]]] = {}
    ledger: dict[str, dict[str, dict[str, tuple[int, int]]]] = {}
    summary = IngestSummary(files=[path for path, _ in parsed])
    for path, answers in parsed:
        score = clean_score(answers, test_labels)
        summary.clean[(answers.rater, path.name)] = score
        for trial in answers.trials:
            if trial.ref.collection is None or trial.answer is None:
                continue
            target = resolve_collection(trial.ref.collection, known)
            writes.setdefault(target, []).append((trial.ref.item, answers.rater, trial.answer))
            ledger.setdefault(target, {}).setdefault(answers.rater, {})[path.name] = score
    for target, labels in writes.items():
        try:
            with Collection.open(target, read_only=True) as collection:
                missing = [item for item, _, _ in labels if item not in collection]
        except CollectionError as error:
            raise StudyError(f"cannot open collection {target}: {error}") from None
        if missing:
            raise StudyError(f"collection {target} has no item {missing[0]!r} ({len(missing)} answers refer to none)")
    for target, labels in writes.items():
        with Collection.open(target) as collection, collection.batch():
            for item, rater, label in labels:
                collection.set_human_label(item, rater, label)
        _write_ledger(target, ledger[target])
        summary.labels[target] = len(labels)
        log.info("ingested %d labels into %s", len(labels), target)
    return summary
