"""The held-out digits whose first ℓ0 suggestion changes with the pair prior (``core.geninv.pairs``): this checkout's
suggestion (k=1) against the image its pack's raters saw for the shipped code. ℓ0 30: the 220 digits of the 2037-2039
packs (as swapped in by ``../geninv-widen3-heldout/``); ℓ0 25: the 290 digits of the 2034, 2035 (b), 2036, 2037 (a)
and 2039 (a) packs. Every other digit's suggestion is checked to be the rated image, byte for byte (exit 1 if not).
Prints {"digits": [...], "l0-25": [...], "l0-30": [...]} (JSON) on its last line. Run from the repository root.
"""

import json
import sys
from pathlib import Path

import numpy as np

from core.data import load_mnist
from core.geninv import suggest_batch
from core.geninv.calibration import read_mapping_file

E = Path("docs/evidence")
W3 = E / "geninv-widen3-heldout"
RATED = {
    "l0-30": ((E / "geninv-budget-2037/pack-l0", "b30"), (E / "geninv-budget-2038/pack-l0", "b30"),
              (E / "geninv-budget-2039/pack-l0", "a30")),
    "l0-25": ((E / "geninv-budget-2034/pack", "l0-25"), (E / "geninv-budget-2035/pack-l0", "b25"),
              (E / "geninv-budget-2036/pack", "l0-25"), (E / "geninv-budget-2037/pack-l0", "a25"),
              (E / "geninv-budget-2039/pack-l0", "a25")),
}  # fmt: skip


def rated_images(pack: Path, group: str) -> dict[int, np.ndarray]:
    """Source digit -> the image rated in ``group`` of ``pack``."""
    stored = np.load(pack / "organiser/rated-images.npz")
    images = dict(zip(stored["trials"].tolist(), stored["images"], strict=True))
    mapping = read_mapping_file(pack / "organiser/mapping.json")
    return {int(e["source_index"]): images[int(e["trial"])] for e in mapping if e["group"] == group}


def main() -> None:
    images, labels = load_mnist("test")
    found: dict[str, list[int]] = {}
    for name, packs in RATED.items():
        shown: dict[int, np.ndarray] = {}
        for pack, group in packs:
            shown |= rated_images(pack, group)
        if name == "l0-30":  # the 37 digits the widen3 re-rating swapped in: their new images
            shown |= rated_images(W3 / "pack-l0", "b30")
        if not shown:
            sys.exit(f"{name}: no rated images found")
        digits = sorted(shown)
        eps = float(name.split("-")[1])
        now = suggest_batch(images[digits].astype(np.float32) / 255, labels[digits], "l0", eps, k=1, device="cpu")
        found[name] = [d for d, s in zip(digits, now, strict=True) if not np.array_equal(s[0].image_u8(), shown[d])]
        print(f"{name}: {len(found[name])} of {len(digits)} digits change", file=sys.stderr)
    found["digits"] = sorted({d for v in found.values() for d in v})
    print(json.dumps({"digits": found["digits"], "l0-25": found["l0-25"], "l0-30": found["l0-30"]}))


if __name__ == "__main__":
    main()
