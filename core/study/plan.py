"""The organiser's plan of a study pack: which collection item, or which clean test digit, each position shows.

A pack ships only its opaque ``pack_id`` and the positions (:mod:`core.study.pack`), so raters cannot tell the
controls from the items or learn the organiser's folders. The plan stays with the organiser, as
``<collection>/study-plans/<pack_id>.json`` in every collection the pack draws from::

    {"format_version": 1, "kind": "invariance-lab.study-plan", "pack_id": "3f0c9a51d2e8b7a4", "seed": 0,
     "created": "<ISO time>", "this_collection": 0,
     "collections": [{"path": "/abs/set.coll", "name": "set.coll"}],
     "trials": [{"order": 0, "collection": 0, "item": "17"}, {"order": 1, "clean": 4242}, ...]}

``this_collection`` says which entry of ``collections`` the copy lives in, so a moved or copied collection is still
recognised. Ingest (:mod:`core.study.ingest`) checks every answers file of the pack against this plan.
"""

from __future__ import annotations

import contextlib
import re
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from core.errors import StudyError
from core.study.answers import MNIST_TEST_SIZE, PACK_ID_RE, TrialRef, now_iso, read_json, write_json_atomic
from core.study.sets import collection_key

PLANS_DIR: Final = "study-plans"
PLAN_KIND: Final = "invariance-lab.study-plan"
PLAN_VERSION: Final = 1
_ITEM_RE: Final = re.compile(r"[^\x00-\x1f/\\]{1,200}")


def new_pack_id() -> str:
    """A fresh opaque pack id: 16 hex digits from the OS's random source (it must not encode the plan)."""
    return secrets.token_hex(8)


def plan_path(collection: str | Path, pack_id: str) -> Path:
    """Where the plan of pack ``pack_id`` is kept inside ``collection``."""
    return Path(collection) / PLANS_DIR / f"{pack_id}.json"


@dataclass(frozen=True)
class StudyPlan:
    """``trials[k]`` is what position ``k`` of pack ``pack_id`` shows (collections by their recorded path)."""

    pack_id: str
    seed: int
    collections: list[str]
    trials: list[TrialRef]
    created: str = ""

    @property
    def n_clean(self) -> int:
        return sum(ref.is_clean for ref in self.trials)

    def to_json(self, this_collection: int) -> dict[str, Any]:
        index = {path: k for k, path in enumerate(self.collections)}
        trials: list[dict[str, Any]] = []
        for order, ref in enumerate(self.trials):
            if ref.collection is None:
                trials.append({"order": order, "clean": ref.clean_index})
            else:
                trials.append({"order": order, "collection": index[ref.collection], "item": ref.item})
        return {
            "format_version": PLAN_VERSION,
            "kind": PLAN_KIND,
            "pack_id": self.pack_id,
            "seed": self.seed,
            "created": self.created,
            "this_collection": this_collection,
            "collections": [{"path": path, "name": Path(path).name} for path in self.collections],
            "trials": trials,
        }


def make_plan(refs: Sequence[TrialRef], *, seed: int, pack_id: str | None = None) -> StudyPlan:
    """The plan of a new pack showing ``refs`` in order (collections keyed by their absolute path)."""
    collections = list(dict.fromkeys(collection_key(ref.collection) for ref in refs if ref.collection is not None))
    trials = [ref if ref.collection is None else TrialRef(collection_key(ref.collection), ref.item) for ref in refs]
    return StudyPlan(pack_id or new_pack_id(), seed, collections, trials, now_iso())


def write_plan_copies(plan: StudyPlan) -> list[Path]:
    """Write the plan into every collection it draws from; returns the files written.

    Never overwrites: an existing plan file of the same id is an error. On any failure the copies already
    written are removed and :class:`StudyError` is raised.
    """
    written: list[Path] = []
    try:
        for k, collection in enumerate(plan.collections):
            path = plan_path(collection, plan.pack_id)
            try:
                path.parent.mkdir(exist_ok=True)
                write_json_atomic(path, plan.to_json(k), overwrite=False)
            except FileExistsError:
                raise StudyError(f"{path}: a plan with this pack id already exists") from None
            except OSError as error:
                raise StudyError(f"cannot write the study plan {path}: {error.strerror or error}") from None
            written.append(path)
    except BaseException:
        remove_plan_copies(written)
        raise
    return written


def remove_plan_copies(paths: Sequence[Path]) -> None:
    """Remove plan files this process wrote (and their ``study-plans`` folder when it is left empty)."""
    for path in paths:
        path.unlink(missing_ok=True)
        with contextlib.suppress(OSError):  # not empty: other plans live there
            path.parent.rmdir()


def read_plan(path: str | Path) -> tuple[StudyPlan, int]:
    """A plan file and the index of the collection it lives in; raises :class:`StudyError` naming ``path``."""
    path = Path(path)
    data = read_json(path, "study plan")
    where = str(path)
    if not isinstance(data, dict) or data.get("kind") != PLAN_KIND or data.get("format_version") != PLAN_VERSION:
        raise StudyError(f"{where}: not a version-{PLAN_VERSION} study plan")
    pack_id, seed = data.get("pack_id"), data.get("seed")
    if not isinstance(pack_id, str) or not PACK_ID_RE.fullmatch(pack_id):
        raise StudyError(f"{where}: pack_id must be 16 hex digits")
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise StudyError(f"{where}: seed must be a non-negative integer")
    raw_collections = data.get("collections")
    if not isinstance(raw_collections, list) or not raw_collections:
        raise StudyError(f"{where}: collections must be a non-empty list")
    collections = []
    for entry in raw_collections:
        recorded = entry.get("path") if isinstance(entry, dict) else None
        if not isinstance(recorded, str) or not recorded:
            raise StudyError(f"{where}: each collection needs a path")
        collections.append(recorded)
    this = data.get("this_collection")
    if not isinstance(this, int) or isinstance(this, bool) or not 0 <= this < len(collections):
        raise StudyError(f"{where}: this_collection must index collections")
    raw_trials = data.get("trials")
    if not isinstance(raw_trials, list) or not raw_trials:
        raise StudyError(f"{where}: trials must be a non-empty list")
    trials = [_parse_trial(raw, order, collections, f"{where}: trial {order}") for order, raw in enumerate(raw_trials)]
    created = data.get("created", "")
    plan = StudyPlan(pack_id, seed, collections, trials, created if isinstance(created, str) else "")
    if plan.n_clean == 0:
        raise StudyError(f"{where}: the plan has no control digits")
    return plan, this


def _parse_trial(raw: object, order: int, collections: Sequence[str], where: str) -> TrialRef:
    if not isinstance(raw, dict) or raw.get("order") != order:
        raise StudyError(f"{where}: expected an object with order {order}")
    if "clean" in raw:
        index = raw["clean"]
        if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index < MNIST_TEST_SIZE:
            raise StudyError(f"{where}: clean must be a test index 0..{MNIST_TEST_SIZE - 1}")
        return TrialRef.clean(index)
    collection, item = raw.get("collection"), raw.get("item")
    if not isinstance(collection, int) or isinstance(collection, bool) or not 0 <= collection < len(collections):
        raise StudyError(f"{where}: collection must index the plan's collections")
    if not isinstance(item, str) or not _ITEM_RE.fullmatch(item):
        raise StudyError(f"{where}: item must be an item id")
    return TrialRef(collections[collection], item)


def find_plan(pack_id: str, folders: Sequence[str | Path]) -> tuple[StudyPlan, dict[str, str]]:
    """The plan of ``pack_id`` and where each of its collections is now: recorded path -> folder to write.

    ``folders`` are the collections named on the command line (``--collection``). A folder holding a copy of the
    plan is the collection that copy says it is; any other folder stands for the plan's collection with the same
    folder name; a collection not given is looked for at its recorded path. Raises :class:`StudyError` when
    the plan or one of its collections cannot be found.
    """
    found: dict[int, str] = {}
    plan: StudyPlan | None = None
    for folder in folders:
        path = plan_path(folder, pack_id)
        if path.is_file():
            copy, this = read_plan(path)
            plan = plan or copy
            if copy.trials != plan.trials or copy.collections != plan.collections:
                raise StudyError(f"{path}: differs from the other copies of the plan of pack {pack_id}")
            found[this] = collection_key(folder)
    if plan is None:
        given = ", ".join(str(f) for f in folders) or "none given"
        raise StudyError(
            f"no plan of study pack {pack_id} in the collections given ({given}); pass the collections the pack "
            f"was made from with --collection (their {PLANS_DIR}/ folder holds the plan)"
        )
    by_name = {Path(folder).name: collection_key(folder) for folder in folders}
    where: dict[str, str] = {}
    for k, recorded in enumerate(plan.collections):
        if k in found:
            where[recorded] = found[k]
        elif Path(recorded).name in by_name:
            where[recorded] = by_name[Path(recorded).name]
        elif plan_path(recorded, pack_id).is_file():
            where[recorded] = collection_key(recorded)
        else:
            raise StudyError(f"collection {recorded} of study pack {pack_id} not found; pass it with --collection")
    return plan, where


def resolve_moved(recorded: str, known: Mapping[str, str]) -> str:
    """Where a collection recorded as ``recorded`` is now: the ``--collection`` folder of the same name when one
    was given (even if the recorded folder still exists), else the recorded folder; raises :class:`StudyError`."""
    name = Path(recorded).name
    if name in known:
        return known[name]
    if Path(recorded).is_dir():
        return collection_key(recorded)
    raise StudyError(f"collection {recorded} not found; pass its new location with --collection")
