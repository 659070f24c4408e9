"""The study server's database: one versioned schema (SQLAlchemy 2 Core) on SQLite or PostgreSQL, and the store
that runs every write through one writer thread.

Tables (schema version :data:`SCHEMA_VERSION`, kept in ``study_meta``):

- ``study_meta``: key -> JSON value: the schema version, the study's design and texts, its opaque id, the
  completion code and the admin token;
- ``study_items``: the items of the collections served (collection folder, item id, set name, source digit, PNG)
  and ``live``, the count of their live ratings (see :mod:`core.study.server.assign`), kept in step by every write
  that assigns, releases or excludes;
- ``study_raters``: one row per rater: identity (Prolific PID, lab name or cookie pseudonym), the name written
  into the collections, the opaque cookie id, the seed of their assignment, status and times;
- ``study_trials``: one row per trial of a rater: opaque token, position, kind (``item``, ``control`` or
  ``check``), what it shows, the expected key (controls and attention checks), the answer and response time.
  ``(rater, item)`` is unique, so no rater can be given an item twice, whatever the code above does.

Writes (:meth:`StudyStore.write`) are queued to one thread holding one connection, as Datasette does. The thread
takes every job waiting, runs each in its own savepoint of one transaction (``BEGIN IMMEDIATE`` on SQLite) and
commits once; only then are the jobs' results handed back, so a caller (and a rater's browser) is told "saved"
only for what is on disk. A job that raises :class:`~core.errors.StudyError` has its savepoint rolled back and
nothing of it is written. SQLite runs in WAL mode with ``synchronous=FULL``. Reads use a separate pool.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import logging
import queue
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final, TypeVar

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Connection,
    Engine,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    create_engine,
    event,
    inspect,
    select,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, OperationalError, SQLAlchemyError

from core.errors import StudyError

log = logging.getLogger(__name__)

SCHEMA_VERSION: Final = 1
MIGRATIONS: Final[dict[int, Callable[[Connection], None]]] = {}
"""from-version -> function that upgrades a database by one version (none yet: version 1 is the first)."""
WRITE_BATCH: Final = 128
"""Most write jobs committed in one transaction."""

T = TypeVar("T")

metadata = MetaData()
study_meta = Table(
    "study_meta",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)
study_items = Table(
    "study_items",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("collection", Text, nullable=False),
    Column("item_id", Text, nullable=False),
    Column("set_name", Text, nullable=False),
    Column("source_split", String(8)),
    Column("source_index", Integer),
    Column("png", LargeBinary, nullable=False),
    Column("live", Integer, nullable=False, default=0),
    UniqueConstraint("collection", "item_id", name="uq_item"),
)
study_raters = Table(
    "study_raters",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("public_id", String(64), nullable=False, unique=True),
    Column("identity", Text, nullable=False, unique=True),
    Column("name", Text, nullable=False, unique=True),
    Column("prolific_pid", Text),
    Column("prolific_study_id", Text),
    Column("prolific_session_id", Text),
    Column("seed", BigInteger, nullable=False),
    Column("status", String(16), nullable=False),
    Column("excluded_reason", Text),
    Column("started_at", Float, nullable=False),
    Column("last_seen_at", Float, nullable=False),
    Column("finished_at", Float),
)
study_trials = Table(
    "study_trials",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("token", String(64), nullable=False, unique=True),
    Column("rater_id", Integer, ForeignKey("study_raters.id"), nullable=False),
    Column("position", Integer, nullable=False),
    Column("kind", String(8), nullable=False),
    Column("item_pk", Integer, ForeignKey("study_items.id")),
    Column("clean_index", Integer),
    Column("expected", Integer),
    Column("answer", Integer),
    Column("response_ms", Integer),
    Column("answered_at", Float),
    Column("released", Boolean, nullable=False, default=False),
    UniqueConstraint("rater_id", "position", name="uq_trial_position"),
    UniqueConstraint("rater_id", "item_pk", name="uq_rater_item"),
)
Index("ix_trials_item", study_trials.c.item_pk, study_trials.c.released)
Index("ix_trials_rater", study_trials.c.rater_id, study_trials.c.position)


def database_url(text: str) -> str:
    """A SQLAlchemy URL from ``--db``: a URL (``sqlite:///…``, ``postgresql+psycopg://…``) or a plain file path."""
    if "://" not in text:
        return f"sqlite:///{Path(text).expanduser().resolve()}"
    try:
        url = make_url(text)
    except ArgumentError:
        raise StudyError(f"--db {text!r} is not a database URL (sqlite:///FILE or postgresql+psycopg://…)") from None
    if url.get_backend_name() not in ("sqlite", "postgresql"):
        raise StudyError(f"--db {url.get_backend_name()}: the study server stores answers in sqlite or postgresql")
    if url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:"):
        raise StudyError("--db sqlite needs a file (sqlite:///path/study.sqlite): answers must survive the server")
    return text


def shown_url(url: str) -> str:
    """``url`` without its password, for messages."""
    return make_url(url).render_as_string(hide_password=True)


def make_engine(url: str, *, writer: bool) -> Engine:
    """An engine for ``url``; SQLite connections get WAL, ``synchronous=FULL``, foreign keys and real savepoints."""
    try:
        parsed = make_url(url)
        if parsed.get_backend_name() == "sqlite":
            if parsed.database:
                Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
            engine = create_engine(
                url,
                connect_args={"check_same_thread": False, "timeout": 30},
                pool_size=1 if writer else 8,
                max_overflow=0 if writer else 8,
            )
            _sqlite_pragmas(engine, writer=writer)
        else:
            engine = create_engine(
                url, pool_size=1 if writer else 8, max_overflow=0 if writer else 8, pool_pre_ping=True
            )
    except (ArgumentError, NoSuchModuleError) as error:
        raise StudyError(f"--db {shown_url(url)}: {error}") from None
    except OSError as error:
        raise StudyError(f"--db {shown_url(url)}: cannot create its folder ({error.strerror or error})") from None
    return engine


def _sqlite_pragmas(engine: Engine, *, writer: bool) -> None:
    @event.listens_for(engine, "connect")
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # SQLAlchemy issues BEGIN itself (savepoints need it)
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def on_begin(connection: Connection) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE" if writer else "BEGIN")


def read_meta(connection: Connection) -> dict[str, Any]:
    """Every ``study_meta`` entry, decoded."""
    return {key: json.loads(value) for key, value in connection.execute(select(study_meta.c.key, study_meta.c.value))}


def check_schema(connection: Connection, url: str) -> bool:
    """Whether the database holds a study of this schema version (False: it is empty); migrates older versions.

    Raises :class:`StudyError` (one line) for a database of another program or of an unknown version.
    """
    tables = set(inspect(connection).get_table_names())
    if not tables & set(metadata.tables):
        return False
    if "study_meta" not in tables:
        raise StudyError(f"database {shown_url(url)} is not a study database (it has no study_meta table)")
    row = connection.execute(select(study_meta.c.value).where(study_meta.c.key == "schema_version")).first()
    version = json.loads(row[0]) if row else None
    while version != SCHEMA_VERSION:
        if not isinstance(version, int) or version not in MIGRATIONS:
            raise StudyError(
                f"database {shown_url(url)} has study schema version {version}; this version of invariance reads "
                f"version {SCHEMA_VERSION} and cannot migrate it"
            )
        MIGRATIONS[version](connection)
        version += 1
        connection.execute(
            study_meta.update().where(study_meta.c.key == "schema_version").values(value=json.dumps(version))
        )
    return True


def create_schema(connection: Connection, meta: dict[str, Any]) -> None:
    """Create the tables and write ``meta`` (plus the schema version)."""
    metadata.create_all(connection)
    rows = [
        {"key": key, "value": json.dumps(value)} for key, value in {**meta, "schema_version": SCHEMA_VERSION}.items()
    ]
    connection.execute(study_meta.insert(), rows)


class StudyStore:
    """Reads on a connection pool; writes queued to one thread with one connection (see the module docstring)."""

    def __init__(self, url: str, *, must_exist: bool = False) -> None:
        """Open the database at ``url``; with ``must_exist``, a missing SQLite file is an error (not created)."""
        self.url = database_url(url)
        parsed = make_url(self.url)
        self.is_sqlite = parsed.get_backend_name() == "sqlite"
        if must_exist and self.is_sqlite and not Path(str(parsed.database)).is_file():
            raise StudyError(f"no study database {parsed.database}: give the --db of 'invariance study serve'")
        self._write_engine = make_engine(self.url, writer=True)
        self._read_engine = make_engine(self.url, writer=False)
        self._jobs: queue.SimpleQueue[tuple[Callable[[Connection], Any], concurrent.futures.Future[Any]] | None]
        self._jobs = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._write_loop, name="study-db-writer", daemon=True)
        self._connection: Connection | None = None
        self._closed = False
        try:
            with self._write_engine.connect() as probe:
                probe.exec_driver_sql("SELECT 1")
        except SQLAlchemyError as error:
            self._dispose()
            raise StudyError(f"cannot open database {shown_url(self.url)}: {_first_line(error)}") from None
        self._thread.start()

    # --- writes ---------------------------------------------------------------------------------------------
    def submit(self, job: Callable[[Connection], T]) -> concurrent.futures.Future[T]:
        """Queue ``job(connection)``; the future resolves after the transaction holding it has committed."""
        if self._closed:
            raise StudyError("the study database is closed")
        future: concurrent.futures.Future[T] = concurrent.futures.Future()
        self._jobs.put((job, future))
        return future

    def write_sync(self, job: Callable[[Connection], T]) -> T:
        return self.submit(job).result()

    async def write(self, job: Callable[[Connection], T]) -> T:
        return await asyncio.wrap_future(self.submit(job))

    def _write_loop(self) -> None:
        while True:
            first = self._jobs.get()
            if first is None:
                break
            batch = [first]
            stop = False
            while len(batch) < WRITE_BATCH:
                try:
                    job = self._jobs.get_nowait()
                except queue.Empty:
                    break
                if job is None:
                    stop = True
                    break
                batch.append(job)
            self._run_batch(batch)
            if stop:
                break
        if self._connection is not None:
            self._connection.close()

    def _run_batch(self, batch: list[tuple[Callable[[Connection], Any], concurrent.futures.Future[Any]]]) -> None:
        results: list[tuple[bool, Any]] = []
        started = time.perf_counter()
        try:
            if self._connection is None:
                self._connection = self._write_engine.connect()
            connection = self._connection
            with connection.begin():
                for job, _ in batch:
                    savepoint = connection.begin_nested()
                    try:
                        value = job(connection)
                    except Exception as error:  # the job's own failure: undo it alone, report it to its caller
                        savepoint.rollback()
                        results.append((False, error))
                    else:
                        savepoint.commit()
                        results.append((True, value))
        except Exception as error:  # the transaction failed (disk, connection): nothing of the batch is saved
            log.warning("study database write failed: %s", _first_line(error))
            if self._connection is not None:
                self._connection.invalidate()
                self._connection.close()
                self._connection = None
            failure = StudyError(f"the study database could not save ({_first_line(error)})")
            for _, future in batch:
                future.set_exception(failure)
            return
        log.debug("committed %d writes in %.1f ms", len(batch), 1000 * (time.perf_counter() - started))
        for (ok, value), (_, future) in zip(results, batch, strict=True):
            if ok:
                future.set_result(value)
            else:
                future.set_exception(value)

    # --- reads ----------------------------------------------------------------------------------------------
    def read_sync(self, job: Callable[[Connection], T]) -> T:
        """Run ``job(connection)`` in a read transaction (a consistent snapshot)."""
        try:
            with self._read_engine.connect() as connection, connection.begin():
                return job(connection)
        except OperationalError as error:
            raise StudyError(f"cannot read database {shown_url(self.url)}: {_first_line(error)}") from None

    async def read(self, job: Callable[[Connection], T]) -> T:
        import anyio.to_thread

        return await anyio.to_thread.run_sync(self.read_sync, job)

    # --- life cycle -----------------------------------------------------------------------------------------
    def close(self) -> None:
        """Finish the queued writes, stop the writer and close every connection."""
        if self._closed:
            return
        self._closed = True
        self._jobs.put(None)
        self._thread.join()
        self._dispose()

    def _dispose(self) -> None:
        self._write_engine.dispose()
        self._read_engine.dispose()

    def __enter__(self) -> StudyStore:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


def _first_line(error: BaseException) -> str:
    text = str(getattr(error, "orig", None) or error).strip().splitlines()
    return text[0][:200] if text else type(error).__name__
