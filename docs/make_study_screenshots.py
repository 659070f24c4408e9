"""Screenshots of the study server for the docs: a trial, the done page and the dashboard (headless Chromium).

Run from the repository root: ``python docs/make_study_screenshots.py`` (needs chromium and chromedriver). It serves
a small real collection from a temporary SQLite database, lets three simulated raters answer through the API, and
walks one rater through the pages in the browser.
"""

from __future__ import annotations

import re
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait
from sqlalchemy import select

from core.data import load_mnist
from core.study.server.assign import StudyDesign
from core.study.server.db import study_items, study_trials
from tests.fixtures_study_server import (
    chromium_driver,
    expected_of,
    honest,
    run_rater,
    serve_in_thread,
    small_collection,
)

DOCS = Path(__file__).resolve().parent
SHOWN = (
    "const digit = document.getElementById('digit');"
    "return document.getElementById('prompt').offsetParent !== null || (digit.complete && digit.naturalWidth === 28);"
)


def main() -> None:
    import httpx

    folder = Path(tempfile.mkdtemp(prefix="study-shots-"))
    try:
        coll = folder / "coll"
        small_collection(coll, 8, start=300)
        design = StudyDesign(ratings_per_item=3, items_per_rater=6, controls_per_rater=6, attention_checks=2)
        with serve_in_thread(coll, f"sqlite:///{folder / 'study.sqlite'}", design) as (base, store, config):
            labels = load_mnist("test")[1]

            def original_label(token: str) -> int:
                index = store.read_sync(lambda c: c.execute(
                    select(study_items.c.source_index).join(study_trials, study_trials.c.item_pk == study_items.c.id)
                    .where(study_trials.c.token == token)).scalar_one())  # fmt: skip
                return int(labels[index])

            for name, wrong in (("ada", 0), ("bob", 0), ("cy", 1)):

                def choose(kind: str, expected: int | None, token: str, wrong: int = wrong) -> int:
                    return honest(kind, expected) if expected is not None else (original_label(token) + wrong) % 10

                with httpx.Client(base_url=base) as client:
                    run_rater(client, store, {"rater": name}, choose)
            driver = chromium_driver(folder / "profile", 900, 760)
            try:
                wait = WebDriverWait(driver, 20, poll_frequency=0.05)
                driver.get(f"{base}?PROLIFIC_PID=5f1a2b3c4d&STUDY_ID=demo&SESSION_ID=s1")
                wait.until(lambda d: d.find_element(By.ID, "startButton").is_displayed())
                driver.find_element(By.ID, "startButton").click()
                driver.find_element(By.ID, "startButton").click()
                shot_pending = True
                for _ in range(40):
                    wait.until(lambda d: d.find_element(By.ID, "doneScreen").is_displayed() or d.execute_script(SHOWN))
                    if driver.find_element(By.ID, "doneScreen").is_displayed():
                        break
                    prompt = driver.find_element(By.ID, "prompt")
                    if prompt.is_displayed():
                        key = re.search(r"press the key (\d)", prompt.text).group(1)  # type: ignore[union-attr]
                    else:
                        source = driver.find_element(By.ID, "digit").get_attribute("src")
                        token = re.search(r"/image/([A-Za-z0-9_-]+)\.png", source).group(1)  # type: ignore[union-attr]
                        _, expected = expected_of(store, token)
                        key = str(expected) if expected is not None else str(original_label(token))
                        if shot_pending and int(driver.find_element(By.ID, "progress").text.split()[0]) >= 6:
                            driver.save_screenshot(str(DOCS / "study-trial.png"))
                            shot_pending = False
                    before = driver.find_element(By.ID, "progress").text
                    driver.find_element(By.TAG_NAME, "body").send_keys(key)
                    wait.until(lambda d, before=before: d.find_element(By.ID, "doneScreen").is_displayed()
                               or d.find_element(By.ID, "progress").text != before)  # fmt: skip
                time.sleep(0.3)
                driver.save_screenshot(str(DOCS / "study-done.png"))
                driver.set_window_size(900, 900)
                driver.get(f"{base}admin?token={config.admin_token}")
                wait.until(lambda d: "updated" in d.find_element(By.ID, "updated").text)
                driver.save_screenshot(str(DOCS / "study-dashboard.png"))
            finally:
                driver.quit()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    print("wrote", *(DOCS / f"study-{name}.png" for name in ("trial", "done", "dashboard")))


if __name__ == "__main__":
    main()
