"""``invariance bench study-server``: R simulated raters against a real ``study serve`` process over loopback.

The benchmark makes a collection of the first MNIST test digits (enough for every rater's items), starts
``invariance study serve`` on it in a child process (127.0.0.1, a free port, the database given or a temporary
SQLite file), and runs R raters for S seconds on uvloop, each on one keep-alive connection with its own cookie
(:mod:`core.study.server.load_client`: a lean client, so that the driver leaves the CPU to the server). Each rater
fetches every image, answers about once a second (±20%), and, blind as a real rater, recognises a digit by its
picture: it knows the PNGs of the MNIST test digits, so it answers controls (and the unmodified items) with their
label and attention checks with the key they ask for. A rater who finishes or is excluded is replaced by a new one.
Raters arrive spread evenly over the first ``min(10 s, S/3)`` (a study's raters do not all click the link in the
same second), and every request from then on is counted.

It reports answers per second, the latency percentiles of the answer requests (the durable write: the 2xx comes
after the commit) and of every request, the errors (non-2xx, broken connections), and *lost*: answers that got a
2xx but are not in the database once the server has stopped. Only loopback is used, and the run is bounded by
``--duration`` and ``--raters``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import numpy as np

from core.errors import StudyError, UsageError
from core.study.server.load_client import HttpReply, KeepAliveClient, LoadClientError

ANSWER_INTERVAL_S: Final = 1.0
RAMP_S: Final = 10.0
MAX_RATERS: Final = 2000
MAX_DURATION_S: Final = 600.0
_PROMPT_KEY: Final = re.compile(r"press the key (\d)")


def register_bench(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``study-server`` to ``invariance bench``."""
    parser = subparsers.add_parser("study-server", help="study server under load: answers/s, latency, errors, lost")
    parser.add_argument("--raters", type=int, default=200, help="simulated raters at once (default 200)")
    parser.add_argument("--duration", type=float, default=30.0, help="seconds of load (default 30)")
    parser.add_argument("--db", metavar="URL", help="an empty database (default: a temporary SQLite file)")
    parser.add_argument("--json", metavar="FILE", help="also write the figures as JSON to FILE")
    parser.add_argument("--seed", type=int, default=0, help="seed of the raters' timing jitter (default 0)")
    parser.set_defaults(handler=run_bench)


@dataclass
class Tally:
    """What the raters saw: latencies (s) of answer requests and of every request, errors, acknowledged answers."""

    answer_latency: list[float] = field(default_factory=list)
    request_latency: list[float] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)
    acked: dict[str, int] = field(default_factory=dict)
    raters_started: int = 0

    def error(self, what: str) -> None:
        self.errors[what] = self.errors.get(what, 0) + 1


def _digit_book() -> dict[bytes, int]:
    """PNG bytes -> label for every MNIST test digit (how a simulated rater recognises what it is shown)."""
    from core.collection.png import encode_png
    from core.data import load_mnist

    images, labels = load_mnist("test")
    return {encode_png(image): int(label) for image, label in zip(images, labels, strict=True)}


def make_bench_collection(path: Path, n_items: int) -> None:
    """A collection of the first ``n_items`` MNIST test digits, unmodified (set ``bench``)."""
    from core.collection import Collection
    from core.data import load_mnist

    images, _ = load_mnist("test")
    with Collection.create(path, name="bench") as collection, collection.batch():
        for index in range(n_items):
            collection.add(images[index], source_split="test", source_index=index, method="manual", set_name="bench")


async def _rater(
    address: tuple[str, int],
    number: int,
    tally: Tally,
    book: dict[bytes, int],
    stop_at: float,
    rng: random.Random,
    arrive_after: float,
) -> None:
    """One simulated rater after another in seat ``number``, on one keep-alive connection, each with its cookie."""
    from core.study.server.app import COOKIE

    client = KeepAliveClient(*address)
    cookie: str | None = None

    async def timed(method: str, path: str, body: dict[str, Any] | None = None) -> HttpReply:
        started = time.perf_counter()
        reply = await client.request(method, path, body, cookie=cookie)
        tally.request_latency.append(time.perf_counter() - started)
        if reply.status >= 300:
            tally.error(f"HTTP {reply.status}")
        return reply

    await asyncio.sleep(arrive_after)
    generation = 0
    try:
        while time.monotonic() < stop_at:
            generation += 1
            tally.raters_started += 1
            cookie = None
            try:
                reply = await timed("POST", "/api/session", {"begin": True, "rater": f"bench-{number}-{generation}"})
                if COOKIE in reply.cookies:
                    cookie = f"{COOKIE}={reply.cookies[COOKIE]}"
                data = reply.json()
                next_at = time.monotonic()
                while data.get("stage") == "trial" and time.monotonic() < stop_at:
                    trial = data["trial"]
                    if "image" in trial:
                        image = await timed("GET", trial["image"])
                        label = book.get(image.body, rng.randrange(10))
                    else:
                        match = _PROMPT_KEY.search(trial.get("prompt", ""))
                        label = int(match.group(1)) if match else 0
                    next_at += ANSWER_INTERVAL_S * rng.uniform(0.8, 1.2)
                    await asyncio.sleep(max(0.0, next_at - time.monotonic()))
                    started = time.perf_counter()
                    body = {"trial": trial["id"], "answer": label, "response_ms": 900}
                    reply = await timed("POST", "/api/answer", body)
                    if reply.status >= 300:
                        break
                    tally.answer_latency.append(time.perf_counter() - started)
                    tally.acked[trial["id"]] = label
                    data = reply.json()
                if data.get("stage") == "full":
                    return
            except LoadClientError as error:
                tally.error(str(error))
                await asyncio.sleep(0.5)
    finally:
        client.close()


def _percentiles(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"p50_ms": None, "p95_ms": None, "p99_ms": None, "max_ms": None}
    array = np.asarray(values) * 1000.0
    p50, p95, p99 = np.percentile(array, [50, 95, 99])
    return {"p50_ms": round(float(p50), 2), "p95_ms": round(float(p95), 2), "p99_ms": round(float(p99), 2),
            "max_ms": round(float(array.max()), 2)}  # fmt: skip


def _stored_answers(url: str) -> dict[str, int]:
    from sqlalchemy import select

    from core.study.server.db import StudyStore, study_trials

    with StudyStore(url) as store:
        rows = store.read_sync(
            lambda c: c.execute(
                select(study_trials.c.token, study_trials.c.answer).where(study_trials.c.answer.is_not(None))
            ).all()
        )
    return {str(token): int(answer) for token, answer in rows}


def bench_study_server(raters: int, duration: float, db: str | None = None, seed: int = 0) -> dict[str, Any]:
    """Run the benchmark (see the module docstring); returns its figures."""
    if not 1 <= raters <= MAX_RATERS:
        raise UsageError(f"--raters {raters} must be in 1..{MAX_RATERS}")
    if not 0 < duration <= MAX_DURATION_S:
        raise UsageError(f"--duration {duration} must be in (0, {MAX_DURATION_S:g}] seconds")
    from core.study.server.db import database_url, shown_url

    folder = Path(tempfile.mkdtemp(prefix="invariance-bench-study-"))
    try:
        url = database_url(db) if db else f"sqlite:///{folder / 'study.sqlite'}"
        answers_per_rater = int(duration / ANSWER_INTERVAL_S) + 2
        items_per_rater, k = 50, 5
        n_items = min(8000, max(200, raters * items_per_rater // k + 100))
        coll = folder / "bench.coll"
        make_bench_collection(coll, n_items)
        book = _digit_book()
        command = [sys.executable, "-m", "core.cli", "study", "serve", str(coll), "--db", url, "--port", "0"]
        server = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            base = _wait_for_url(server)
            load_before = os.getloadavg()
            tally = Tally()
            rng = random.Random(seed)
            started = time.monotonic()

            async def drive() -> None:
                stop_at = time.monotonic() + duration
                generators = [random.Random(rng.random()) for _ in range(raters)]
                ramp = min(RAMP_S, duration / 3)
                address = _address(base)
                await asyncio.gather(
                    *(_rater(address, k, tally, book, stop_at, generators[k], ramp * k / raters) for k in range(raters))
                )

            _run_fast(drive())
            elapsed = time.monotonic() - started
            load_after = os.getloadavg()
        finally:
            server.terminate()
            try:
                server.wait(timeout=60)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
        stored = _stored_answers(url)
        lost = sum(1 for token, label in tally.acked.items() if stored.get(token) != label)
        return {
            "benchmark": "study-server",
            "raters": raters,
            "duration_s": duration,
            "elapsed_s": round(elapsed, 2),
            "database": shown_url(url).split("://")[0] + "://…" if db else "sqlite (temporary file)",
            "items": n_items,
            "raters_started": tally.raters_started,
            "answers": len(tally.acked),
            "answers_per_s": round(len(tally.acked) / elapsed, 2),
            "answer_latency": _percentiles(tally.answer_latency),
            "request_latency": _percentiles(tally.request_latency),
            "requests": len(tally.request_latency),
            "errors": sum(tally.errors.values()),
            "error_kinds": tally.errors,
            "lost": lost,
            "answers_expected_per_rater": answers_per_rater,
            "machine": {
                "cpus": os.cpu_count(),
                "loadavg_before": [round(x, 2) for x in load_before],
                "loadavg_after": [round(x, 2) for x in load_after],
                "python": platform.python_version(),
                "platform": platform.platform(),
            },
        }
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _address(base: str) -> tuple[str, int]:
    """(host, port) of the server's ``http://host:port/`` URL."""
    from urllib.parse import urlsplit

    parts = urlsplit(base)
    if parts.hostname is None or parts.port is None:
        raise StudyError(f"the study server printed an URL without host and port: {base}")
    return parts.hostname, parts.port


def _run_fast(main: Coroutine[Any, Any, None]) -> None:
    """Run ``main`` on uvloop where it is installed (a lean driver leaves the CPU to the server), else asyncio."""
    try:
        import uvloop
    except ImportError:  # Windows: uvloop does not exist there
        asyncio.run(main)
    else:
        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            runner.run(main)


def _wait_for_url(server: subprocess.Popen[str], timeout: float = 300.0) -> str:
    assert server.stdout is not None
    deadline = time.monotonic() + timeout
    lines = []
    while time.monotonic() < deadline:
        line = server.stdout.readline()
        if not line:
            break
        lines.append(line.strip())
        if line.startswith("rater URL: "):
            return line.split(": ", 1)[1].strip()
    raise StudyError("the study server did not start: " + " | ".join(lines[-5:]))


def run_bench(args: argparse.Namespace) -> int:
    figures = bench_study_server(args.raters, args.duration, args.db, args.seed)
    answer, every = figures["answer_latency"], figures["request_latency"]
    print(
        f"study-server: {figures['raters']} raters, {figures['elapsed_s']} s: {figures['answers']} answers "
        f"({figures['answers_per_s']}/s); answer latency p50 {answer['p50_ms']} ms, p95 {answer['p95_ms']} ms, "
        f"p99 {answer['p99_ms']} ms; all requests p95 {every['p95_ms']} ms; errors {figures['errors']}; "
        f"lost {figures['lost']}; load {figures['machine']['loadavg_before'][0]} -> "
        f"{figures['machine']['loadavg_after'][0]} on {figures['machine']['cpus']} CPUs"
    )
    if args.json:
        from core.study.answers import write_text_atomic

        write_text_atomic(Path(args.json), json.dumps(figures, indent=1) + "\n")
        print(f"wrote {args.json}")
    return 1 if figures["errors"] or figures["lost"] else 0
