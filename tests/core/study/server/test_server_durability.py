"""No acknowledged answer is lost: ``invariance study serve`` in a child process on a real socket, simulated raters
answering in threads, ``kill -9`` at random moments, a restart on the same database; every answer that got a 2xx
must be in the database afterwards, unchanged. SQLite always; PostgreSQL when its server binaries are installed."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from core.study.server.db import StudyStore, study_raters, study_trials
from tests.fixtures_study_server import (
    kill_hard,
    postgres_or_skip,
    small_collection,
    start_server,
)

RATERS = 6


def _answer_until_stopped(
    base: str, store: StudyStore, name: str, acked: dict[str, int], reasked: list[str], stop: threading.Event
) -> None:
    """One rater: answers as fast as the server allows until the server dies or ``stop`` is set.

    A trial whose answer was acknowledged must never be asked again (``reasked``): had the server lost the answer,
    it would ask for it again after the restart, and answering it again would hide the loss."""
    expected: dict[str, int | None] = {}
    try:
        with httpx.Client(base_url=base, timeout=10) as client:
            data = client.post("/api/session", json={"begin": True, "rater": name}).json()
            while data.get("stage") == "trial" and not stop.is_set():
                token = data["trial"]["id"]
                if token in acked:
                    reasked.append(token)
                    return
                if token not in expected:
                    expected[token] = _expected(store, token)
                label = expected[token] if expected[token] is not None else random.randrange(10)
                reply = client.post("/api/answer", json={"trial": token, "answer": label, "response_ms": 100})
                if 200 <= reply.status_code < 300:
                    acked[token] = label
                    data = reply.json()
                    time.sleep(0.01)  # paced, so that the kill finds raters mid-study
                else:
                    raise AssertionError(f"{name}: {reply.status_code} {reply.text}")
    except httpx.TransportError:
        return  # the server was killed under us: whatever got no 2xx may or may not be saved


def _expected(store: StudyStore, token: str) -> int | None:
    """The expected key of a trial (the oracle), once its row is visible to a reader."""
    for _ in range(200):
        row = store.read_sync(
            lambda c: c.execute(select(study_trials.c.expected).where(study_trials.c.token == token)).first()
        )
        if row is not None:
            return None if row[0] is None else int(row[0])
        time.sleep(0.01)
    raise AssertionError(f"trial {token} was handed out but never stored")


def _kill_and_restart(tmp_path: Path, url: str, kills: int) -> None:
    coll = tmp_path / "coll"
    small_collection(coll, 12)
    design = [
        "--ratings-per-item",
        "3",
        "--items-per-rater",
        "6",
        "--controls-per-rater",
        "6",
        "--attention-checks",
        "0",
    ]
    acked: dict[str, int] = {}
    reasked: list[str] = []
    rng = random.Random(1234)
    with StudyStore(url) as oracle:
        for round_ in range(kills + 1):
            server = start_server([str(coll), "--db", url, *design])
            stop = threading.Event()
            threads = [
                threading.Thread(
                    target=_answer_until_stopped,
                    args=(server.base_url, oracle, f"r{k}", acked, reasked, stop),
                )
                for k in range(RATERS)
            ]
            for thread in threads:
                thread.start()
            if round_ < kills:
                before = len(acked)
                deadline = time.monotonic() + 30
                while (
                    len(acked) < before + 10 and time.monotonic() < deadline and any(t.is_alive() for t in threads)
                ):  # traffic is flowing
                    time.sleep(0.01)
                time.sleep(rng.uniform(0.0, 0.3))
                kill_hard(server)  # mid-request for some raters
            else:
                for thread in threads:
                    thread.join(timeout=60)
                server.process.terminate()
                server.process.wait(timeout=30)
            stop.set()
            for thread in threads:
                thread.join(timeout=60)
        stored = dict(
            oracle.read_sync(
                lambda c: c.execute(
                    select(study_trials.c.token, study_trials.c.answer).where(study_trials.c.answer.is_not(None))
                ).all()
            )
        )
        finished = oracle.read_sync(
            lambda c: c.execute(select(func.count()).where(study_raters.c.status == "finished")).scalar_one()
        )
    assert acked, "no answer was acknowledged"
    assert not reasked, f"{len(reasked)} acknowledged answers were asked for again after a restart (lost)"
    missing = {token: label for token, label in acked.items() if stored.get(token) != label}
    assert not missing, f"{len(missing)} acknowledged answers lost or changed"
    assert finished == RATERS  # after the restarts every rater could finish


@pytest.mark.parametrize("kills", [1, pytest.param(5, marks=pytest.mark.slow)])
def test_sqlite_survives_kill_9(tmp_path: Path, kills: int) -> None:
    _kill_and_restart(tmp_path, f"sqlite:///{tmp_path / 'study.sqlite'}", kills=kills)


@pytest.fixture
def postgres_url() -> Iterator[str]:
    with postgres_or_skip() as url:
        yield url


@pytest.mark.parametrize("kills", [1, pytest.param(5, marks=pytest.mark.slow)])
def test_postgresql_survives_kill_9(tmp_path: Path, postgres_url: str, kills: int) -> None:
    _kill_and_restart(tmp_path, postgres_url, kills=kills)
