"""The answers file: one rater's labels for one study session, written by the app and by the study pack.

Format (JSON, ``format_version`` 1)::

    {"format_version": 1, "kind": "invariance-lab.answers", "rater": "ada", "seed": 0,
     "source": "app" | "pack", "started": "<ISO time>", "finished": "<ISO time>",
     "trials": [{"order": 0, "collection": "/abs/set.coll", "item": "17", "answer": 3, "response_ms": 812},
                {"order": 1, "collection": null, "item": "clean:4242", "answer": -1, "response_ms": 640}, ...]}

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
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

from core.errors import StudyError
from core.files import atomic_write_bytes
from core.labels import is_valid_label

FORMAT_VERSION: Final = 1
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


@dataclass
class AnswersFile:
    """A parsed answers (or session state) file; ``trials`` are sorted by ``order``."""

    rater: str
    seed: int
    trials: list[Trial]
    source: str = "app"
    started: str = ""
    finished: str = ""
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
    if not isinstance(rater, str) or not rater.strip():
        raise StudyError(f"{where}: rater must be a non-empty string")
    return rater.strip()


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
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise StudyError(f"{where}: seed must be an integer")
    raw_trials = data.get("trials")
    if not isinstance(raw_trials, list) or not raw_trials:
        raise StudyError(f"{where}: trials must be a non-empty list")
    partial = kind == SESSION_KIND
    trials = [_parse_trial(raw, f"{where}: trial {number}", partial) for number, raw in enumerate(raw_trials)]
    trials.sort(key=lambda trial: trial.order)
    if [trial.order for trial in trials] != list(range(len(trials))):
        raise StudyError(f"{where}: trial orders must be 0..{len(trials) - 1}, each once")
    texts = {name: data.get(name, "") for name in ("source", "started", "finished", "instructions")}
    for name, value in texts.items():
        if not isinstance(value, str):
            raise StudyError(f"{where}: {name} must be a string")
    return AnswersFile(rater, seed, trials, kind=kind, **texts)


def _parse_trial(raw: object, where: str, partial: bool) -> Trial:
    if not isinstance(raw, dict):
        raise StudyError(f"{where}: expected an object")
    order, collection, item = raw.get("order"), raw.get("collection"), raw.get("item")
    answer, response_ms = raw.get("answer"), raw.get("response_ms")
    if not isinstance(order, int) or isinstance(order, bool):
        raise StudyError(f"{where}: order must be an integer")
    if not isinstance(item, str) or not item:
        raise StudyError(f"{where}: item must be a non-empty string")
    if collection is None:
        index = item[len(CLEAN_PREFIX) :]
        if not item.startswith(CLEAN_PREFIX) or not index.isdigit() or not 0 <= int(index) < MNIST_TEST_SIZE:
            raise StudyError(f"{where}: item {item!r} without a collection must be clean:<test index 0-9999>")
    elif not isinstance(collection, str) or not collection:
        raise StudyError(f"{where}: collection must be a path or null")
    if answer is None and response_ms is None and partial:
        return Trial(order, TrialRef(collection, item))
    if not isinstance(answer, int) or isinstance(answer, bool) or not is_valid_label(answer):
        raise StudyError(f"{where}: answer {answer!r} is not 0-9 or -1 (not a digit)")
    if not isinstance(response_ms, int) or isinstance(response_ms, bool) or response_ms < 0:
        raise StudyError(f"{where}: response_ms {response_ms!r} must be a non-negative integer")
    return Trial(order, TrialRef(collection, item), answer, response_ms)


def read_answers(path: str | Path, *, kind: str = ANSWERS_KIND) -> AnswersFile:
    """Read and validate one answers file; raises :class:`StudyError` with a one-line message."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise StudyError(f"{path}: no such answers file") from None
    except (OSError, UnicodeDecodeError) as error:
        raise StudyError(f"{path}: cannot read ({error})") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise StudyError(f"{path}: not valid JSON ({error.msg} at line {error.lineno})") from None
    return parse_answers(data, str(path), kind=kind)
