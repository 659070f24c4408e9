"""The study-server load figures of the docs: ``invariance bench study-server`` on SQLite and PostgreSQL.

Run from the repository root: ``python docs/evidence/bench/study-server/run.py``. Writes one JSON per run beside
this file: R=200 for 30 s three times on each database, then R = 100, 300 and 500 once each, to find where p95
passes 50 ms. PostgreSQL runs on a server of its own in a temporary folder
(tests/fixtures_study_server.py), skipped when its binaries are missing.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[4]
sys.path.insert(0, str(ROOT))
HERE = Path(__file__).resolve().parent


def bench(name: str, raters: int, db: str | None) -> None:
    command = [sys.executable, "-m", "core.cli", "bench", "study-server", "--raters", str(raters), "--duration", "30",
               "--json", str(HERE / f"{name}.json")]  # fmt: skip
    if db:
        command += ["--db", db]
    print(" ".join(command[1:]), flush=True)
    subprocess.run(command, cwd=ROOT, check=False)


def runs(kind: str, db_of: object, sweep: tuple[int, ...] = (100, 300, 500)) -> None:
    for k in (1, 2, 3):
        bench(f"{kind}-r200-run{k}", 200, db_of())  # type: ignore[operator]
    for raters in sweep:
        bench(f"{kind}-r{raters}", raters, db_of())  # type: ignore[operator]


def main() -> None:
    runs("sqlite", lambda: None)
    from tests.fixtures_study_server import postgres_bin, temporary_postgres

    if postgres_bin() is None:
        print("PostgreSQL binaries not installed: skipped")
        return
    from sqlalchemy import create_engine, text

    with temporary_postgres() as url:

        def fresh() -> str:
            engine = create_engine(url)
            with engine.begin() as connection:
                connection.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
            engine.dispose()
            return url

        runs("postgresql", fresh)


if __name__ == "__main__":
    main()
