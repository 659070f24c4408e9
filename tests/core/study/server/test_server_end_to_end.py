"""A study served from a collection, answered by simulated raters through the real API, ingested with
``study ingest --db``, gives ``evaluate`` the same Table 1 as the same answers ingested from answers files; the
ingest is idempotent; ``study status --db`` reports the study."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from core.cli import main
from core.collection import Collection
from core.study.answers import AnswersFile, Trial, TrialRef, write_answers
from core.study.server.app import create_app
from core.study.server.assign import StudyDesign
from core.study.server.db import StudyStore, study_items, study_raters, study_trials
from tests.fixtures_study_server import open_test_study, run_rater, small_collection

DESIGN = StudyDesign(ratings_per_item=3, items_per_rater=6, controls_per_rater=5, attention_checks=2)


def _item_of(store: StudyStore, token: str) -> str | None:
    return store.read_sync(
        lambda c: c.execute(
            select(study_items.c.item_id)
            .select_from(study_trials.outerjoin(study_items, study_items.c.id == study_trials.c.item_pk))
            .where(study_trials.c.token == token)
        ).scalar_one()
    )


def _answers_files(store: StudyStore, out: Path) -> list[str]:
    """The database's answers of every rater that counts, written as in-app answers files (format 1)."""
    raters = store.read_sync(
        lambda c: c.execute(
            select(study_raters.c.id, study_raters.c.name, study_raters.c.seed, study_raters.c.excluded_reason)
        ).all()
    )
    paths = []
    for rater_id, name, seed, excluded_reason in raters:
        if excluded_reason is not None and "attention" in excluded_reason:
            continue  # a file cannot carry attention checks: such raters are not ingested from the database either
        rows = store.read_sync(
            lambda c, rater_id=rater_id: c.execute(
                select(
                    study_trials.c.kind,
                    study_trials.c.answer,
                    study_trials.c.response_ms,
                    study_trials.c.clean_index,
                    study_items.c.collection,
                    study_items.c.item_id,
                )
                .select_from(study_trials.outerjoin(study_items, study_items.c.id == study_trials.c.item_pk))
                .where(study_trials.c.rater_id == rater_id, study_trials.c.answer.is_not(None))
                .order_by(study_trials.c.position)
            ).all()
        )
        trials = []
        for kind, answer, response_ms, clean_index, collection, item_id in rows:
            if kind == "check":
                continue
            ref = TrialRef.clean(clean_index) if kind == "control" else TrialRef(collection, item_id)
            trials.append(Trial(len(trials), ref, answer, response_ms))
        paths.append(str(write_answers(AnswersFile(name, int(seed), trials), out)))
    return paths


def test_served_then_ingested_equals_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("INVARIANCE_CHECKPOINTS", str(tmp_path / "no-models"))  # humans only
    coll = tmp_path / "served" / "coll"
    ids = small_collection(coll, 6)
    copy = tmp_path / "files" / "coll"
    shutil.copytree(coll, copy)
    url = f"sqlite:///{tmp_path / 'study.sqlite'}"
    store, config = open_test_study(coll, url, DESIGN)
    # items 0-2: everyone says 3 (a switch unless the digit is a 3); items 3-5: split votes -> no consensus
    votes = {"ada": [3, 3, 3, 1, 2, 4], "bob": [3, 3, 3, 2, 4, 1], "cy": [3, 3, 3, 4, 1, 2]}
    try:

        def inattentive(kind: str, expected: int | None, token: str) -> int:
            return (int(expected or 0) + 1) % 10 if kind == "check" else int(expected if expected is not None else 3)

        # dan comes first and fails both attention checks: his items go back to the pool
        with TestClient(create_app(store, config), base_url="http://127.0.0.1") as client:
            assert run_rater(client, store, {"rater": "dan"}, inattentive)["stage"] == "done"
        for name, labels in votes.items():
            per_item = dict(zip(ids, labels, strict=True))

            def choose(kind: str, expected: int | None, token: str, per_item: dict[str, int] = per_item) -> int:
                return per_item[str(_item_of(store, token))] if kind == "item" else int(expected or 0)

            with TestClient(create_app(store, config), base_url="http://127.0.0.1") as client:
                assert run_rater(client, store, {"rater": name}, choose)["stage"] == "done"

        (tmp_path / "answers").mkdir()
        files = _answers_files(store, tmp_path / "answers")
    finally:
        store.close()

    capsys.readouterr()
    assert main(["study", "ingest", "--db", url, "--collection", str(coll)]) == 0
    out = capsys.readouterr().out
    assert "rater 'dan' not ingested: excluded: failed 2 attention checks" in out
    assert main(["study", "ingest", "--db", url, "--collection", str(coll)]) == 0  # idempotent
    assert "already ingested, nothing changed" in capsys.readouterr().out
    assert main(["study", "ingest", *files, "--collection", str(copy)]) == 0
    capsys.readouterr()
    reports = []
    for folder in (coll, copy):
        assert main(["evaluate", str(folder), "--models", "", "--json"]) == 0
        reports.append(json.loads(capsys.readouterr().out))
    served, from_files = reports
    assert served["sets"] == from_files["sets"]
    assert served["sets"]["served"]["n_rated"] == 6 and served["sets"]["served"]["n_no_consensus"] == 3
    with Collection.open(coll, read_only=True) as collection:
        assert {item.id: dict(item.human_labels) for item in collection.items} == {
            item_id: {name: labels[k] for name, labels in votes.items()} for k, item_id in enumerate(ids)
        }

    assert main(["study", "status", "--db", url, "--json"]) == 0
    status = json.loads(capsys.readouterr().out)
    keys = ("raters_started", "raters_finished", "raters_excluded", "items", "items_complete")
    assert {key: status[key] for key in keys} == {
        "raters_started": 4,
        "raters_finished": 3,
        "raters_excluded": 1,
        "items": 6,
        "items_complete": 6,
    }
    assert 3 * 13 + 2 <= status["answers"] <= 3 * 13 + 13  # dan stopped at his second failed check
    assert main(["study", "status", "--db", url]) == 0
    assert "items with K kept ratings: 6 of 6" in capsys.readouterr().out
