"""The answers file: one rater's labels for one study session, written by the app and by the study pack.

Format (JSON, ``format_version`` 1)::

    {"format_version": 1, "kind": "invariance-lab.answers", "rater": "ada", "seed": 0,
     "source": "app" | "pack", "started": "<ISO time>", "finished": "<ISO time>",
     "trials": [{"order": 0, "collection": "/abs/set.coll", "item": "17", "answer": 3, "response_ms": 812},
                {"order": 1, "collection": null, "item": "clean:4242", "answer": -1, "response_ms": 640}, ...]}

Study packs write format 2 instead, which names no collection, item or clean digit: the page only knows the
pack's opaque id and the positions, and the organiser's plan (:mod:`core.study.plan`) maps them back::

    {"format_version": 2, "kind": "invariance-lab.answers", "pack_id": "3f0c9a51d2e8b7a4", "rater": "ada",
     "source": "pack", "started": "...", "finished": "...",
     "trials": [{"order": 0, "answer": 3, "response_ms": 812}, ...]}

``order`` is the position at which the image was shown (0-based); ``item`` is the collection's item id (as a
string), or ``clean:<MNIST test index>`` for the unmodified digits mixed in as an attention check (then
``collection`` is null); ``answer`` is 0..9 or -1 (not a digit); ``response_ms`` is the monotonic time from
showing the image to the key press, pauses excluded. Files are named ``answers-<rater>-<UTC timestamp>.json``,
written atomically and never overwritten (a ``-2``, ``-3``... suffix is added when the name is taken).

The session state file (``kind`` ``invariance-lab.session``) has the same layout with ``answer`` and
``response_ms`` null for trials not answered yet; it lets a closed session resume where it stopped.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
from dataclasses import KW_ONLY, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

from core.errors import StudyError
from core.files import atomic_write_bytes
from core.labels import is_valid_label

FORMAT_VERSION: Final = 1
PACK_FORMAT_VERSION: Final = 2
"""Answers written by a study pack's page: ``pack_id`` and trials by position only (see :mod:`core.study.plan`)."""
MAX_JSON_BYTES: Final = 32 * 2**20
MAX_RESPONSE_MS: Final = 7 * 24 * 3600 * 1000
"""A week: longer response times are not a human's."""
MAX_RATER_LENGTH: Final = 200
PACK_ID_RE: Final = re.compile(r"[0-9a-f]{16}")
ANSWERS_KIND: Final = "invariance-lab.answers"
SESSION_KIND: Final = "invariance-lab.session"
CLEAN_PREFIX: Final = "clean:"
MNIST_TEST_SIZE: Final = 10_000
_RATER_RE: Final = re.compile(r"[^A-Za-z0-9_.-]+")


@dataclass(frozen=True)
class TrialRef:
    """What one trial shows: an item of a collection, or clean MNIST test digit ``clean_index``."""

    collection: str | None
    item: str

    @staticmethod
    def clean(index: int) -> TrialRef:
        return TrialRef(None, f"{CLEAN_PREFIX}{int(index)}")

    @property
    def is_clean(self) -> bool:
        return self.collection is None

    @property
    def clean_index(self) -> int:
        """The MNIST test index of a clean trial; raises :class:`StudyError` for an item trial."""
        if not self.is_clean:
            raise StudyError(f"trial {self.item!r} of {self.collection} is not a clean digit")
        return int(self.item[len(CLEAN_PREFIX) :])


@dataclass
class Trial:
    """One shown image and, once answered, the rater's label and response time."""

    order: int
    ref: TrialRef
    answer: int | None = None
    response_ms: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "order": self.order,
            "collection": self.ref.collection,
            "item": self.ref.item,
            "answer": self.answer,
            "response_ms": self.response_ms,
        }


@dataclass(frozen=True)
class PackTrial:
    """One answered trial of a study pack: its position and the rater's label; what it showed is in the plan."""

    order: int
    answer: int
    response_ms: int


@dataclass(frozen=True)
class RatingSession:
    """What every answers file says besides its trials: who rated, with which tool, and when the session started
    and finished (ISO 8601 UTC, empty when unknown)."""

    rater: str
    _: KW_ONLY
    source: str = "app"
    """``app`` (this program's sessions) or ``pack`` (a study pack's page, whose files always say so)."""
    started: str = ""
    finished: str = ""


@dataclass(frozen=True)
class AnswersFile(RatingSession):
    """A parsed answers (or session state) file; ``trials`` are sorted by ``order``."""

    seed: int
    trials: list[Trial]
    kind: str = ANSWERS_KIND
    instructions: str = ""

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "format_version": FORMAT_VERSION,
            "kind": self.kind,
            "rater": self.rater,
            "seed": self.seed,
            "source": self.source,
            "started": self.started,
            "finished": self.finished,
            "trials": [trial.to_json() for trial in self.trials],
        }
        if self.instructions:
            data["instructions"] = self.instructions
        return data


@dataclass(frozen=True)
class PackAnswers(RatingSession):
    """An answers file written by a study pack's page (format 2): the pack's id and the answers by position."""

    pack_id: str
    trials: list[PackTrial]


def now_iso() -> str:
    """The current UTC time, ISO 8601 to the second."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def safe_rater(rater: str) -> str:
    """``rater`` reduced to ``[A-Za-z0-9_.-]`` for use in a file name; raises :class:`StudyError` if empty."""
    cleaned = _RATER_RE.sub("_", rater.strip()).strip("._")
    if not cleaned:
        raise StudyError(f"rater name {rater!r} is empty; enter a name")
    return cleaned


def check_rater(rater: object, where: str) -> str:
    """``rater`` stripped; raises :class:`StudyError` unless it is a non-empty string of at most
    :data:`MAX_RATER_LENGTH` characters."""
    if not isinstance(rater, str) or not rater.strip():
        raise StudyError(f"{where}: rater must be a non-empty string")
    if len(rater.strip()) > MAX_RATER_LENGTH:
        raise StudyError(f"{where}: rater name longer than {MAX_RATER_LENGTH} characters")
    return rater.strip()


def _check_texts(data: dict[str, Any], names: tuple[str, ...], where: str) -> dict[str, str]:
    """The optional text fields ``names`` of an answers object (``""`` when absent); each must be a string."""
    texts = {name: data.get(name, "") for name in names}
    for name, value in texts.items():
        if not isinstance(value, str):
            raise StudyError(f"{where}: {name} must be a string")
    return texts


def write_text_atomic(path: Path, text: str, *, overwrite: bool = True) -> None:
    """Write ``text`` to ``path`` via a temporary file in the same folder.

    With ``overwrite=False`` an existing ``path`` is never replaced: :class:`FileExistsError` is raised.
    """
    write_bytes_atomic(path, text.encode("utf-8"), overwrite=overwrite)


def write_bytes_atomic(path: Path, payload: bytes, *, overwrite: bool = True) -> None:
    """Like :func:`write_text_atomic`, for bytes."""
    atomic_write_bytes(path, payload, overwrite=overwrite)


def write_json_atomic(path: Path, data: dict[str, Any], *, overwrite: bool) -> None:
    """Write ``data`` as indented JSON to ``path`` atomically (see :func:`write_text_atomic`)."""
    write_text_atomic(path, json.dumps(data, indent=1) + "\n", overwrite=overwrite)


def write_answers(answers: AnswersFile, directory: str | Path) -> Path:
    """Write ``answers`` as ``directory/answers-<rater>-<timestamp>.json`` and return the path.

    Every trial must be answered (raises :class:`StudyError` otherwise). An existing file is never
    overwritten: the name gets a ``-2``, ``-3``... suffix instead.
    """
    for trial in answers.trials:
        if trial.answer is None or trial.response_ms is None:
            raise StudyError(f"answers of {answers.rater!r}: trial {trial.order} is not answered yet")
    directory = Path(directory)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    base = f"answers-{safe_rater(answers.rater)}-{stamp}"
    data = dataclasses.replace(answers, kind=ANSWERS_KIND).to_json()
    for attempt in range(1, 1000):
        path = directory / (f"{base}.json" if attempt == 1 else f"{base}-{attempt}.json")
        try:
            write_json_atomic(path, data, overwrite=False)
        except FileExistsError:
            continue
        except OSError as error:
            raise StudyError(f"cannot write answers file {path}: {error.strerror or error}") from None
        return path
    raise StudyError(f"cannot find a free answers file name like {base}.json in {directory}")


def parse_answers(data: object, where: str, *, kind: str = ANSWERS_KIND) -> AnswersFile:
    """Validate a decoded answers (or, with ``kind=SESSION_KIND``, session state) object.

    Raises :class:`StudyError` with a one-line message naming ``where`` and the offending trial.
    """
    if not isinstance(data, dict):
        raise StudyError(f"{where}: not an answers file (expected a JSON object)")
    if data.get("kind") != kind:
        raise StudyError(f"{where}: not an answers file (kind {data.get('kind')!r}, expected {kind!r})")
    version = data.get("format_version")
    if version != FORMAT_VERSION:
        raise StudyError(f"{where}: unsupported format_version {version!r} (this version reads {FORMAT_VERSION})")
    rater = check_rater(data.get("rater"), where)
    seed = data.get("seed")
    if not isinstance(seed, int) or isinstance(seed, bool) or not 0 <= seed < 2**63:
        raise StudyError(f"{where}: seed must be an integer in 0..2^63-1")
    raw_trials = data.get("trials")
    if not isinstance(raw_trials, list) or not raw_trials:
        raise StudyError(f"{where}: trials must be a non-empty list")
    partial = kind == SESSION_KIND
    trials = [_parse_trial(raw, f"{where}: trial {number}", partial) for number, raw in enumerate(raw_trials)]
    trials.sort(key=lambda trial: trial.order)
    check_orders([trial.order for trial in trials], where)
    texts = _check_texts(data, ("source", "started", "finished", "instructions"), where)
    return AnswersFile(rater, seed, trials, kind=kind, **texts)


def _parse_trial(raw: object, where: str, partial: bool) -> Trial:
    if not isinstance(raw, dict):
        raise StudyError(f"{where}: expected an object")
    order, collection, item = raw.get("order"), raw.get("collection"), raw.get("item")
    answer, response_ms = raw.get("answer"), raw.get("response_ms")
    if not isinstance(order, int) or isinstance(order, bool) or not 0 <= order < 2**31:
        raise StudyError(f"{where}: order must be a non-negative integer")
    if not isinstance(item, str) or not item:
        raise StudyError(f"{where}: item must be a non-empty string")
    if collection is None:
        index = item[len(CLEAN_PREFIX) :]
        if not item.startswith(CLEAN_PREFIX) or not re.fullmatch(r"[0-9]{1,4}", index):
            raise StudyError(f"{where}: item {item!r} without a collection must be clean:<test index 0-9999>")
    elif not isinstance(collection, str) or not collection:
        raise StudyError(f"{where}: collection must be a path or null")
    if answer is None and response_ms is None and partial:
        return Trial(order, TrialRef(collection, item))
    if not isinstance(answer, int) or isinstance(answer, bool) or not is_valid_label(answer):
        raise StudyError(f"{where}: answer {_short(answer)} is not 0-9 or -1 (not a digit)")
    if not isinstance(response_ms, int) or isinstance(response_ms, bool) or not 0 <= response_ms <= MAX_RESPONSE_MS:
        raise StudyError(f"{where}: response_ms {_short(response_ms)} must be an integer in 0..{MAX_RESPONSE_MS}")
    return Trial(order, TrialRef(collection, item), answer, response_ms)


def read_answers(path: str | Path, *, kind: str = ANSWERS_KIND) -> AnswersFile:
    """Read and validate one in-app answers (or session state) file; raises :class:`StudyError` with one line.

    A study pack's answers file (format 2) is refused here: it only makes sense with its plan
    (:func:`core.study.ingest.ingest` resolves it).
    """
    path = Path(path)
    data = read_json(path, "answers file")
    if isinstance(data, dict) and data.get("format_version") == PACK_FORMAT_VERSION and kind == ANSWERS_KIND:
        raise StudyError(f"{path}: answers of study pack {str(data.get('pack_id'))[:40]!r}; ingest it with its plan")
    return parse_answers(data, str(path), kind=kind)


def read_json(path: Path, what: str, *, max_bytes: int = MAX_JSON_BYTES) -> object:
    """Decode the JSON file ``path``; any problem (missing, too large, not UTF-8, not JSON, nested too deep,
    numbers too large or not finite) is a :class:`StudyError` naming ``path`` and ``what`` it should be."""
    try:
        with path.open("rb") as handle:
            raw = handle.read(max_bytes + 1)
    except FileNotFoundError:
        raise StudyError(f"{path}: no such {what}") from None
    except OSError as error:
        raise StudyError(f"{path}: cannot read the {what} ({error.strerror or error})") from None
    if len(raw) > max_bytes:
        raise StudyError(f"{path}: {what} is larger than {max_bytes // 2**20} MiB")
    try:
        return json.loads(raw.decode("utf-8"), parse_constant=_reject_constant, parse_float=_finite_float)
    except UnicodeDecodeError:
        raise StudyError(f"{path}: {what} is not UTF-8 text") from None
    except json.JSONDecodeError as error:
        raise StudyError(f"{path}: {what} is not valid JSON ({error.msg} at line {error.lineno})") from None
    except RecursionError:
        raise StudyError(f"{path}: {what} is nested too deeply") from None
    except ValueError as error:  # integers beyond Python's digit limit, non-finite numbers
        raise StudyError(f"{path}: {what} holds an unusable number ({str(error)[:80]})") from None


def _reject_constant(name: str) -> float:
    raise ValueError(f"{name} is not a number")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text[:20]} is out of range")
    return value


def parse_pack_answers(data: dict[str, Any], where: str) -> PackAnswers:
    """Validate a decoded format-2 answers object (see :func:`parse_answers` for the checks in common)."""
    rater = check_rater(data.get("rater"), where)
    pack_id = data.get("pack_id")
    if not isinstance(pack_id, str) or not PACK_ID_RE.fullmatch(pack_id):
        raise StudyError(f"{where}: pack_id must be the pack's id (16 hex digits)")
    raw_trials = data.get("trials")
    if not isinstance(raw_trials, list) or not raw_trials:
        raise StudyError(f"{where}: trials must be a non-empty list")
    trials = []
    for number, raw in enumerate(raw_trials):
        here = f"{where}: trial {number}"
        if not isinstance(raw, dict):
            raise StudyError(f"{here}: expected an object")
        order = _bounded_int(raw.get("order"), f"{here}: order", 0, len(raw_trials) - 1)
        answer = raw.get("answer")
        if not isinstance(answer, int) or isinstance(answer, bool) or not is_valid_label(answer):
            raise StudyError(f"{here}: answer {_short(answer)} is not 0-9 or -1 (not a digit)")
        response_ms = _bounded_int(raw.get("response_ms"), f"{here}: response_ms", 0, MAX_RESPONSE_MS)
        trials.append(PackTrial(order, answer, response_ms))
    trials.sort(key=lambda trial: trial.order)
    check_orders([trial.order for trial in trials], where)
    texts = _check_texts(data, ("source", "started", "finished"), where)
    return PackAnswers(rater, pack_id, trials, **texts)


def _short(value: object) -> str:
    """``repr(value)``, cut to 40 characters (huge numbers and strings stay one short line)."""
    text = repr(value) if not isinstance(value, int) or abs(value) < 10**40 else f"<{value.bit_length()}-bit integer>"
    return text if len(text) <= 40 else text[:37] + "..."


def check_orders(orders: list[int], where: str) -> None:
    """Trial orders (sorted) must be 0..n-1, each once; a repeated one is named, with the range of the trials
    the file holds (a pack of 4 trials answered with one repeated says 0..3, not 0..4)."""
    if orders == list(range(len(orders))):
        return
    repeated = sorted({order for order in orders if orders.count(order) > 1})
    if repeated:
        distinct = len(set(orders))
        raise StudyError(
            f"{where}: trial order {repeated[0]} is answered {orders.count(repeated[0])} times; "
            f"trial orders must be 0..{distinct - 1}, each once"
        )
    raise StudyError(f"{where}: trial orders must be 0..{len(orders) - 1}, each once")


def _bounded_int(value: object, what: str, low: int, high: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise StudyError(f"{what} must be an integer in {low}..{high}")
    return value


def read_any_answers(path: str | Path) -> AnswersFile | PackAnswers:
    """An answers file of either format: in-app (format 1, :class:`AnswersFile`) or study pack (format 2)."""
    path = Path(path)
    data = read_json(path, "answers file")
    if (
        isinstance(data, dict)
        and data.get("kind") == ANSWERS_KIND
        and data.get("format_version") == PACK_FORMAT_VERSION
    ):
        return parse_pack_answers(data, str(path))
    return parse_answers(data, str(path))
