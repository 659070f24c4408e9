"""Who sees what: creating a study in its database, assigning raters their trials, taking answers, live exclusion
and returning abandoned work to the pool.

Every function that changes the database takes the writer's connection (:meth:`StudyStore.write`), so it runs
inside one transaction that commits before its caller answers the rater. On PostgreSQL the assignment also takes
a row lock on the study's ``assign_lock`` row (``SELECT … FOR UPDATE``), so two servers on one database cannot
over-assign either; on SQLite ``BEGIN IMMEDIATE`` already admits one writer at a time.

The rules:

- a new rater gets ``items_per_rater`` items, fewest live ratings first (ties broken by the rater's seed), only
  items with fewer than ``ratings_per_item`` (K) live ratings, plus ``controls_per_rater`` unmodified MNIST test
  digits no item was made from and ``attention_checks`` "press k" screens, shuffled with the rater's seed;
- an item's *live* ratings are its trials not released, of raters not excluded: answered or still to come;
- a rater who makes ``max_failed_checks`` attention-check mistakes, or so many control mistakes that fewer than
  ``min_control_accuracy`` of the controls can still be right, is excluded at once: their remaining trials are
  released and none of their answers counts any more, so their items go back to the pool;
- an unfinished rater silent for ``abandon_after_min`` minutes is marked abandoned and their unanswered trials are
  released; if they come back, each released item is taken back only while it has fewer than K + 1 live ratings
  (else that trial is dropped), so no item ever has more than K + 1.
"""

from __future__ import annotations

import json
import math
import re
import secrets
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Final

import numpy as np
from sqlalchemy import Connection, delete, insert, select, text, update

from core.errors import StudyError
from core.study.answers import MNIST_TEST_SIZE
from core.study.consensus import DEFAULT_MIN_RATER_ACCURACY
from core.study.server.db import (
    StudyStore,
    check_schema,
    create_schema,
    read_meta,
    shown_url,
    study_items,
    study_meta,
    study_raters,
    study_trials,
)
from core.study.sets import StudyItem

DEFAULT_CONSENT: Final = (
    "This study asks you to label small images of handwritten digits. It takes about ten minutes. "
    "Your answers and response times are stored with a pseudonymous id; nothing else about you is recorded. "
    "You may stop at any time. Press Enter or the button below to agree and continue."
)
DEFAULT_INSTRUCTIONS: Final = (
    "You will see small images of handwritten digits, one at a time.\n"
    "Press the key of the digit you see (0-9). If the image does not show any digit, press N.\n"
    "Answer with your first impression; the next image appears right away.\n"
    "A few screens ask you to press a given key: please do exactly that.\n"
    "Press Enter or the button below to begin."
)
MAX_NAME_LENGTH: Final = 100
_PID_RE: Final = re.compile(r"[A-Za-z0-9_-]{1,64}")
_NAME_RE: Final = re.compile(r"[^\x00-\x1f\x7f]{1,100}")
NOT_A_DIGIT_KEY: Final = -1


class RequestError(StudyError):
    """A rater's or organiser's request that is refused: ``status`` is the HTTP status to answer with."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class StudyDesign:
    """The design options, recorded with the study (``invariance study serve --ratings-per-item`` …)."""

    ratings_per_item: int = 5
    items_per_rater: int = 50
    controls_per_rater: int = 50
    attention_checks: int = 2
    abandon_after_min: float = 30.0
    min_control_accuracy: float = DEFAULT_MIN_RATER_ACCURACY
    max_failed_checks: int = 2

    def check(self) -> StudyDesign:
        for name in ("ratings_per_item", "items_per_rater", "controls_per_rater"):
            value = getattr(self, name)
            if not isinstance(value, int) or not 1 <= value <= 10_000:
                raise StudyError(f"--{name.replace('_', '-')} {value} must be an integer in 1..10000")
        if not 0 <= self.attention_checks <= 100:
            raise StudyError(f"--attention-checks {self.attention_checks} must be in 0..100")
        if not 0 < self.abandon_after_min <= 7 * 24 * 60:
            raise StudyError(f"--abandon-after {self.abandon_after_min} must be in (0, 10080] minutes")
        if not 0 <= self.min_control_accuracy <= 1:
            raise StudyError(f"minimum control accuracy {self.min_control_accuracy} must be in [0, 1]")
        return self


@dataclass(frozen=True)
class StudyConfig:
    """What a running study needs from ``study_meta``."""

    study_id: str
    design: StudyDesign
    consent: str
    instructions: str
    completion_code: str
    completion_url: str | None
    admin_token: str
    collections: list[str] = field(default_factory=list)
    created_at: float = 0.0

    def to_meta(self) -> dict[str, Any]:
        return {
            "study_id": self.study_id,
            "design": asdict(self.design),
            "consent": self.consent,
            "instructions": self.instructions,
            "completion_code": self.completion_code,
            "completion_url": self.completion_url,
            "admin_token": self.admin_token,
            "collections": self.collections,
            "created_at": self.created_at,
            "assign_lock": 0,
        }

    @classmethod
    def from_meta(cls, meta: dict[str, Any]) -> StudyConfig:
        return cls(
            study_id=meta["study_id"],
            design=StudyDesign(**meta["design"]),
            consent=meta["consent"],
            instructions=meta["instructions"],
            completion_code=meta["completion_code"],
            completion_url=meta.get("completion_url"),
            admin_token=meta["admin_token"],
            collections=list(meta["collections"]),
            created_at=float(meta.get("created_at", 0.0)),
        )


def load_config(store: StudyStore) -> StudyConfig:
    """The study in ``store``'s database; raises :class:`StudyError` when it holds none (or another version)."""

    def job(connection: Connection) -> StudyConfig:
        if not check_schema(connection, store.url):
            raise StudyError(f"database {shown_url(store.url)} holds no study; start one with 'invariance study serve'")
        return StudyConfig.from_meta(read_meta(connection))

    return store.write_sync(job)


def open_study(
    store: StudyStore,
    items: Sequence[StudyItem],
    pngs: Sequence[bytes],
    *,
    design: StudyDesign | None,
    consent: str | None,
    completion_url: str | None,
    instructions: str = DEFAULT_INSTRUCTIONS,
) -> tuple[StudyConfig, bool]:
    """Create the study of ``items`` (their PNGs in ``pngs``) in an empty database, or reopen the one it holds.

    Returns (config, created). Reopening checks that the database serves the same items and, for every option
    given (not ``None``), the same value: a study's design cannot change under its raters.
    """
    if not items:
        raise StudyError("a study needs at least one item; the collections given are empty")
    collections = list(dict.fromkeys(item.collection for item in items))

    def job(connection: Connection) -> tuple[StudyConfig, bool]:
        if check_schema(connection, store.url):
            config = StudyConfig.from_meta(read_meta(connection))
            _check_same_study(connection, config, items, design, consent, completion_url)
            if completion_url is not None and config.completion_url is None:  # set once the code is known
                connection.execute(
                    update(study_meta)
                    .where(study_meta.c.key == "completion_url")
                    .values(value=json.dumps(completion_url))
                )
                config = replace(config, completion_url=completion_url)
            return config, False
        config = StudyConfig(
            study_id=secrets.token_hex(8),
            design=(design or StudyDesign()).check(),
            consent=DEFAULT_CONSENT if consent is None else consent,
            instructions=instructions,
            completion_code=f"C{secrets.token_hex(4).upper()}",
            completion_url=completion_url,
            admin_token=secrets.token_urlsafe(24),
            collections=collections,
            created_at=time.time(),
        )
        create_schema(connection, config.to_meta())
        rows = [
            {
                "collection": item.collection,
                "item_id": item.item_id,
                "set_name": item.set_name,
                "source_split": item.source_split,
                "source_index": item.source_index,
                "png": png,
                "live": 0,
            }
            for item, png in zip(items, pngs, strict=True)
        ]
        connection.execute(insert(study_items), rows)
        return config, True

    return store.write_sync(job)


def _check_same_study(
    connection: Connection,
    config: StudyConfig,
    items: Sequence[StudyItem],
    design: StudyDesign | None,
    consent: str | None,
    completion_url: str | None,
) -> None:
    stored = set(connection.execute(select(study_items.c.collection, study_items.c.item_id)))
    given = {(item.collection, item.item_id) for item in items}
    if stored != given:
        raise StudyError(
            f"the database holds study {config.study_id} of other items ({len(stored)} items of "
            f"{', '.join(config.collections)}); give the same collections, or a new --db for a new study"
        )
    if design is not None:
        for name, value in asdict(design).items():
            recorded = getattr(config.design, name)
            if value != recorded:
                option = name.replace("_", "-")
                raise StudyError(f"study {config.study_id} was started with --{option} {recorded}, not {value}")
    if consent is not None and consent != config.consent:
        raise StudyError(f"study {config.study_id} was started with another consent text")
    if completion_url is not None and config.completion_url is not None and completion_url != config.completion_url:
        raise StudyError(f"study {config.study_id} was started with --completion-url {config.completion_url}")


# --- raters ---------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Identity:
    """How a rater arrives: Prolific's three URL parameters, a lab ``?rater=NAME``, or neither (cookie only)."""

    prolific_pid: str | None = None
    study_id: str | None = None
    session_id: str | None = None
    rater: str | None = None

    @classmethod
    def parse(cls, data: dict[str, Any]) -> Identity:
        """From a request's JSON body; raises :class:`RequestError` (400) for malformed values."""
        values: dict[str, str | None] = {}
        for key in ("PROLIFIC_PID", "STUDY_ID", "SESSION_ID"):
            value = data.get(key)
            if value in (None, ""):
                values[key] = None
            elif not isinstance(value, str) or not _PID_RE.fullmatch(value):
                raise RequestError(400, f"{key} must be 1-64 letters, digits, '-' or '_'")
            else:
                values[key] = value
        rater = data.get("rater")
        if rater in (None, ""):
            name = None
        elif not isinstance(rater, str) or not _NAME_RE.fullmatch(rater.strip() or "\x00"):
            raise RequestError(400, f"rater must be a name of 1-{MAX_NAME_LENGTH} printable characters")
        else:
            name = rater.strip()
        return cls(values["PROLIFIC_PID"], values["STUDY_ID"], values["SESSION_ID"], name)

    @property
    def key(self) -> str | None:
        """The unique identity, or ``None`` for a cookie-only rater."""
        if self.prolific_pid:
            return f"prolific:{self.prolific_pid}"
        if self.rater:
            return f"name:{self.rater}"
        return None

    @property
    def name(self) -> str | None:
        return self.prolific_pid or self.rater


@dataclass(frozen=True)
class Shown:
    """What the current trial's image is (kept by the server, never sent): item row id or clean test index."""

    token: str
    item_pk: int | None
    clean_index: int | None


@dataclass(frozen=True)
class Reply:
    """What a session or answer request returns: the rater's cookie id (``None``: no rater), the JSON body, and
    what the image of the trial in the body shows (for the server's image lookup)."""

    public_id: str | None
    body: dict[str, Any]
    shown: Shown | None = None


def session(
    connection: Connection, config: StudyConfig, identity: Identity, cookie: str | None, *, begin: bool, now: float
) -> Reply:
    """Find the rater (by identity, else by cookie) and return where they are; with ``begin``, start a new one.

    ``{"stage": "new"}``: unknown rater, nothing written (show consent). ``{"stage": "trial", …}``: the next
    trial. ``{"stage": "done", …}``: finished (or excluded). ``{"stage": "full"}``: no item needs raters now.
    """
    rater = _find_rater(connection, identity, cookie)
    if rater is None:
        if not begin:
            return Reply(None, {"stage": "new"})
        release_abandoned(connection, config, now)
        rater = _create_rater(connection, config, identity, now)
        if rater is None:
            return Reply(None, {"stage": "full"})
    else:
        _touch(connection, config, rater, now)
    return _where(connection, config, rater["id"], rater["public_id"])


def answer(
    connection: Connection,
    config: StudyConfig,
    cookie: str | None,
    token: str,
    label: int,
    response_ms: int,
    now: float,
) -> Reply:
    """Store ``label`` for trial ``token`` of the rater whose cookie id is ``cookie``; returns the next stage.

    The same answer again is a no-op; another answer to an answered trial, a trial of another rater, or a trial
    that is not the rater's current one is refused (:class:`RequestError`) and nothing is written. (The hot path:
    its statements are prepared once, as plain SQL both databases read.)
    """
    row = connection.execute(_TRIAL_OF_RATER, {"token": token, "cookie": cookie or ""}).first()
    if row is None:
        _rater_by_cookie(connection, cookie)  # 403 for an unknown rater
        raise RequestError(404, "no such trial in your session")
    trial_id, kind, previous, rater_id, status, public_id = row
    if previous is not None:
        if previous != label:
            raise RequestError(409, "this trial is already answered with another label; answers cannot be changed")
        return _where(connection, config, rater_id, public_id)
    if status in ("finished", "excluded"):
        raise RequestError(409, "your session is over; thank you")
    if status == "abandoned":
        _touch(connection, config, {"id": rater_id, "status": status}, now)
    else:
        connection.execute(_SEEN, {"now": now, "rater": rater_id})
    current = _current_trial(connection, rater_id)
    if current is None or current["token"] != token:
        raise RequestError(409, "this is not your current trial; reload the page to continue")
    connection.execute(_SAVE, {"answer": label, "ms": response_ms, "now": now, "id": trial_id})
    if kind != "item" and _apply_exclusion(connection, config, rater_id, now):
        return _where(connection, config, rater_id, public_id, status="excluded")
    following = _current_trial(connection, rater_id)
    if following is None:
        connection.execute(
            update(study_raters)
            .where(study_raters.c.id == rater_id, study_raters.c.status == "active")
            .values(status="finished", finished_at=now)
        )
        return _where(connection, config, rater_id, public_id, status="finished")
    return _where(connection, config, rater_id, public_id, status="active", current=following)


_TRIAL_OF_RATER: Final = text(
    "SELECT t.id, t.kind, t.answer, r.id, r.status, r.public_id FROM study_trials t "
    "JOIN study_raters r ON r.id = t.rater_id WHERE t.token = :token AND r.public_id = :cookie"
)
_CURRENT: Final = text(
    "SELECT token, kind, expected, item_pk, clean_index FROM study_trials "
    "WHERE rater_id = :rater AND answer IS NULL AND released = :no ORDER BY position LIMIT 1"
)
_SAVE: Final = text(
    "UPDATE study_trials SET answer = :answer, response_ms = :ms, answered_at = :now WHERE id = :id AND answer IS NULL"
)
_SEEN: Final = text("UPDATE study_raters SET last_seen_at = :now WHERE id = :rater")
_PROGRESS: Final = text(
    "SELECT count(*), count(answer) FROM study_trials "
    "WHERE rater_id = :rater AND (released = :no OR answer IS NOT NULL)"
)
_MISTAKES: Final = text(
    "SELECT kind, count(*), sum(CASE WHEN answer IS NOT NULL AND answer <> expected THEN 1 ELSE 0 END) "
    "FROM study_trials WHERE rater_id = :rater AND kind <> 'item' GROUP BY kind"
)


def trial_image(connection: Connection, cookie: str | None, token: str) -> tuple[int | None, int | None]:
    """(item row id, clean test index) that trial ``token`` of the cookie's rater shows; 404 otherwise."""
    row = connection.execute(
        select(study_trials.c.item_pk, study_trials.c.clean_index)
        .join(study_raters, study_raters.c.id == study_trials.c.rater_id)
        .where(
            study_trials.c.token == token, study_raters.c.public_id == (cookie or ""), study_trials.c.kind != "check"
        )
    ).first()
    if row is None:
        raise RequestError(404, "no such image in your session")
    return row[0], row[1]


def release_abandoned(connection: Connection, config: StudyConfig, now: float) -> int:
    """Mark raters silent for ``abandon_after_min`` as abandoned and release their unanswered trials."""
    cutoff = now - 60.0 * config.design.abandon_after_min
    stale = (
        connection.execute(
            select(study_raters.c.id).where(study_raters.c.status == "active", study_raters.c.last_seen_at < cutoff)
        )
        .scalars()
        .all()
    )
    if stale:
        for rater_id in stale:
            _count_live(connection, rater_id, -1, unanswered_only=True)
        connection.execute(update(study_raters).where(study_raters.c.id.in_(stale)).values(status="abandoned"))
        connection.execute(
            update(study_trials)
            .where(study_trials.c.rater_id.in_(stale), study_trials.c.answer.is_(None))
            .values(released=True)
        )
    return len(stale)


# --- internals ------------------------------------------------------------------------------------------------
def _find_rater(connection: Connection, identity: Identity, cookie: str | None) -> dict[str, Any] | None:
    if identity.key is not None:
        condition = study_raters.c.identity == identity.key
    elif cookie:
        condition = study_raters.c.public_id == cookie
    else:
        return None
    row = connection.execute(select(study_raters).where(condition)).first()
    return None if row is None else row._asdict()


def _rater_by_cookie(connection: Connection, cookie: str | None) -> dict[str, Any]:
    if not cookie:
        raise RequestError(403, "no rater session; open the study link again")
    row = connection.execute(select(study_raters).where(study_raters.c.public_id == cookie)).first()
    if row is None:
        raise RequestError(403, "unknown rater session; open the study link again")
    return row._asdict()


def _live_loads(connection: Connection, below: int) -> dict[int, int]:
    """item row id -> live ratings (trials not released, of raters not excluded), for the items with fewer than
    ``below``."""
    return dict(connection.execute(_LOADS, {"below": below}).all())


def _count_live(connection: Connection, rater_id: int, delta: int, *, unanswered_only: bool) -> None:
    """Add ``delta`` to the live count of the items of the rater's trials not released (or only the unanswered)."""
    connection.execute(
        _LIVE_OF_UNANSWERED if unanswered_only else _LIVE_OF_ALL, {"delta": delta, "rater": rater_id, "no": False}
    )


_LOADS: Final = text("SELECT id, live FROM study_items WHERE live < :below")
_LIVE_OF_ALL: Final = text(
    "UPDATE study_items SET live = live + :delta WHERE id IN (SELECT item_pk FROM study_trials "
    "WHERE rater_id = :rater AND released = :no AND item_pk IS NOT NULL)"
)
_LIVE_OF_UNANSWERED: Final = text(
    "UPDATE study_items SET live = live + :delta WHERE id IN (SELECT item_pk FROM study_trials "
    "WHERE rater_id = :rater AND released = :no AND item_pk IS NOT NULL AND answer IS NULL)"
)
_CONTROL_POOLS: dict[str, np.ndarray] = {}
"""study id -> the MNIST test indices no item was made from (fixed for a study)."""


def _lock_assignment(connection: Connection) -> None:
    """Serialise assignments across connections (PostgreSQL row lock; SQLite's writer lock already does)."""
    connection.execute(select(study_meta.c.value).where(study_meta.c.key == "assign_lock").with_for_update())


def _control_pool(connection: Connection) -> np.ndarray:
    used = (
        connection.execute(
            select(study_items.c.source_index).where(
                study_items.c.source_split == "test", study_items.c.source_index.is_not(None)
            )
        )
        .scalars()
        .all()
    )
    return np.setdiff1d(np.arange(MNIST_TEST_SIZE), np.asarray(used, dtype=np.int64))


def _create_rater(connection: Connection, config: StudyConfig, identity: Identity, now: float) -> dict[str, Any] | None:
    from core.study.server.images import test_labels

    design = config.design
    _lock_assignment(connection)
    seed = secrets.randbits(63)
    rng = np.random.default_rng(seed)
    loads = np.array(list(_live_loads(connection, design.ratings_per_item).items()), dtype=np.int64).reshape(-1, 2)
    if not len(loads):
        return None
    ranked = np.lexsort((rng.random(len(loads)), loads[:, 1]))  # fewest live ratings first, ties by the seed
    chosen = [int(pk) for pk in loads[ranked[: design.items_per_rater], 0]]
    if config.study_id not in _CONTROL_POOLS:
        _CONTROL_POOLS[config.study_id] = _control_pool(connection)
    pool = _CONTROL_POOLS[config.study_id]
    if len(pool) < design.controls_per_rater:
        raise StudyError(f"only {len(pool)} clean test digits are left for {design.controls_per_rater} controls")
    controls = rng.choice(pool, size=design.controls_per_rater, replace=False)
    checks = rng.integers(0, 10, size=design.attention_checks)
    labels = test_labels()
    trials: list[dict[str, Any]] = (
        [{"kind": "item", "item_pk": pk, "clean_index": None, "expected": None} for pk in chosen]
        + [{"kind": "control", "item_pk": None, "clean_index": int(i), "expected": int(labels[i])} for i in controls]
        + [{"kind": "check", "item_pk": None, "clean_index": None, "expected": int(k)} for k in checks]
    )
    order = rng.permutation(len(trials))
    public_id = secrets.token_urlsafe(18)
    name = identity.name or f"anon-{secrets.token_hex(4)}"
    if connection.execute(select(study_raters.c.id).where(study_raters.c.name == name)).first() is not None:
        raise RequestError(409, "this rater name is taken in this study; choose another")
    inserted = connection.execute(
        insert(study_raters).values(
            public_id=public_id,
            identity=identity.key or f"cookie:{public_id}",
            name=name,
            prolific_pid=identity.prolific_pid,
            prolific_study_id=identity.study_id,
            prolific_session_id=identity.session_id,
            seed=seed,
            status="active",
            started_at=now,
            last_seen_at=now,
        )
    ).inserted_primary_key
    if inserted is None:
        raise StudyError("the database did not return the new rater's id")
    rater_id = int(inserted[0])
    rows = [
        {
            **trials[index],
            "rater_id": rater_id,
            "position": position,
            "token": secrets.token_urlsafe(12),
            "released": False,
        }
        for position, index in enumerate(order)
    ]
    connection.execute(insert(study_trials), rows)
    connection.execute(update(study_items).where(study_items.c.id.in_(chosen)).values(live=study_items.c.live + 1))
    return {"id": rater_id, "public_id": public_id}


def _touch(connection: Connection, config: StudyConfig, rater: dict[str, Any], now: float) -> None:
    """Note the rater's activity; an abandoned rater who returns takes back what they still may."""
    values: dict[str, Any] = {"last_seen_at": now}
    if rater["status"] == "abandoned":
        _reclaim(connection, config, rater["id"])
        values["status"] = "active"
        rater["status"] = "active"
    connection.execute(update(study_raters).where(study_raters.c.id == rater["id"]).values(**values))


def _reclaim(connection: Connection, config: StudyConfig, rater_id: int) -> None:
    _lock_assignment(connection)
    released = connection.execute(
        select(study_trials.c.id, study_trials.c.item_pk)
        .where(study_trials.c.rater_id == rater_id, study_trials.c.released.is_(True))
        .order_by(study_trials.c.position)
    ).all()
    loads = _live_loads(connection, config.design.ratings_per_item + 1)
    keep, drop, taken = [], [], []
    for trial_id, item_pk in released:
        if (
            item_pk is None
            or loads.get(item_pk, config.design.ratings_per_item + 1) < config.design.ratings_per_item + 1
        ):
            keep.append(trial_id)
            if item_pk is not None:
                loads[item_pk] += 1
                taken.append(item_pk)
        else:
            drop.append(trial_id)
    if keep:
        connection.execute(update(study_trials).where(study_trials.c.id.in_(keep)).values(released=False))
    if taken:
        connection.execute(update(study_items).where(study_items.c.id.in_(taken)).values(live=study_items.c.live + 1))
    if drop:
        connection.execute(delete(study_trials).where(study_trials.c.id.in_(drop)))


def _apply_exclusion(connection: Connection, config: StudyConfig, rater_id: int, now: float) -> bool:
    """Exclude the rater if their mistakes on controls or attention checks call for it; returns whether it did."""
    design = config.design
    tally = {kind: (int(n), int(wrong or 0)) for kind, n, wrong in connection.execute(_MISTAKES, {"rater": rater_id})}
    n_controls, wrong_controls = tally.get("control", (0, 0))
    failed_checks = tally.get("check", (0, 0))[1]
    needed = math.ceil(design.min_control_accuracy * n_controls - 1e-9)
    reason = None
    if design.attention_checks and failed_checks >= design.max_failed_checks:
        reason = f"failed {failed_checks} attention checks"
    elif n_controls - wrong_controls < needed:
        reason = (
            f"{wrong_controls} of {n_controls} control digits wrong: fewer than "
            f"{100 * design.min_control_accuracy:.0f}% can be right"
        )
    if reason is None:
        return False
    _count_live(connection, rater_id, -1, unanswered_only=False)  # none of their ratings counts any more
    connection.execute(
        update(study_raters)
        .where(study_raters.c.id == rater_id)
        .values(status="excluded", excluded_reason=reason, finished_at=now)
    )
    connection.execute(
        update(study_trials)
        .where(study_trials.c.rater_id == rater_id, study_trials.c.answer.is_(None))
        .values(released=True)
    )
    return True


def _current_trial(connection: Connection, rater_id: int) -> dict[str, Any] | None:
    row = connection.execute(_CURRENT, {"rater": rater_id, "no": False}).first()
    return None if row is None else dict(row._mapping)


def _where(
    connection: Connection,
    config: StudyConfig,
    rater_id: int,
    public_id: str,
    *,
    status: str | None = None,
    current: dict[str, Any] | None = None,
) -> Reply:
    """The rater's stage as the browser sees it: an opaque trial token and image URL only."""
    if status is None:
        status = connection.execute(select(study_raters.c.status).where(study_raters.c.id == rater_id)).scalar_one()
    if current is None and status not in ("finished", "excluded"):
        current = _current_trial(connection, rater_id)
    if current is None or status in ("finished", "excluded"):
        body: dict[str, Any] = {"stage": "done", "completion_code": config.completion_code}
        if config.completion_url:
            body["redirect"] = config.completion_url
        return Reply(public_id, body)
    total, answered = connection.execute(_PROGRESS, {"rater": rater_id, "no": False}).one()
    trial: dict[str, Any] = {"id": current["token"]}
    shown = None
    if current["kind"] == "check":
        trial["prompt"] = f"Attention check: please press the key {current['expected']} now."
    else:
        trial["image"] = f"/image/{current['token']}.png"
        shown = Shown(current["token"], current["item_pk"], current["clean_index"])
    return Reply(public_id, {"stage": "trial", "trial": trial, "answered": int(answered), "total": int(total)}, shown)


def parse_answer(data: dict[str, Any]) -> tuple[str, int, int]:
    """(trial token, label, response ms) from an answer request's JSON; :class:`RequestError` (400) otherwise."""
    from core.study.answers import MAX_RESPONSE_MS

    token, label, response_ms = data.get("trial"), data.get("answer"), data.get("response_ms")
    if not isinstance(token, str) or not re.fullmatch(r"[A-Za-z0-9_-]{1,64}", token):
        raise RequestError(400, "trial must be a trial id")
    if not isinstance(label, int) or isinstance(label, bool) or not NOT_A_DIGIT_KEY <= label <= 9:
        raise RequestError(400, "answer must be 0-9 or -1 (not a digit)")
    if not isinstance(response_ms, int) or isinstance(response_ms, bool) or not 0 <= response_ms <= MAX_RESPONSE_MS:
        raise RequestError(400, f"response_ms must be an integer in 0..{MAX_RESPONSE_MS}")
    return token, label, response_ms
