"""Many raters arriving at once: no item beyond K + 1 live ratings, no rater given an item twice — through one app,
and through two stores (two writer connections) on one database, where only the database's lock keeps order."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from core.study.server.app import create_app
from core.study.server.assign import StudyDesign, release_abandoned
from core.study.server.db import StudyStore, study_items, study_raters, study_trials
from tests.fixtures_study_server import open_test_study, postgres_or_skip, small_collection

K = 2
DESIGN = StudyDesign(ratings_per_item=K, items_per_rater=4, controls_per_rater=2, attention_checks=1)


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    with postgres_or_skip() as url:
        yield url


def _database(kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    if kind == "sqlite":
        return f"sqlite:///{tmp_path / 'study.sqlite'}"
    url: str = request.getfixturevalue("postgres_url")
    with StudyStore(url) as store:  # a fresh schema per test
        store.write_sync(lambda c: c.exec_driver_sql("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    return url


def _live_per_item(store: StudyStore) -> dict[int, int]:
    query = (
        select(study_trials.c.item_pk, func.count())
        .join(study_raters, study_raters.c.id == study_trials.c.rater_id)
        .where(
            study_trials.c.item_pk.is_not(None), study_trials.c.released.is_(False), study_raters.c.status != "excluded"
        )
        .group_by(study_trials.c.item_pk)
    )
    counted = {int(pk): int(n) for pk, n in store.read_sync(lambda c: c.execute(query).all())}
    kept = store.read_sync(lambda c: c.execute(select(study_items.c.id, study_items.c.live)).all())
    assert {int(pk): int(n) for pk, n in kept if n} == counted  # the server's running count agrees with a recount
    return counted


def _no_rater_sees_an_item_twice(store: StudyStore) -> None:
    pairs = store.read_sync(
        lambda c: c.execute(
            select(study_trials.c.rater_id, study_trials.c.item_pk).where(study_trials.c.item_pk.is_not(None))
        ).all()
    )
    assert len(pairs) == len(set(pairs))


async def _arrive(app: object, names: list[str]) -> list[dict[str, object]]:
    async def one(name: str) -> dict[str, object]:
        transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
            reply = await client.post("/api/session", json={"begin": True, "rater": name})
            assert reply.status_code == 200, reply.text
            data: dict[str, object] = reply.json()
            return data

    return list(await asyncio.gather(*(one(name) for name in names)))


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_simultaneous_arrivals_never_over_assign(kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    coll = tmp_path / "coll"
    small_collection(coll, 10)  # 10 items x K=2 = 20 slots, 4 per rater
    url = _database(kind, tmp_path, request)
    store, config = open_test_study(coll, url, DESIGN)
    try:
        replies = asyncio.run(_arrive(create_app(store, config), [f"r{k}" for k in range(30)]))
        loads = _live_per_item(store)
        assert max(loads.values()) <= K and sum(loads.values()) == 20  # every slot filled, none twice
        assert sum(reply["stage"] == "trial" for reply in replies) >= 5
        assert all(reply["stage"] in ("trial", "full") for reply in replies)
        _no_rater_sees_an_item_twice(store)

        # everybody goes silent; they come back at once after new raters took the released items: K + 1 at most
        store.write_sync(lambda c: release_abandoned(c, config, time.time() + 3600 * 24))
        asyncio.run(_arrive(create_app(store, config), [f"late{k}" for k in range(10)]))
        returning = [f"r{k}" for k, reply in enumerate(replies) if reply["stage"] == "trial"]
        asyncio.run(_arrive(create_app(store, config), returning))
        loads = _live_per_item(store)
        assert max(loads.values()) <= K + 1
        _no_rater_sees_an_item_twice(store)
    finally:
        store.close()


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_two_writers_on_one_database(kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    """Two stores (as two server processes would be) assign at the same moments; the database lock alone decides."""
    coll = tmp_path / "coll"
    small_collection(coll, 10)
    url = _database(kind, tmp_path, request)
    first, config = open_test_study(coll, url, DESIGN)
    second = StudyStore(url)
    try:

        async def both() -> None:
            await asyncio.gather(
                _arrive(create_app(first, config), [f"a{k}" for k in range(15)]),
                _arrive(create_app(second, config), [f"b{k}" for k in range(15)]),
            )

        asyncio.run(both())
        loads = _live_per_item(first)
        assert max(loads.values()) <= K and sum(loads.values()) == 20
        _no_rater_sees_an_item_twice(first)
    finally:
        first.close()
        second.close()
