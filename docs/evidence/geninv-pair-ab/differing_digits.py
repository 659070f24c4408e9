"""Fresh tuning digits whose first ℓ0 suggestion changes with the pair prior (``core.geninv.pairs``), at 25 and 30
pixels. Draws 240 tuning digits (MNIST test 2500-4999 minus every index an earlier pack, A/B or benchmark used, the
64 digits of the widen3 A/B's first tries and its 240 digits; the prior's fit rated none of them) with numpy seed 48.
A digit changes when its first suggestion by raw score plus prior is not its first by raw score alone (one search,
k = 16: both orders of the same candidates). Prints {"digits": [...], "l0-25": [...], "l0-30": [...]} (JSON) on its
last line. Run from the repository root.
"""

import json
import sys
from pathlib import Path

import numpy as np

from core.data import load_mnist
from core.geninv import suggest_batch

EVIDENCE = Path("docs/evidence")
sys.path.insert(0, str(EVIDENCE / "geninv-judge-view"))
from differing_digits import used_tuning_digits  # noqa: E402


def fresh_tuning_digits(count: int, seed: int) -> list[int]:
    used = used_tuning_digits()
    for ab in ("geninv-judge-view", "geninv-widen-ab", "geninv-removal-ab"):
        used |= set(json.loads((EVIDENCE / ab / "differing-digits.json").read_text(encoding="utf-8"))["digits"])
    free = [i for i in range(2500, 5000) if i not in used]
    used |= set(np.random.default_rng(41).choice(free, 64, replace=False).tolist())
    for path in [*EVIDENCE.glob("*/used-indices.json"), *EVIDENCE.glob("*/differing-digits.json")]:
        data = json.loads(path.read_text(encoding="utf-8"))
        for value in data.values() if isinstance(data, dict) else [data]:
            if isinstance(value, list):
                used |= {int(v) for v in value}
    pool = [i for i in range(2500, 5000) if i not in used]
    return sorted(np.random.default_rng(seed).choice(pool, count, replace=False).tolist())


def main() -> None:
    digits = fresh_tuning_digits(240, 48)
    images, labels = load_mnist("test")
    found: dict[str, list[int]] = {"digits": digits}
    for eps in (25, 30):
        results = suggest_batch(images[digits].astype(np.float32) / 255, labels[digits], "l0", eps, k=16, device="cpu")
        found[f"l0-{eps}"] = [
            d
            for d, row in zip(digits, results, strict=True)
            if row and row[0] is not min(row, key=lambda s: (-s.raw_score, s.distortion["l0_binary"]))
        ]
        print(f"l0-{eps}: {len(found[f'l0-{eps}'])} of {len(digits)} digits change", file=sys.stderr)
    print(json.dumps(found))


if __name__ == "__main__":
    main()
