"""The portable study pack: a folder a rater opens in any browser, offline.

Layout of ``DIR``::

    index.html          the static page (``core/study/page.html``; plain JS, no network)
    study.js            ``window.INVARIANCE_STUDY = {...}``: the opaque ``pack_id``, instructions and the image of
                        each position, nothing else (no paths, item ids, seed or control markers)
    study.json          the same object, for tools
    instructions.txt    what the rater is asked to do (also shown by the page)
    images/0000.png ... one 28x28 8-bit gray PNG per shown position (names reveal nothing about the item)

The page shows the images in order at a fixed size, takes keys 0-9 and N/X (not a digit), records response
times, keeps progress in the browser's local storage (reload resumes) and offers the answers file, in the
pack's answers format (format 2 of :mod:`core.study.answers`: ``pack_id`` and answers by position), as a
download. The organiser's plan (:mod:`core.study.plan`) says what each position showed.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import Final

import numpy as np

from core.errors import StudyError
from core.images import to_uint8
from core.study.answers import PACK_FORMAT_VERSION, PACK_ID_RE, read_json, write_bytes_atomic, write_text_atomic
from core.study.plan import StudyPlan, find_plan, make_plan, remove_plan_copies, write_plan_copies
from core.study.session import StudyImages, plan_trials
from core.study.sets import StudyItem

log = logging.getLogger(__name__)

DEFAULT_INSTRUCTIONS: Final = (
    "You will see small images of handwritten digits, one at a time.\n"
    "For each image, press the key of the digit you see (0-9).\n"
    "If the image does not show any digit, press N.\n"
    "Answer with your first impression; the next image appears immediately.\n"
    "You can pause with P. When you are done, download the answers file and send it back."
)
PACK_KIND: Final = "invariance-lab.study-pack"


def page_html() -> str:
    """The static study page shipped with the package."""
    return resources.files("core.study").joinpath("page.html").read_text(encoding="utf-8")


def encode_gray_png(image: np.ndarray) -> bytes:
    """PNG bytes of a float32 (28, 28) image in [0, 1] (rounded to uint8 k/255)."""
    from core.collection.png import encode_png

    return encode_png(to_uint8(image))


def write_pack(
    items: Sequence[StudyItem], out: str | Path, *, seed: int = 0, instructions: str = DEFAULT_INSTRUCTIONS
) -> Path:
    """Write a study pack for ``items`` (plus as many clean test digits) into the new folder ``out``.

    The pack holds only an opaque ``pack_id`` and the images by position; the plan mapping each position to its
    item or control digit is written into every collection the items come from (:mod:`core.study.plan`;
    :func:`pack_plan` reads it back). Refuses (:class:`StudyError`) when ``out`` exists and is not empty, or
    ``seed`` is negative. The folder is assembled next to ``out`` and renamed into place, and the plan copies are
    removed again if that fails, so a failed run leaves nothing half-written. Returns ``out``.
    """
    out = Path(out).expanduser().resolve()
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise StudyError(f"study pack folder {out} already exists and is not empty; choose a new --out")
    refs = plan_trials(items, seed=seed)
    images = StudyImages(items)
    plan = make_plan(refs, seed=seed)
    shown = [{"order": order, "image": f"images/{order:04d}.png"} for order in range(len(refs))]
    study = {
        "format_version": PACK_FORMAT_VERSION,
        "kind": PACK_KIND,
        "pack_id": plan.pack_id,
        "instructions": instructions,
        "trials": shown,
    }
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    except OSError as error:
        raise StudyError(f"cannot create the study pack folder {out}: {error.strerror or error}") from None
    staging.chmod(0o755)
    plan_files: list[Path] = []
    try:
        for trial, ref in zip(shown, refs, strict=True):
            write_bytes_atomic(staging / str(trial["image"]), encode_gray_png(images.image(ref)))
        write_text_atomic(staging / "study.json", json.dumps(study, indent=1) + "\n")
        write_text_atomic(staging / "study.js", f"window.INVARIANCE_STUDY = {json.dumps(study)};\n")
        write_text_atomic(staging / "index.html", page_html())
        write_text_atomic(staging / "instructions.txt", instructions.rstrip() + "\n")
        plan_files = write_plan_copies(plan)
        if out.exists():
            out.rmdir()  # empty, checked above
        os.rename(staging, out)
    except BaseException as error:
        shutil.rmtree(staging, ignore_errors=True)
        remove_plan_copies(plan_files)
        if isinstance(error, OSError):
            raise StudyError(f"cannot write the study pack {out}: {error.strerror or error}") from None
        raise
    log.info("wrote study pack %s (%d images, pack id %s, plan in %s)", out, len(refs), plan.pack_id, plan_files)
    return out


def pack_id_of(pack: str | Path) -> str:
    """The ``pack_id`` of the study pack folder ``pack`` (from its ``study.json``)."""
    path = Path(pack) / "study.json"
    data = read_json(path, "study pack description")
    pack_id = data.get("pack_id") if isinstance(data, dict) else None
    if not isinstance(pack_id, str) or not PACK_ID_RE.fullmatch(pack_id):
        raise StudyError(f"{path}: not a study pack description (no pack_id)")
    return pack_id


def pack_plan(pack: str | Path, collections: Sequence[str | Path]) -> StudyPlan:
    """The organiser's plan of the study pack folder ``pack``, found in ``collections`` (see :func:`find_plan`)."""
    return find_plan(pack_id_of(pack), collections)[0]
