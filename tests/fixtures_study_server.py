"""Helpers for the study server tests: a real collection served from a real database, and simulated raters."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import select

from core.study.pack import encode_gray_png
from core.study.server.assign import StudyConfig, StudyDesign, open_study
from core.study.server.db import StudyStore, study_trials
from core.study.sets import load_items
from tests.fixtures_study import make_collection

ROOT = Path(__file__).resolve().parents[1]


def open_test_study(collection: Path, url: str, design: StudyDesign, **options: Any) -> tuple[StudyStore, StudyConfig]:
    """The study of ``collection``'s items in the database at ``url`` (created if empty)."""
    items = load_items(collection)
    store = StudyStore(url)
    try:
        config, _ = open_study(
            store,
            items,
            [encode_gray_png(item.image) for item in items],
            design=design,
            consent=options.get("consent"),
            completion_url=options.get("completion_url"),
        )
    except BaseException:
        store.close()
        raise
    return store, config


def small_collection(path: Path, n: int = 8, *, start: int = 100) -> list[str]:
    return make_collection(path, list(range(start, start + n)), set_name="served")


def expected_of(store: StudyStore, token: str) -> tuple[str, int | None]:
    """(kind, expected key) of a trial: the test's oracle, read from the database (never sent to raters)."""
    row = store.read_sync(
        lambda c: c.execute(
            select(study_trials.c.kind, study_trials.c.expected).where(study_trials.c.token == token)
        ).one()
    )
    return str(row[0]), None if row[1] is None else int(row[1])


Chooser = Callable[[str, int | None, str], int]
"""(trial kind, expected key, trial token) -> the key the simulated rater presses."""


def honest(kind: str, expected: int | None, token: str = "") -> int:
    """Right on every control and check; answers 7 on every item."""
    return 7 if expected is None else expected


@dataclass
class Acked:
    """Answers a simulated rater got a 2xx for: trial token -> label."""

    answers: dict[str, int] = field(default_factory=dict)


def run_rater(
    client: httpx.Client,
    store: StudyStore,
    identity: dict[str, str],
    choose: Chooser = honest,
    *,
    acked: Acked | None = None,
    limit: int | None = None,
) -> dict[str, Any]:
    """Drive one rater through the real API until done (or ``limit`` answers); returns the last reply."""
    reply = client.post("/api/session", json={"begin": True, **identity})
    reply.raise_for_status()
    data = reply.json()
    count = 0
    while data["stage"] == "trial" and (limit is None or count < limit):
        trial = data["trial"]
        if "image" in trial:
            image = client.get(trial["image"])
            assert image.status_code == 200 and image.content.startswith(b"\x89PNG")
        kind, expected = expected_of(store, trial["id"])
        label = choose(kind, expected, trial["id"])
        reply = client.post("/api/answer", json={"trial": trial["id"], "answer": label, "response_ms": 300})
        reply.raise_for_status()
        if acked is not None:
            acked.answers[trial["id"]] = label
        data = reply.json()
        count += 1
    return data


@contextmanager
def serve_in_thread(
    collection: Path, url: str, design: StudyDesign, **options: Any
) -> Iterator[tuple[str, StudyStore, StudyConfig]]:
    """The real app under uvicorn on a free loopback port, in a thread of this process; yields (base URL, store,
    config)."""
    import threading

    import uvicorn

    from core.study.server.app import create_app

    store, config = open_test_study(collection, url, design, **options)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    server = uvicorn.Server(uvicorn.Config(create_app(store, config), log_level="warning", access_log=False))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.02)
        yield f"http://127.0.0.1:{sock.getsockname()[1]}/", store, config
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()
        store.close()


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")


def chromium_driver(profile: Path, width: int = 900, height: int = 900) -> Any:
    """Headless system Chromium under selenium, with a fresh profile folder."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
                 f"--user-data-dir={profile}", f"--window-size={width},{height}"):  # fmt: skip
        options.add_argument(flag)
    return webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)


# --- a server in a subprocess --------------------------------------------------------------------------------
def cli_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return env


@dataclass
class ServerProcess:
    process: subprocess.Popen[str]
    base_url: str
    admin_url: str


def start_server(arguments: list[str], *, timeout: float = 60.0) -> ServerProcess:
    """``invariance study serve ARGUMENTS --port 0`` in a child process; waits for its URL lines."""
    process = subprocess.Popen(
        [sys.executable, "-m", "core.cli", "study", "serve", *arguments, "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=cli_env(),
        cwd=ROOT,
    )
    assert process.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + timeout
    base = admin = None
    while time.monotonic() < deadline and (base is None or admin is None):
        line = process.stdout.readline()
        if not line:
            break
        lines.append(line)
        if match := re.match(r"rater URL: (\S+)", line):
            base = match.group(1)
        if match := re.match(r"admin URL: (\S+)", line):
            admin = match.group(1)
    if base is None or admin is None:
        process.kill()
        raise AssertionError("the server did not start:\n" + "".join(lines) + (process.stdout.read() or ""))
    return ServerProcess(process, base.rstrip("/"), admin)


def kill_hard(server: ServerProcess) -> None:
    server.process.send_signal(signal.SIGKILL)
    server.process.wait(timeout=30)


# --- PostgreSQL in a temporary folder ------------------------------------------------------------------------
def postgres_bin() -> Path | None:
    """The folder holding initdb/pg_ctl/postgres, or ``None`` when the server binaries are not installed (or, as
    root, there is no ``postgres`` user to run them as, nor ``runuser``)."""
    if os.geteuid() == 0:
        import pwd

        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return None
        if shutil.which("runuser") is None:
            return None
    found = shutil.which("initdb")
    if found and (Path(found).resolve().parent / "pg_ctl").exists():
        return Path(found).resolve().parent
    for folder in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (folder / "initdb").exists() and (folder / "pg_ctl").exists() and (folder / "postgres").exists():
            return folder
    return None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def temporary_postgres() -> Iterator[str]:
    """A PostgreSQL server of its own on a free loopback port; yields its ``postgresql+psycopg://`` URL.

    PostgreSQL refuses to run as root: as root, the server runs as the ``postgres`` user (``runuser``), in a
    temporary folder that user owns.
    """
    binaries = postgres_bin()
    if binaries is None:
        raise RuntimeError("postgresql server binaries not installed")
    folder = Path(tempfile.mkdtemp(prefix="invariance-pg-"))
    prefix: list[str] = []
    user = os.environ.get("USER") or "postgres"
    if os.geteuid() == 0:
        import pwd

        account = pwd.getpwnam("postgres")
        os.chown(folder, account.pw_uid, account.pw_gid)
        prefix = ["runuser", "-u", "postgres", "--"]
        user = "postgres"
    data = folder / "data"
    port = _free_port()
    run = lambda *command: subprocess.run([*prefix, *command], check=True, capture_output=True, text=True)  # noqa: E731
    try:
        run(str(binaries / "initdb"), "-D", str(data), "-A", "trust", "-U", user, "--no-sync")
        options = f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=on -c synchronous_commit=on"
        run(str(binaries / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(folder / "log"), "-w", "start")
        yield f"postgresql+psycopg://{user}@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(
            [*prefix, str(binaries / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
            capture_output=True,
            check=False,
        )
        shutil.rmtree(folder, ignore_errors=True)


@contextmanager
def postgres_or_skip() -> Iterator[str]:
    """A temporary PostgreSQL server's URL, or a skip that says what is missing."""
    import pytest

    if postgres_bin() is None:
        pytest.skip("PostgreSQL server binaries (initdb, pg_ctl) are not installed: apt-get install postgresql")
    pytest.importorskip("psycopg", reason="the PostgreSQL driver is not installed: pip install 'psycopg[binary]'")
    with temporary_postgres() as url:
        yield url
