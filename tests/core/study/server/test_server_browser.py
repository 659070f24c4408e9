"""Two raters at once in headless Chromium (selenium, the system chromium and chromedriver) against the server on a
real socket: consent -> instructions -> trials -> done, one of them reloading the page half-way."""

from __future__ import annotations

import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from core.cli import main
from core.collection import Collection
from core.study.server.assign import StudyDesign
from core.study.server.db import study_raters, study_trials
from tests.fixtures_study_server import (
    CHROMEDRIVER,
    CHROMIUM,
    chromium_driver,
    expected_of,
    serve_in_thread,
    small_collection,
)

pytestmark = pytest.mark.skipif(
    CHROMIUM is None or CHROMEDRIVER is None,
    reason="needs the system chromium and chromedriver (apt-get install chromium chromium-driver)",
)
DESIGN = StudyDesign(ratings_per_item=2, items_per_rater=3, controls_per_rater=3, attention_checks=1)
TOTAL = 3 + 3 + 1


@pytest.fixture
def drivers() -> Iterator[list[object]]:
    folders = [Path(tempfile.mkdtemp(prefix="invariance-chromium-")) for _ in range(2)]
    started: list[object] = []
    try:
        for folder in folders:
            started.append(chromium_driver(folder))
        yield started
    finally:
        for driver in started:
            driver.quit()  # type: ignore[attr-defined]
        for folder in folders:
            shutil.rmtree(folder, ignore_errors=True)


def _visible(driver: object, element_id: str) -> bool:
    from selenium.webdriver.common.by import By

    return bool(driver.find_element(By.ID, element_id).is_displayed())  # type: ignore[attr-defined]


def _wait(driver: object, condition: object, timeout: float = 20.0) -> None:
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(driver, timeout, poll_frequency=0.05).until(condition)  # type: ignore[arg-type]


def _progress(driver: object) -> str:
    from selenium.webdriver.common.by import By

    return str(driver.find_element(By.ID, "progress").text)  # type: ignore[attr-defined]


def _ready(driver: object) -> bool:
    """A trial is on screen (its image loaded, or an attention prompt), or the done screen."""
    if _visible(driver, "doneScreen"):
        return True
    if not _visible(driver, "trialScreen"):
        return False
    if _visible(driver, "prompt"):
        return True
    return bool(
        driver.execute_script(  # type: ignore[attr-defined]
            "const i = document.getElementById('digit'); return i.complete && i.naturalWidth === 28;"
        )
    )


def _answer_one(driver: object, store: object) -> None:
    from selenium.webdriver.common.by import By

    before = _progress(driver)
    if _visible(driver, "prompt"):
        prompt = driver.find_element(By.ID, "prompt").text  # type: ignore[attr-defined]
        key = re.search(r"press the key (\d)", prompt).group(1)  # type: ignore[union-attr]
    else:
        source = driver.find_element(By.ID, "digit").get_attribute("src")  # type: ignore[attr-defined]
        token = re.search(r"/image/([A-Za-z0-9_-]+)\.png", source).group(1)  # type: ignore[union-attr]
        _, expected = expected_of(store, token)  # type: ignore[arg-type]
        key = "n" if expected is None else str(expected)  # items: "not a digit"; controls: right
    driver.find_element(By.TAG_NAME, "body").send_keys(key)  # type: ignore[attr-defined]
    _wait(driver, lambda d: _visible(d, "doneScreen") or (_progress(d) != before and _ready(d)))


def test_two_raters_in_chromium_with_a_reload(tmp_path: Path, drivers: list[object]) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    coll = tmp_path / "coll"
    small_collection(coll, 4)
    with serve_in_thread(coll, f"sqlite:///{tmp_path / 'study.sqlite'}", DESIGN) as (base, store, config):
        links = [f"{base}?rater=alice", f"{base}?PROLIFIC_PID=5f1a2b3c&STUDY_ID=s77&SESSION_ID=x9"]
        for driver, link in zip(drivers, links, strict=True):
            driver.get(link)  # type: ignore[attr-defined]
            _wait(driver, lambda d: _visible(d, "startButton"))
            driver.find_element(By.ID, "startButton").click()  # type: ignore[attr-defined]  # consent
            _wait(driver, lambda d: _visible(d, "instructions"))
        for driver in drivers:
            driver.find_element(By.TAG_NAME, "body").send_keys(Keys.ENTER)  # type: ignore[attr-defined]
            _wait(driver, _ready)
        for step in range(TOTAL):
            for driver in drivers:
                _answer_one(driver, store)
            if step == 2:  # alice reloads: she continues at her fourth trial
                drivers[0].refresh()  # type: ignore[attr-defined]
                _wait(drivers[0], _ready)
                assert _progress(drivers[0]) == f"4 of {TOTAL}"
        for driver in drivers:
            assert _visible(driver, "doneScreen")
            assert driver.find_element(By.ID, "completionCode").text == config.completion_code  # type: ignore[attr-defined]
        rows = store.read_sync(
            lambda c: c.execute(
                select(
                    study_raters.c.name,
                    study_raters.c.status,
                    func.count(study_trials.c.answer),
                    func.min(study_trials.c.response_ms),
                )
                .join(study_trials, study_trials.c.rater_id == study_raters.c.id)
                .group_by(study_raters.c.name, study_raters.c.status)
                .order_by(study_raters.c.name)
            ).all()
        )
    assert [tuple(row[:3]) for row in rows] == [("5f1a2b3c", "finished", TOTAL), ("alice", "finished", TOTAL)]
    assert all(row[3] is not None and row[3] >= 0 for row in rows)
    # what the browser raters answered reaches the collection through 'study ingest --db': every item they saw
    # carries their "not a digit" (-1), under their Prolific id or lab name
    assert main(["study", "ingest", "--db", f"sqlite:///{tmp_path / 'study.sqlite'}", "--collection", str(coll)]) == 0
    with Collection.open(coll, read_only=True) as collection:
        labels = [dict(item.human_labels) for item in collection.items]
    assert sum(len(item) for item in labels) == 2 * DESIGN.items_per_rater
    assert {rater for item in labels for rater in item} == {"alice", "5f1a2b3c"}
    assert {label for item in labels for label in item.values()} == {-1}
