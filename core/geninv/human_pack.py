"""Blind human packs for GenInv: suggestions for test digits, mixed with unchanged controls, no labels shown.

``build_human_pack(out, sets, seed, digit_range)`` writes::

    OUT/pack/          the study module's browser pack (core.study.pack.write_pack): suggestions + as many
                       unchanged test digits (controls), shuffled with the seed
    OUT/rater-view/    trial_001.png ... (each trial x10, nearest, 280x280, white on black, in the pack's
                       order) and answers-template.json (trial numbers, empty answers): nothing else
    OUT/organiser/     mapping.json (trial -> group, collection, item, source/target label, p_human, raw
                       score, control), summary.json (counts per set, "no suggestion within budget"),
                       collections/<group>/ (the suggestions, one collection per set)

Digits are drawn without replacement from the test indices in ``digit_range`` (default 5000-9999, held out
from tuning), disjoint across sets, with the seed: :func:`choose_digits`. A set may also be an existing
collection (e.g. suggestions of an older GenInv for the same digits), added under its own group name.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import numpy as np

from core.errors import InvarianceError
from core.files import atomic_write_bytes, atomic_write_text
from core.geninv.bank import CandidateBank
from core.geninv.judge import Judge
from core.geninv.norms import SEARCHES
from core.images import to_uint8

log = logging.getLogger(__name__)

HELD_OUT: Final = (5000, 10_000)
UPSCALE: Final = 10
CLEAN_PREFIX: Final = "clean:"


@dataclass(frozen=True)
class SetSpec:
    """One set of a pack: ``count`` new suggestions for ``norm``/``eps`` under the name ``group``."""

    group: str
    norm: str
    eps: float | None
    count: int


def parse_sets(text: str) -> list[SetSpec]:
    """'l0:40,l0@none:10,linf@0.4:20' -> SetSpecs (group names l0-25, l0-none, linf-0.4): l0 without @ uses the
    default budget (25 pixels), l0@none none."""
    specs: list[SetSpec] = []
    for part in text.split(","):
        if not part.strip():
            continue
        try:
            head, count_text = part.strip().rsplit(":", 1)
            norm, _, eps_text = head.partition("@")
            count = int(count_text)
            eps = None if eps_text == "none" else float(eps_text) if eps_text else None
        except ValueError:
            raise InvarianceError(f"--sets entry {part!r} must look like l0:40 or linf@0.4:20") from None
        search = SEARCHES.get(norm)
        if search is None or count < 1 or (search.eps_required and eps is None):
            raise InvarianceError(f"--sets entry {part!r}: norm l0|linf, linf needs @eps, count >= 1")
        if not eps_text:
            eps = search.default_eps  # l0: the paper's 25 pixels; l0@none: no budget
        if eps is not None:
            search.check_eps(eps)
        specs.append(SetSpec(norm + (f"-{eps:g}" if eps is not None else "-none"), norm, eps, count))
    if not specs:
        raise InvarianceError("--sets is empty")
    if len({spec.group for spec in specs}) != len(specs):
        raise InvarianceError(f"--sets names a set twice: {text!r}")
    return specs


def parse_range(text: str) -> tuple[int, int]:
    """'5000:10000' -> (5000, 10000) within 0..10000."""
    try:
        low, high = (int(v) for v in text.split(":"))
    except ValueError:
        raise InvarianceError(f"--digits must look like 5000:10000, got {text!r}") from None
    if not 0 <= low < high <= 10_000:
        raise InvarianceError(f"--digits {text!r} must satisfy 0 <= low < high <= 10000")
    return low, high


def choose_digits(
    specs: Sequence[SetSpec],
    seed: int,
    digit_range: tuple[int, int] = HELD_OUT,
    exclude: Collection[int] = (),
) -> dict[str, list[int]]:
    """Disjoint random test indices per set (in set order), drawn with ``seed`` from ``digit_range`` minus
    ``exclude`` (e.g. every digit an earlier figure or pack used: :func:`read_exclusions`)."""
    low, high = digit_range
    available = np.setdiff1d(np.arange(low, high), np.fromiter((int(i) for i in exclude), dtype=np.int64))
    needed = sum(spec.count for spec in specs)
    if needed > available.size:
        raise InvarianceError(
            f"the sets need {needed} digits but the range {low}:{high} has {available.size} (after exclusions)"
        )
    order = np.random.default_rng(seed).permutation(available)
    chosen: dict[str, list[int]] = {}
    start = 0
    for spec in specs:
        chosen[spec.group] = sorted(int(i) for i in order[start : start + spec.count])
        start += spec.count
    return chosen


def read_exclusions(path: str | Path) -> list[int]:
    """Test indices to leave out of a pack: a JSON list of indices, or an object with an ``"indices"`` list."""
    where = Path(path)
    try:
        data = json.loads(where.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise InvarianceError(f"{where}: cannot read the excluded test indices ({error})") from None
    values = data.get("indices") if isinstance(data, dict) else data
    if not isinstance(values, list) or not all(isinstance(v, int) and 0 <= v < 10_000 for v in values):
        raise InvarianceError(f'{where}: expected a list of test indices 0-9999 (or {{"indices": [...]}})')
    return [int(v) for v in values]


def build_human_pack(
    out: str | Path,
    specs: Sequence[SetSpec],
    *,
    seed: int,
    digit_range: tuple[int, int] = HELD_OUT,
    extra_collections: Mapping[str, str | Path] | None = None,
    device: str | None = None,
    progress: Callable[[int, int], None] | None = None,
    bank: CandidateBank | None = None,
    judge: Judge | None = None,
    exclude: Collection[int] = (),
) -> dict[str, Any]:
    """Generate the sets' suggestions, write the pack, the rater view and the organiser's files; -> summary.

    ``bank``/``judge`` default to the full candidate bank and the trained judge (tests pass small ones).
    ``exclude``: test indices never drawn (:func:`choose_digits`).
    """
    from core.collection import Collection
    from core.data import load_mnist
    from core.device import resolve_device
    from core.geninv import default_bank, load_judge, suggest_batch
    from core.geninv.store import add_suggestions
    from core.images import to_float

    out = Path(out).expanduser().resolve()
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise InvarianceError(f"human pack folder {out} already exists and is not empty; choose a new one")
    extras = {name: Path(path).expanduser().resolve() for name, path in (extra_collections or {}).items()}
    for name, path in extras.items():
        if not (path / "manifest.json").exists():
            raise InvarianceError(f"--add-collection {name}: {path} is not a collection")
        if any(name == spec.group for spec in specs):
            raise InvarianceError(f"--add-collection {name}: the name is already a generated set")
    digits = choose_digits(specs, seed, digit_range, exclude)
    chosen_device = resolve_device(device)
    images, labels = load_mnist("test")
    bank = bank or default_bank(chosen_device)
    judge = judge or load_judge(chosen_device)
    organiser = out / "organiser"
    collections: dict[str, Path] = {}
    summary: dict[str, Any] = {
        "seed": seed,
        "digit_range": list(digit_range),
        "excluded_in_range": int(sum(digit_range[0] <= int(i) < digit_range[1] for i in set(exclude))),
        "sets": {},
    }
    for spec in specs:
        indices = np.array(digits[spec.group], dtype=np.int64)
        results = suggest_batch(
            to_float(images[indices]), labels[indices], spec.norm, spec.eps, k=1, seed=seed, bank=bank, judge=judge,
            progress=progress,
        )  # fmt: skip
        best = [found[0] if found else None for found in results]
        path = organiser / "collections" / spec.group
        collection, _ = Collection.open_or_create(path)
        with collection:
            add_suggestions(collection, best, indices, spec.norm, spec.eps)
        collections[spec.group] = path
        summary["sets"][spec.group] = {
            "norm": spec.norm,
            "eps": spec.eps,
            "digits": [int(i) for i in indices],
            "suggestions": sum(s is not None for s in best),
            "no_suggestion_within_budget": [int(i) for i, s in zip(indices, best, strict=True) if s is None],
            "mean_l0_binary": _mean([s.distortion["l0_binary"] for s in best if s is not None]),
            "mean_l0": _mean([s.distortion["l0"] for s in best if s is not None]),
            "target_reached_by_judge": sum(s is not None and s.extras.get("target_reached", 1.0) > 0 for s in best),
            "mean_p_human": _mean([s.p_human for s in best if s is not None]),
        }
    for name, path in extras.items():
        collections[name] = path
        summary["sets"][name] = {"collection": str(path), "suggestions": _count_items(path)}
    mapping = write_pack_and_views(out, collections, seed=seed, test_labels=labels)
    summary["trials"] = len(mapping)
    summary["controls"] = sum(entry["control"] for entry in mapping)
    atomic_write_text(organiser / "summary.json", json.dumps(summary, indent=2) + "\n")
    return summary


def _mean(values: Sequence[float]) -> float | None:
    return float(np.mean(values)) if values else None


def _count_items(path: Path) -> int:
    from core.collection import Collection

    with Collection.open(path, read_only=True) as collection:
        return len(collection)


def write_pack_and_views(
    out: Path, collections: Mapping[str, Path], *, seed: int, test_labels: np.ndarray
) -> list[dict[str, Any]]:
    """The study pack of every item of ``collections`` (+ controls), the rater view and organiser/mapping.json."""
    from core.collection import Collection
    from core.study import load_items, write_pack

    items = [item for path in collections.values() for item in load_items(path)]
    pack = write_pack(items, out / "pack", seed=seed)
    group_of = {str(path.resolve()): name for name, path in collections.items()}
    extra_of: dict[tuple[str, str], Mapping[str, Any]] = {}
    for path in collections.values():
        with Collection.open(path, read_only=True) as collection:
            for stored in collection.items:
                extra_of[(str(path.resolve()), stored.id)] = stored.extra
    by_key = {(item.collection, item.item_id): item for item in items}
    mapping: list[dict[str, Any]] = []
    shown: list[np.ndarray] = []
    for order, (collection_key, item_id, image) in enumerate(pack_trials(pack, list(collections.values()))):
        shown.append(image)
        trial = order + 1
        if collection_key is None:
            index = int(item_id[len(CLEAN_PREFIX) :])  # a control: an unchanged test digit
            mapping.append(
                {"trial": trial, "group": "control", "control": True, "collection": None, "item": item_id,
                 "source_index": index, "source_label": int(test_labels[index]), "target_label": None,
                 "norm": None, "eps": None, "p_human": None, "raw_score": None, "aligned_cost": None}
            )  # fmt: skip
            continue
        item = by_key[(collection_key, item_id)]
        extra = extra_of.get((collection_key, item_id), {})
        mapping.append(
            {"trial": trial, "group": group_of.get(collection_key, collection_key), "control": False,
             "collection": collection_key, "item": item_id, "source_index": item.source_index,
             "source_label": item.original_label, "target_label": item.intended_label, "norm": item.norm,
             "eps": item.eps, "p_human": extra.get("p_human"), "raw_score": extra.get("raw_score"),
             "aligned_cost": extra.get("aligned_cost")}
        )  # fmt: skip
    write_rater_view(out / "rater-view", shown)
    organiser = out / "organiser"
    organiser.mkdir(parents=True, exist_ok=True)
    document = {"kind": "invariance-lab.geninv-human-pack-mapping", "seed": seed, "pack": str(pack), "trials": mapping}
    atomic_write_text(organiser / "mapping.json", json.dumps(document, indent=1) + "\n")
    return mapping


def pack_trials(pack: Path, collections: Sequence[Path]) -> list[tuple[str | None, str, np.ndarray]]:
    """(collection or None for a control, item id or ``clean:<index>``, image) per trial, in the pack's order.

    The pack itself names no item (only its opaque ``pack_id`` and the images by position); what each position
    shows comes from the organiser's plan kept in the collections (:func:`core.study.pack.pack_plan`).
    """
    from core.collection.png import decode_png
    from core.study.pack import pack_plan

    study = json.loads((pack / "study.json").read_text(encoding="utf-8"))
    trials = sorted(study["trials"], key=lambda t: int(t["order"]))
    plan = pack_plan(pack, list(collections))
    if len(plan.trials) != len(trials):
        raise InvarianceError(f"{pack}: the plan lists {len(plan.trials)} positions, the pack {len(trials)}")
    return [
        (ref.collection, ref.item, decode_png((pack / t["image"]).read_bytes()))
        for t, ref in zip(trials, plan.trials, strict=True)
    ]


def write_rater_view(folder: Path, images: Sequence[np.ndarray]) -> None:
    """trial_001.png ... (x10 nearest, no metadata), sheets/sheet_01.png ... (5 x 4 trials each, numbered:
    :mod:`core.geninv.sheets`) and answers-template.json; nothing else."""
    from core.collection.png import encode_png
    from core.geninv.sheets import write_contact_sheets

    if folder.exists() and any(folder.iterdir()):
        raise InvarianceError(f"{folder} already exists and is not empty")
    folder.mkdir(parents=True, exist_ok=True)
    width = max(3, len(str(len(images))))
    for number, image in enumerate(images, start=1):
        big = np.repeat(np.repeat(to_uint8(image), UPSCALE, axis=0), UPSCALE, axis=1)
        atomic_write_bytes(folder / f"trial_{number:0{width}d}.png", encode_png(np.ascontiguousarray(big)))
    write_contact_sheets(folder / "sheets", images)
    template = {
        "instructions": "For each trial image, write the digit you see (0-9), or N if it shows no digit. "
        "Answer with your first impression. Put your name or initials in 'rater'.",
        "rater": "",
        "answers": [{"trial": number, "answer": ""} for number in range(1, len(images) + 1)],
    }
    atomic_write_text(folder / "answers-template.json", json.dumps(template, indent=1) + "\n")


def per_digit_rates(
    summary_path: str | Path, rates: Mapping[str, Mapping[str, float | int]], raters: int
) -> dict[str, dict[str, float | int]]:
    """Target seen per digit *asked for*: each set's per-suggestion success rate (``rates``, from
    :func:`core.geninv.calibration.success_rates`) times the share of its digits that got a suggestion (a digit
    without one is a failure), from the pack's ``organiser/summary.json``; sets without digits are left out."""
    where = Path(summary_path)
    try:
        summary = json.loads(where.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise InvarianceError(f"{where}: cannot read the pack summary ({error})") from None
    out: dict[str, dict[str, float | int]] = {}
    for group, info in summary.get("sets", {}).items():
        digits = len(info.get("digits") or [])
        if not digits or group not in rates or raters < 1:
            continue
        suggestions = int(info["suggestions"])
        out[group] = {
            "digits": digits,
            "no_suggestion": digits - suggestions,
            "per_digit_rate": float(rates[group]["success_rate"]) * suggestions / digits,
        }
    return out


def rater_view_answers_to_pack(template: str | Path, pack: str | Path) -> dict[str, Any]:
    """A filled-in rater-view template as a study-pack answers object (format 2), for ``invariance study ingest``.

    Every trial must be answered (0-9, or N/X/-1 for "not a digit"). The rater view records no response times,
    so ``response_ms`` is 0 and ``source`` says ``"rater-view"``. Write the result with ``json.dump``.
    """
    from core.geninv.calibration import read_rater_answers
    from core.study.pack import pack_id_of

    rater, answers = read_rater_answers(template)
    study = json.loads((Path(pack) / "study.json").read_text(encoding="utf-8"))
    count = len(study["trials"])
    missing = [trial for trial in range(1, count + 1) if trial not in answers]
    if missing or len(answers) != count:
        raise InvarianceError(f"{template}: {len(missing)} of {count} trials unanswered (first: {missing[:3]})")
    return {
        "format_version": 2,
        "kind": "invariance-lab.answers",
        "pack_id": pack_id_of(pack),
        "rater": rater,
        "source": "rater-view",
        "started": "",
        "finished": "",
        "trials": [{"order": trial - 1, "answer": answers[trial], "response_ms": 0} for trial in range(1, count + 1)],
    }


__all__ = [
    "HELD_OUT",
    "SetSpec",
    "build_human_pack",
    "choose_digits",
    "pack_trials",
    "parse_range",
    "parse_sets",
    "per_digit_rates",
    "rater_view_answers_to_pack",
    "read_exclusions",
    "write_pack_and_views",
    "write_rater_view",
]
