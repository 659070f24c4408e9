"""Merging answers files into collections: labels, the consensus label, and the rater ledger.

Ingesting checks everything before writing anything:

- every answers file is valid; a study pack's answers (format 2) match the pack's plan (:mod:`core.study.plan`):
  the same positions, each once, so every control digit is answered and none can be invented or dropped;
- no rater name appears twice for the same items, in one call or against an earlier ingest (a rater already
  ingested is refused unless ``replace_rater``; re-ingesting an identical in-app file changes nothing);
- every target collection exists, holds the items, and its write lock can be taken (all are locked before the
  first write).

It then writes each rater's label into the items (``human_labels``), each item's consensus label
(``human_label``: the label of at least ``threshold`` of the kept raters, or none) and the ledger. If a write
fails, what was already written is put back, in every collection: all or nothing.

A rater whose accuracy on the control digits is below ``min_rater_accuracy`` (default 80%), or who answered no
control digit, is left out of the consensus; their labels are still stored so a report can be rerun with another
minimum. The ledger, ``<collection>/study-raters.json``, keeps each answers file's control score and the
collection's consensus threshold::

    {"format_version": 1, "kind": "invariance-lab.study-raters", "threshold": 0.7,
     "raters": {"ada": {"pack:3f0c9a51d2e8b7a4": {"n_clean": 20, "n_correct": 19, "pack_id": "3f0c9a51d2e8b7a4"},
                        "answers-ada-20261121T200000Z.json": {"n_clean": 6, "n_correct": 6}}}}

Reports merge the ledgers of their collections (one entry per key, so a file that touched two collections counts
once).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import numpy as np

from core.data import load_mnist
from core.errors import CollectionError, StudyError
from core.study.answers import (
    AnswersFile,
    PackAnswers,
    TrialRef,
    read_any_answers,
    read_json,
    write_bytes_atomic,
    write_json_atomic,
)
from core.study.consensus import (
    DEFAULT_MIN_RATER_ACCURACY,
    DEFAULT_THRESHOLD,
    RaterCheck,
    check_consensus_options,
    item_consensus,
    rater_checks,
)
from core.study.plan import StudyPlan, find_plan, resolve_moved
from core.study.sets import collection_key

if TYPE_CHECKING:
    from core.collection import Collection

log = logging.getLogger(__name__)

LEDGER: Final = "study-raters.json"
LEDGER_KIND: Final = "invariance-lab.study-raters"
LEDGER_VERSION: Final = 1
PACK_KEY_PREFIX: Final = "pack:"

Ledger = dict[str, dict[str, tuple[int, int]]]
"""rater -> ledger key (answers file name, or ``pack:<pack_id>``) -> (n_clean, n_correct)."""


@dataclass
class IngestSummary:
    """What one ingest did.

    ``labels``: labels written per collection; ``clean``: control score per (rater, answers file name);
    ``consensus``: items with a consensus label per collection after the ingest; ``raters``: the attention check
    of every rater in the target collections (``excluded`` ones, with ``reason``, are left out of consensus);
    ``unchanged``: files that were already ingested identically.
    """

    files: list[Path] = field(default_factory=list)
    labels: dict[str, int] = field(default_factory=dict)
    clean: dict[tuple[str, str], tuple[int, int]] = field(default_factory=dict)
    consensus: dict[str, int] = field(default_factory=dict)
    raters: dict[str, RaterCheck] = field(default_factory=dict)
    threshold: float = DEFAULT_THRESHOLD
    min_rater_accuracy: float | None = DEFAULT_MIN_RATER_ACCURACY
    packs: list[str] = field(default_factory=list)
    unchanged: list[Path] = field(default_factory=list)

    @property
    def excluded(self) -> dict[str, str]:
        """rater -> why they are left out of consensus."""
        return {name: check.reason for name, check in self.raters.items() if check.excluded}


@dataclass(frozen=True)
class AnswerSource:
    """One rater's answers (a file, or a served study's database) resolved to the collection items (current
    folders) and control digits they answer. ``served``: from a study database (:mod:`core.study.server`), which
    is the record: ingesting it again after the rater answered more replaces their earlier labels from it."""

    path: Path
    rater: str
    key: str
    pack_id: str | None
    items: list[tuple[str, str, int]]
    """(collection folder, item id, label)."""
    score: tuple[int, int]
    served: bool = False


def resolve_collection(recorded: str, known: Mapping[str, str]) -> str:
    """The collection folder an in-app answers file refers to (see :func:`core.study.plan.resolve_moved`)."""
    return resolve_moved(recorded, known)


def clean_score(answers: AnswersFile, test_labels: Sequence[int] | np.ndarray | None = None) -> tuple[int, int]:
    """(clean digits shown, answered with their MNIST test label) for one answers file."""
    clean = [trial for trial in answers.trials if trial.ref.is_clean]
    if not clean:
        return 0, 0
    labels = test_labels if test_labels is not None else load_mnist("test")[1]
    return len(clean), sum(int(trial.answer == int(labels[trial.ref.clean_index])) for trial in clean)


def read_ledger(collection: str | Path) -> Ledger:
    """rater -> key -> (n_clean, n_correct) from a collection's ledger ({} when it has none)."""
    return _read_ledger_document(collection)[0]


def read_threshold(collection: str | Path) -> float | None:
    """The consensus threshold recorded in a collection's ledger, or ``None`` when none was recorded."""
    return _read_ledger_document(collection)[1]


def _read_ledger_document(collection: str | Path) -> tuple[Ledger, float | None]:
    path = Path(collection) / LEDGER
    if not path.exists():
        return {}, None
    data = read_json(path, "rater ledger")
    if not isinstance(data, dict) or data.get("kind") != LEDGER_KIND or data.get("format_version") != LEDGER_VERSION:
        raise StudyError(f"{path}: not a version-{LEDGER_VERSION} rater ledger")
    threshold = data.get("threshold")
    if threshold is not None:
        if not isinstance(threshold, (int, float)) or isinstance(threshold, bool) or not 0 < threshold <= 1:
            raise StudyError(f"{path}: threshold must be a number in (0, 1]")
        threshold = float(threshold)
    raters = data.get("raters")
    if not isinstance(raters, dict):
        raise StudyError(f"{path}: 'raters' must be an object")
    out: Ledger = {}
    for rater, files in raters.items():
        if not isinstance(files, dict):
            raise StudyError(f"{path}: rater {rater!r} must map answers files to scores")
        for name, score in files.items():
            score = score if isinstance(score, dict) else {}
            n_clean, n_correct = score.get("n_clean"), score.get("n_correct")
            if not isinstance(n_clean, int) or not isinstance(n_correct, int) or not 0 <= n_correct <= n_clean:
                raise StudyError(f"{path}: bad score of rater {rater!r} in {name!r}")
            out.setdefault(str(rater), {})[str(name)] = (n_clean, n_correct)
    return out, threshold


def merge_ledgers(ledgers: Iterable[Ledger]) -> dict[str, tuple[int, int]]:
    """rater -> (n_clean, n_correct) summed over the distinct keys of ``ledgers``."""
    merged: Ledger = {}
    for ledger in ledgers:
        for rater, files in ledger.items():
            merged.setdefault(rater, {}).update(files)
    return {
        rater: (sum(n for n, _ in files.values()), sum(c for _, c in files.values()))
        for rater, files in sorted(merged.items())
    }


def rater_clean_counts(collections: Sequence[str | Path]) -> dict[str, tuple[int, int]]:
    """rater -> (n_clean, n_correct) summed over the distinct answers files in the collections' ledgers."""
    return merge_ledgers(read_ledger(collection) for collection in collections)


def recorded_threshold(collections: Sequence[str | Path]) -> float:
    """The consensus threshold the collections' ledgers record (default 70%); raises if they disagree."""
    found = {t for t in (read_threshold(c) for c in collections) if t is not None}
    if len(found) > 1:
        raise StudyError(f"the collections record different consensus thresholds {sorted(found)}; pass --threshold")
    return found.pop() if found else DEFAULT_THRESHOLD


def _ledger_document(ledger: Ledger, threshold: float) -> dict[str, Any]:
    def entry(key: str, score: tuple[int, int]) -> dict[str, Any]:
        data: dict[str, Any] = {"n_clean": score[0], "n_correct": score[1]}
        if key.startswith(PACK_KEY_PREFIX):
            data["pack_id"] = key[len(PACK_KEY_PREFIX) :]
        return data

    return {
        "format_version": LEDGER_VERSION,
        "kind": LEDGER_KIND,
        "threshold": threshold,
        "raters": {
            rater: {key: entry(key, score) for key, score in sorted(files.items())}
            for rater, files in sorted(ledger.items())
        },
    }


# --- reading and checking the answers ---------------------------------------------------------------------
def _resolve(
    path: Path,
    answers: AnswersFile | PackAnswers,
    known: Mapping[str, str],
    folders: Sequence[str | Path],
    plans: dict[str, tuple[StudyPlan, dict[str, str]]],
    test_labels: np.ndarray,
) -> AnswerSource:
    if isinstance(answers, PackAnswers):
        if answers.pack_id not in plans:
            plans[answers.pack_id] = find_plan(answers.pack_id, folders)
        plan, where = plans[answers.pack_id]
        if len(answers.trials) != len(plan.trials):
            raise StudyError(
                f"{path}: {len(answers.trials)} answers, but study pack {answers.pack_id} showed {len(plan.trials)} "
                "images; every image must be answered once"
            )
        refs: list[tuple[TrialRef, int]] = [(plan.trials[t.order], t.answer) for t in answers.trials]
        key = f"{PACK_KEY_PREFIX}{answers.pack_id}"
        pack_id: str | None = answers.pack_id
    else:
        if answers.source == "pack":
            raise StudyError(
                f"{path}: answers of an old study pack that named its items and controls to the rater; they cannot "
                "be checked against a plan: make a new pack with 'invariance study pack'"
            )
        refs = [(t.ref, int(t.answer)) for t in answers.trials if t.answer is not None]
        seen = [r for r, _ in refs]
        if len(set(seen)) != len(seen):
            raise StudyError(f"{path}: an image is answered more than once")
        where = {}
        key = path.name
        pack_id = None
    items: list[tuple[str, str, int]] = []
    clean: list[bool] = []
    for ref, answer in refs:
        if ref.collection is None:
            clean.append(answer == int(test_labels[ref.clean_index]))
        else:
            target = where.get(ref.collection) or resolve_collection(ref.collection, known)
            items.append((target, ref.item, answer))
    return AnswerSource(path, answers.rater, key, pack_id, items, (len(clean), sum(clean)))


def _check_no_duplicate_raters(sources: Sequence[AnswerSource]) -> None:
    seen: dict[tuple[str, str, str], Path] = {}
    for source in sources:
        for target, item, _ in source.items:
            first = seen.setdefault((source.rater, target, item), source.path)
            if first != source.path:
                raise StudyError(
                    f"rater {source.rater!r} answers item {item} of {target} in both {first.name} and "
                    f"{source.path.name}; ingest one of them (a rater's name must be unique in a study)"
                )


# --- writing ------------------------------------------------------------------------------------------------
@dataclass
class _Target:
    """One collection being written: its open handle, its ledger before and after, and the items' old labels."""

    path: str
    collection: Collection
    ledger_bytes: bytes | None
    ledger: Ledger
    old: dict[str, tuple[dict[str, int], int | None]] = field(default_factory=dict)
    wrote_ledger: bool = False


def _open_all(paths: Sequence[str]) -> list[_Target]:
    """Open (and lock) every collection before anything is written; release them all if one cannot be."""
    from core.collection import Collection

    targets: list[_Target] = []
    try:
        for path in paths:
            try:
                collection = Collection.open(path)
            except CollectionError as error:
                raise StudyError(f"cannot open collection {path} for writing: {error}") from None
            ledger_path = Path(path) / LEDGER
            try:
                ledger_bytes = ledger_path.read_bytes() if ledger_path.exists() else None
            except OSError as error:
                collection.close()
                raise StudyError(f"{ledger_path}: cannot read ({error.strerror or error})") from None
            targets.append(_Target(path, collection, ledger_bytes, {}))
            targets[-1].ledger = read_ledger(path)
    except BaseException:
        _close_all(targets)
        raise
    return targets


def _close_all(targets: Sequence[_Target]) -> None:
    for target in targets:
        with contextlib.suppress(CollectionError, OSError):
            target.collection.close()


def _already_ingested(source: AnswerSource, targets: Mapping[str, _Target]) -> str | None:
    """Why ``source``'s rater is already in the collections (``None`` if not); ``"same"`` for an identical file."""
    touched = {t for t, _, _ in source.items}
    for path in touched:
        if source.rater in targets[path].ledger and source.key in targets[path].ledger[source.rater]:
            if source.pack_id is not None:
                return f"rater {source.rater!r} is already ingested for study pack {source.pack_id}"
            identical = all(
                targets[t].collection.get(item).human_labels.get(source.rater) == label
                for t, item, label in source.items
            )
            if identical:
                return "same"
    for t, item, _ in source.items:
        if source.rater in targets[t].collection.get(item).human_labels:
            return f"rater {source.rater!r} is already ingested for item {item} of {t} (from another answers file)"
    return None


def ingest(
    paths: Sequence[str | Path],
    *,
    collections: Sequence[str | Path] = (),
    replace_rater: bool = False,
    threshold: float | None = None,
    min_rater_accuracy: float | None = DEFAULT_MIN_RATER_ACCURACY,
) -> IngestSummary:
    """Check every answers file, then write labels, consensus labels and ledgers into their collections.

    ``collections``: where the pack's plan and collections are (required for study pack answers), or where
    collections of in-app answers now live (matched by folder name; used even when the recorded folder still
    exists). ``replace_rater``: a rater already ingested for these items gets the new labels (and their earlier
    ledger entries in the touched collections are dropped). ``threshold``: consensus share (default: the one the
    collections recorded, else 70%); it is recorded in every collection written. ``min_rater_accuracy``: raters
    below it on the control digits, or with none, are left out of the consensus (``None`` or 0 keeps everyone).

    Raises :class:`StudyError` (one line naming the file and problem) before anything is written when a file is
    invalid, does not match its plan, repeats a rater, refers to a missing collection or item, or a collection is
    locked by another process. A failure while writing puts every collection back as it was.
    """
    if not paths:
        raise StudyError("no answers files given")
    check_consensus_options(threshold, min_rater_accuracy)
    known = {Path(c).name: collection_key(c) for c in collections}
    parsed = [(Path(path), read_any_answers(path)) for path in paths]
    test_labels = load_mnist("test")[1]
    plans: dict[str, tuple[StudyPlan, dict[str, str]]] = {}
    sources = [_resolve(path, answers, known, collections, plans, test_labels) for path, answers in parsed]
    summary = IngestSummary(files=[path for path, _ in parsed], packs=list(plans))
    return ingest_sources(
        sources, summary, replace_rater=replace_rater, threshold=threshold, min_rater_accuracy=min_rater_accuracy
    )


def ingest_sources(
    sources: Sequence[AnswerSource],
    summary: IngestSummary,
    *,
    replace_rater: bool = False,
    threshold: float | None = None,
    min_rater_accuracy: float | None = DEFAULT_MIN_RATER_ACCURACY,
) -> IngestSummary:
    """Write resolved answers into their collections, with the rules of :func:`ingest` (which reads the files);
    ``summary`` is filled in and returned."""
    check_consensus_options(threshold, min_rater_accuracy)
    _check_no_duplicate_raters(sources)
    for source in sources:
        summary.clean[(source.rater, source.path.name)] = source.score
    paths_to_write = sorted({t for source in sources for t, _, _ in source.items})
    targets = {target.path: target for target in _open_all(paths_to_write)}
    try:
        for target in targets.values():
            for _, item, _ in (entry for s in sources for entry in s.items if entry[0] == target.path):
                if item not in target.collection:
                    raise StudyError(f"collection {target.path} has no item {item!r}")
        if threshold is None:
            threshold = recorded_threshold(list(targets))
        fresh: list[tuple[AnswerSource, bool]] = []
        for source in sources:
            reason = _already_ingested(source, targets)
            if reason not in (None, "same") and source.served and _ingested_from(source, targets):
                reason = "update"  # the study database is the record: its newer answers replace the older ones
            if reason == "same":
                summary.unchanged.append(source.path)
            elif reason not in (None, "update") and not replace_rater:
                raise StudyError(f"{source.path}: {reason}; pass --replace-rater to replace their answers")
            else:
                fresh.append((source, reason is not None))
        _apply(fresh, targets, threshold, min_rater_accuracy, summary)
    finally:
        _close_all(list(targets.values()))
    summary.threshold = threshold
    summary.min_rater_accuracy = min_rater_accuracy
    return summary


def _ingested_from(source: AnswerSource, targets: Mapping[str, _Target]) -> bool:
    """Whether ``source``'s rater was ingested before from the same key (the same study database)."""
    return any(source.key in targets[t].ledger.get(source.rater, {}) for t, _, _ in source.items)


def _apply(
    sources: Sequence[tuple[AnswerSource, bool]],
    targets: Mapping[str, _Target],
    threshold: float,
    min_rater_accuracy: float | None,
    summary: IngestSummary,
) -> None:
    """Compute every new label, consensus and ledger, then write them all (or put everything back).

    ``sources``: (answers, whether they replace the rater's earlier answers)."""
    labels: dict[str, dict[str, dict[str, int]]] = {
        path: {item.id: dict(item.human_labels) for item in target.collection.items if item.human_labels}
        for path, target in targets.items()
    }
    for source, replaces in sources:
        touched = {t for t, _, _ in source.items}
        for path in touched:
            ledger = targets[path].ledger.setdefault(source.rater, {})
            if replaces and source.pack_id is None:  # the rater's earlier in-app scores here go with their labels
                for key in [k for k in ledger if not k.startswith(PACK_KEY_PREFIX)]:
                    del ledger[key]
            ledger[source.key] = source.score
        for path, item, label in source.items:
            labels[path].setdefault(item, {})[source.rater] = label
            summary.labels[path] = summary.labels.get(path, 0) + 1
    checks = rater_checks(merge_ledgers(t.ledger for t in targets.values()), min_accuracy=min_rater_accuracy)
    summary.raters = checks
    excluded = {name for name, check in checks.items() if check.excluded}
    updates: dict[str, dict[str, tuple[dict[str, int], int | None]]] = {}
    for path, target in targets.items():
        updates[path] = {}
        for item_id, item_labels in labels[path].items():
            record = target.collection.get(item_id)
            consensus = item_consensus(
                item_labels, record.original_label, threshold=threshold, excluded_raters=excluded
            )
            new = (item_labels, consensus.human_label)
            if (dict(record.human_labels), record.human_label) != new:
                updates[path][item_id] = new
        final = {item.id: item.human_label for item in target.collection.items}
        final.update({item_id: label for item_id, (_, label) in updates[path].items()})
        summary.consensus[path] = sum(label is not None for label in final.values())
    try:
        for path, target in targets.items():
            _write_target(target, updates[path], threshold)
    except BaseException as error:
        _roll_back(targets.values())
        if isinstance(error, (CollectionError, OSError)):
            raise StudyError(f"ingest failed and was undone: {error}") from None
        raise
    for path, count in summary.labels.items():
        log.info("ingested %d labels into %s", count, path)


def _write_target(target: _Target, updates: Mapping[str, tuple[dict[str, int], int | None]], threshold: float) -> None:
    with target.collection.batch():
        for item_id, (item_labels, human_label) in updates.items():
            item = target.collection.get(item_id)
            target.old.setdefault(item_id, (dict(item.human_labels), item.human_label))
            target.collection.update(item_id, human_labels=item_labels, human_label=human_label)
    document = _ledger_document(target.ledger, threshold)
    target.wrote_ledger = True
    write_json_atomic(Path(target.path) / LEDGER, document, overwrite=True)


def _roll_back(targets: Iterable[_Target]) -> None:
    """Put back the old labels and ledger of every collection (best effort: each step is tried)."""
    for target in targets:
        with contextlib.suppress(CollectionError, OSError), target.collection.batch():
            for item_id, (item_labels, human_label) in target.old.items():
                target.collection.update(item_id, human_labels=item_labels, human_label=human_label)
        ledger = Path(target.path) / LEDGER
        if not target.wrote_ledger:
            continue
        with contextlib.suppress(OSError):
            if target.ledger_bytes is None:
                ledger.unlink(missing_ok=True)
            else:
                write_bytes_atomic(ledger, target.ledger_bytes)
