"""The portable study pack: a folder a rater opens in any browser, offline.

Layout of ``DIR``::

    index.html          the static page (``core/study_page.html``; plain JS, no network)
    study.js            ``window.INVARIANCE_STUDY = {...}``: the shown order, item refs, instructions
    study.json          the same object, for tools
    instructions.txt    what the rater is asked to do (also shown by the page)
    images/0000.png ... one 28x28 8-bit gray PNG per shown position (names reveal nothing about the item)

The page shows the images in order at a fixed size, takes keys 0-9 and N/X (not a digit), records response
times, keeps progress in the browser's local storage (reload resumes) and offers the answers file, in the
same format as the app's (:mod:`core.study.answers`), as a download.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import Any, Final

import numpy as np

from core.errors import StudyError
from core.study.answers import FORMAT_VERSION, write_bytes_atomic, write_text_atomic
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
    return resources.files("core").joinpath("study_page.html").read_text(encoding="utf-8")


def encode_gray_png(image: np.ndarray) -> bytes:
    """PNG bytes of a float32 (28, 28) image in [0, 1] (rounded to uint8 k/255)."""
    from core.collection.png import encode_png

    return encode_png(np.clip(np.rint(np.asarray(image, dtype=np.float64) * 255.0), 0, 255).astype(np.uint8))


def write_pack(
    items: Sequence[StudyItem], out: str | Path, *, seed: int = 0, instructions: str = DEFAULT_INSTRUCTIONS
) -> Path:
    """Write a study pack for ``items`` (plus as many clean test digits) into the new folder ``out``.

    Refuses (:class:`StudyError`) when ``out`` exists and is not empty. The folder is assembled next to ``out``
    and renamed into place, so a failed run leaves nothing half-written. Returns ``out``.
    """
    out = Path(out).expanduser().resolve()
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise StudyError(f"study pack folder {out} already exists and is not empty; choose a new --out")
    refs = plan_trials(items, seed=seed)
    images = StudyImages(items)
    pack_id = hashlib.sha256(json.dumps([seed, [[r.collection, r.item] for r in refs]]).encode("utf-8")).hexdigest()[
        :16
    ]
    trials: list[dict[str, Any]] = []
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    staging.chmod(0o755)
    try:
        for order, ref in enumerate(refs):
            name = f"images/{order:04d}.png"
            write_bytes_atomic(staging / name, encode_gray_png(images.image(ref)))
            trials.append({"order": order, "collection": ref.collection, "item": ref.item, "image": name})
        study = {
            "format_version": FORMAT_VERSION,
            "kind": PACK_KIND,
            "pack_id": pack_id,
            "seed": seed,
            "instructions": instructions,
            "trials": trials,
        }
        write_text_atomic(staging / "study.json", json.dumps(study, indent=1) + "\n")
        write_text_atomic(staging / "study.js", f"window.INVARIANCE_STUDY = {json.dumps(study)};\n")
        write_text_atomic(staging / "index.html", page_html())
        write_text_atomic(staging / "instructions.txt", instructions.rstrip() + "\n")
        if out.exists():
            out.rmdir()  # empty, checked above
        os.rename(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    log.info("wrote study pack %s (%d images)", out, len(refs))
    return out
