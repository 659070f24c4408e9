"""The study server in process (Starlette's httpx test client over the real app and a real SQLite file): the rater
flow, resume, exclusion, blindness, bad requests, escaping and the dashboard's token."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select
from starlette.testclient import TestClient

from core.study.server.app import COOKIE, create_app
from core.study.server.assign import StudyConfig, StudyDesign
from core.study.server.db import StudyStore, study_raters, study_trials
from tests.fixtures_study_server import expected_of, honest, open_test_study, run_rater, small_collection

DESIGN = StudyDesign(ratings_per_item=2, items_per_rater=3, controls_per_rater=4, attention_checks=2)


@pytest.fixture
def study(tmp_path: Path) -> Iterator[tuple[StudyStore, StudyConfig, Path]]:
    coll = tmp_path / "coll"
    small_collection(coll, 4)
    store, config = open_test_study(
        coll, f"sqlite:///{tmp_path / 'study.sqlite'}", DESIGN, consent="We <b>ask</b> & you"
    )
    yield store, config, coll
    store.close()


def client_of(store: StudyStore, config: StudyConfig) -> TestClient:
    return TestClient(create_app(store, config), base_url="http://127.0.0.1")


def test_rater_flow_resume_and_done(study: tuple[StudyStore, StudyConfig, Path]) -> None:
    store, config, _ = study
    with client_of(store, config) as client:
        page = client.get("/?PROLIFIC_PID=abc123")
        assert page.status_code == 200
        assert "We &lt;b&gt;ask&lt;/b&gt; &amp; you" in page.text  # the consent file is escaped
        assert 'id="startButton"' in page.text and 'id="digit"' in page.text and 'id="doneScreen"' in page.text
        # before consent nothing is written
        assert client.post("/api/session", json={"PROLIFIC_PID": "abc123"}).json() == {"stage": "new"}
        assert store.read_sync(lambda c: c.execute(select(func.count()).select_from(study_raters)).scalar_one()) == 0
        first = client.post("/api/session", json={"begin": True, "PROLIFIC_PID": "abc123", "STUDY_ID": "s1"}).json()
        assert first["stage"] == "trial" and first["answered"] == 0 and first["total"] == 3 + 4 + 2
        # blind: only an opaque id and an image URL made of it
        text = json.dumps(first)
        assert "coll" not in text and "clean" not in text and "item" not in text
        assert set(first["trial"]) <= {"id", "image", "prompt"}
        data = run_rater(client, store, {"PROLIFIC_PID": "abc123"}, limit=4)
        assert data["stage"] == "trial" and data["answered"] == 4
        # resume in another browser (no cookie): the same PID continues at the next unanswered trial
        with client_of(store, config) as other:
            again = other.post("/api/session", json={"begin": False, "PROLIFIC_PID": "abc123"}).json()
            assert again == data
            done = run_rater(other, store, {"PROLIFIC_PID": "abc123"})
        assert done["stage"] == "done" and done["completion_code"] == config.completion_code
        # a finished rater cannot start again
        assert client.post("/api/session", json={"begin": True, "PROLIFIC_PID": "abc123"}).json()["stage"] == "done"
    answered = store.read_sync(
        lambda c: c.execute(select(func.count()).where(study_trials.c.answer.is_not(None))).scalar_one()
    )
    assert answered == 9


def test_cookie_rater_and_lab_name(study: tuple[StudyStore, StudyConfig, Path]) -> None:
    store, config, _ = study
    with client_of(store, config) as client:
        data = client.post("/api/session", json={"begin": True}).json()
        assert data["stage"] == "trial" and client.cookies.get(COOKIE)
        assert client.post("/api/session", json={}).json() == data  # the cookie resumes
    with client_of(store, config) as lab:
        assert run_rater(lab, store, {"rater": "Ada <script>"})["stage"] == "done"
    names = store.read_sync(lambda c: set(c.execute(select(study_raters.c.name)).scalars()))
    assert "Ada <script>" in names and any(re.fullmatch(r"anon-[0-9a-f]{8}", name) for name in names)


def test_exclusion_on_attention_checks_frees_items(study: tuple[StudyStore, StudyConfig, Path]) -> None:
    store, config, _ = study

    def careless(kind: str, expected: int | None, token: str) -> int:
        return (expected + 1) % 10 if kind == "check" and expected is not None else honest(kind, expected)

    with client_of(store, config) as client:
        done = run_rater(client, store, {"rater": "careless"}, careless)
    assert done["stage"] == "done"
    status, reason = store.read_sync(
        lambda c: c.execute(select(study_raters.c.status, study_raters.c.excluded_reason)).one()
    )
    assert status == "excluded" and reason == "failed 2 attention checks"
    # every item is open again: two honest raters each get 3 of the 4 items, K=2 -> no item beyond K
    for name in ("r1", "r2"):
        with client_of(store, config) as client:
            assert run_rater(client, store, {"rater": name})["stage"] == "done"
    with client_of(store, config) as client:
        third = client.post("/api/session", json={"begin": True, "rater": "r3"}).json()
    assert third["stage"] == "trial"  # 8 slots - 6 taken: two items still need a rating


def test_bad_requests_write_nothing(study: tuple[StudyStore, StudyConfig, Path]) -> None:
    store, config, _ = study
    with client_of(store, config) as client, client_of(store, config) as other:
        data = client.post("/api/session", json={"begin": True, "rater": "a"}).json()
        token = data["trial"]["id"]
        theirs = other.post("/api/session", json={"begin": True, "rater": "b"}).json()["trial"]["id"]

        def post(body: object, **kwargs: object) -> tuple[int, dict[str, str]]:
            reply = client.post("/api/answer", json=body, **kwargs)  # type: ignore[arg-type]
            return reply.status_code, reply.json()

        assert post({"trial": token, "answer": 10, "response_ms": 5})[0] == 400
        assert post({"trial": token, "answer": True, "response_ms": 5})[0] == 400
        assert post({"trial": token, "answer": 3, "response_ms": -1})[0] == 400
        assert post({"trial": "../../etc", "answer": 3, "response_ms": 1})[0] == 400
        assert post({"trial": "nosuchtrial", "answer": 3, "response_ms": 1}) == (
            404,
            {"error": "no such trial in your session"},
        )
        assert post({"trial": theirs, "answer": 3, "response_ms": 1})[0] == 404  # another rater's trial
        assert post([1, 2])[0] == 400
        reply = client.post("/api/answer", content=b"{" * 5000, headers={"Content-Type": "application/json"})
        assert reply.status_code == 413 and "error" in reply.json()
        reply = client.post("/api/answer", content=b"not json", headers={"Content-Type": "application/json"})
        assert reply.status_code == 400
        reply = client.post("/api/answer", content=b"{}", headers={"Content-Type": "text/plain"})
        assert reply.status_code == 415
        assert client.get(f"/image/{theirs}.png").status_code == 404  # image ids outside the session
        assert client.get("/image/nosuch.png").status_code == 404
        assert client.get("/nowhere").json() == {"error": "no such page"}
        nobody = client_of(store, config)
        assert nobody.post("/api/answer", json={"trial": token, "answer": 3, "response_ms": 1}).status_code == 403
        assert (
            store.read_sync(
                lambda c: c.execute(select(func.count()).where(study_trials.c.answer.is_not(None))).scalar_one()
            )
            == 0
        )
        # answering twice: the same answer is a no-op, another one is refused
        kind, expected = expected_of(store, token)
        label = honest(kind, expected)
        first = post({"trial": token, "answer": label, "response_ms": 10})
        assert first[0] == 200
        assert post({"trial": token, "answer": label, "response_ms": 99}) == first
        assert post({"trial": token, "answer": (label + 1) % 10, "response_ms": 10})[0] == 409
        # a later trial is not the current one
        later = first[1]["trial"]["id"]
        nxt = client.post("/api/answer", json={"trial": later, "answer": 1, "response_ms": 1})
        assert nxt.status_code in (200, 409)
    stored = store.read_sync(
        lambda c: c.execute(select(study_trials.c.response_ms).where(study_trials.c.token == token)).scalar_one()
    )
    assert stored == 10


def test_dashboard_needs_the_token(study: tuple[StudyStore, StudyConfig, Path]) -> None:
    store, config, _ = study
    with client_of(store, config) as client:
        run_rater(client, store, {"rater": "a"})
        assert client.get("/admin").status_code == 401
        assert client.get("/admin?token=wrong").status_code == 403
        assert client.get("/admin/status.json").status_code == 401
        assert client.get("/admin/progress.svg?token=x").status_code == 403
        page = client.get(f"/admin?token={config.admin_token}")
        assert page.status_code == 200 and "<svg" in page.text
        status = client.get(f"/admin/status.json?token={config.admin_token}").json()
    assert status["raters_started"] == 1 and status["raters_finished"] == 1 and status["answers"] == 9
    assert status["items"] == 4 and status["items_complete"] == 0 and status["ratings_needed"] == 8 - 3
    assert set(status["sets"]["served"]) >= {"krippendorff_alpha", "fleiss_kappa"}


def test_reopening_keeps_the_design_and_sets_the_completion_url_once(tmp_path: Path) -> None:
    from core.errors import StudyError

    coll = tmp_path / "coll"
    small_collection(coll, 3)
    url = f"sqlite:///{tmp_path / 'study.sqlite'}"
    store, config = open_test_study(coll, url, DESIGN)
    store.close()
    store, again = open_test_study(coll, url, DESIGN, completion_url="https://example.org/done?cc=X")
    store.close()
    assert again.study_id == config.study_id and again.completion_url == "https://example.org/done?cc=X"
    with pytest.raises(StudyError, match="started with --ratings-per-item 2, not 3"):
        open_test_study(coll, url, StudyDesign(ratings_per_item=3, items_per_rater=3, controls_per_rater=4))
    with pytest.raises(StudyError, match="--completion-url"):
        open_test_study(coll, url, DESIGN, completion_url="https://example.org/other")
    other = tmp_path / "other"
    small_collection(other, 2, start=200)
    with pytest.raises(StudyError, match="other items"):
        open_test_study(other, url, DESIGN)
    with StudyStore(url) as store:  # a database of a future schema version is refused in one line
        store.write_sync(lambda c: c.exec_driver_sql("UPDATE study_meta SET value = '99' WHERE key = 'schema_version'"))
    with pytest.raises(StudyError, match="schema version 99; this version of invariance reads version 1"):
        open_test_study(coll, url, DESIGN)
