"""``invariance study ingest --db``: the answers of a served study into its collections, with the rules of a file
ingest (:func:`core.study.ingest.ingest_sources`: every collection locked, all or nothing, idempotent).

Each rater becomes one answer source keyed ``study:<study id>`` in the collections' ledger, with their control
score, exactly as an answers file would. Raters still answering are left for a later run; raters excluded live
for failing attention checks are not ingested (a file ingest cannot see attention checks); raters excluded for
their controls are ingested and left out of the consensus by the ledger's rule, as after a file ingest. Running it
again changes nothing, or brings in what raters answered since.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Connection, select

from core.study.consensus import DEFAULT_MIN_RATER_ACCURACY
from core.study.ingest import AnswerSource, IngestSummary, ingest_sources, resolve_collection
from core.study.server.assign import StudyConfig, load_config
from core.study.server.db import StudyStore, study_items, study_raters, study_trials
from core.study.sets import collection_key


@dataclass
class ServedIngest:
    """What ``study ingest --db`` did: the ingest summary, and the raters it left out (name -> why)."""

    summary: IngestSummary
    left_out: dict[str, str] = field(default_factory=dict)


def served_sources(
    connection: Connection, config: StudyConfig, collections: Sequence[str | Path] = ()
) -> tuple[list[AnswerSource], dict[str, str]]:
    """One :class:`AnswerSource` per rater of the study whose answers count, and the raters left out with why."""
    known = {Path(c).name: collection_key(c) for c in collections}
    raters = connection.execute(select(study_raters.c.id, study_raters.c.name, study_raters.c.status)).all()
    rows = connection.execute(
        select(
            study_trials.c.rater_id,
            study_trials.c.kind,
            study_trials.c.answer,
            study_trials.c.expected,
            study_items.c.collection,
            study_items.c.item_id,
        )
        .outerjoin(study_items, study_items.c.id == study_trials.c.item_pk)
        .where(study_trials.c.answer.is_not(None))
        .order_by(study_trials.c.rater_id, study_trials.c.position)
    ).all()
    answered: dict[int, list[tuple[str, int, int | None, str | None, str | None]]] = defaultdict(list)
    for rater_id, kind, label, expected, collection, item_id in rows:
        answered[rater_id].append((kind, label, expected, collection, item_id))
    where: dict[str, str] = {}
    sources, left_out = [], {}
    for rater_id, name, status in raters:
        trials = answered.get(rater_id, [])
        failed_checks = sum(kind == "check" and label != expected for kind, label, expected, _, _ in trials)
        if status == "active":
            left_out[name] = "still answering; run the ingest again later"
            continue
        if config.design.attention_checks and failed_checks >= config.design.max_failed_checks:
            left_out[name] = f"excluded: failed {failed_checks} attention checks"
            continue
        items = []
        for kind, label, _, collection, item_id in trials:
            if kind == "item" and collection is not None and item_id is not None:
                if collection not in where:
                    where[collection] = resolve_collection(collection, known)
                items.append((where[collection], item_id, int(label)))
        controls = [(label, expected) for kind, label, expected, _, _ in trials if kind == "control"]
        if not items:
            left_out[name] = "answered no item"
            continue
        score = (len(controls), sum(label == expected for label, expected in controls))
        key = f"study:{config.study_id}"
        sources.append(AnswerSource(Path(f"study-{config.study_id}"), name, key, None, items, score, served=True))
    return sources, left_out


def ingest_served(
    url: str,
    collections: Sequence[str | Path] = (),
    *,
    replace_rater: bool = False,
    threshold: float | None = None,
    min_rater_accuracy: float | None = DEFAULT_MIN_RATER_ACCURACY,
) -> ServedIngest:
    """Ingest the study in the database at ``url`` into its collections (see the module docstring)."""
    with StudyStore(url, must_exist=True) as store:
        config = load_config(store)
        sources, left_out = store.read_sync(lambda connection: served_sources(connection, config, collections))
    summary = IngestSummary(files=[Path(f"study-{config.study_id}")])
    if sources:
        ingest_sources(
            sources,
            summary,
            replace_rater=replace_rater,
            threshold=threshold,
            min_rater_accuracy=min_rater_accuracy,
        )
    return ServedIngest(summary, left_out)
