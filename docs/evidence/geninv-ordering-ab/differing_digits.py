"""The 2033 pack's ℓ0 digits whose first suggestion differs under this checkout's code from the pack's.

Prints {"l0-25": [...], "l0-30": [...]} (JSON) on its last line. Run from the repository root with PYTHONPATH set to
the checkout to compare (make_pack.sh does).
"""

import json
from pathlib import Path

import numpy as np

from core.collection import Collection
from core.data import load_mnist
from core.geninv.api import suggest_batch

PACK = Path("docs/evidence/geninv-budget-2033/pack/organiser")


def main() -> None:
    summary = json.loads((PACK / "summary.json").read_text(encoding="utf-8"))
    images, labels = load_mnist("test")
    differing: dict[str, list[int]] = {}
    for name, eps in (("l0-25", 25.0), ("l0-30", 30.0)):
        shown = {item.source_index: item.image for item in Collection.open(PACK / "collections" / name).items}
        digits = summary["sets"][name]["digits"]
        found = suggest_batch(images[digits].astype(np.float32) / 255, labels[digits], "l0", eps, k=1, device="cpu")
        differing[name] = [
            d for d, best in zip(digits, found, strict=True) if not np.array_equal(best[0].image_u8(), shown[d])
        ]
    print(json.dumps(differing))


if __name__ == "__main__":
    main()
