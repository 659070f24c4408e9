"""Every MNIST test index that earlier GenInv figures or blind packs used (checkpoints/logs/** at commit 0e17770).

Run from the repository root: ``python docs/evidence/geninv-budget/used_indices.py`` -> used-indices.json.
Reads the files through ``git show 0e17770:PATH`` (so later moves of checkpoints/logs do not matter): every
``source_index`` and every ``"digits"`` list in the JSON files (mapping.json, summary.json, collection manifests),
every ``--indices a,b,c`` in the logs and scripts, plus the random digits ``invariance bench geninv`` draws
(seed 0, n = 20, 50, 100, the sizes its earlier figures used).
"""

from __future__ import annotations

import contextlib
import json
import re
import subprocess
from pathlib import Path

import numpy as np

COMMIT = "0e17770"


def _files() -> list[str]:
    listing = subprocess.run(
        ["git", "ls-tree", "-r", "--name-only", COMMIT, "checkpoints/logs"], check=True, capture_output=True, text=True
    )
    return [line for line in listing.stdout.splitlines() if not line.endswith(".png")]


def _walk(value: object, found: set[int]) -> None:
    if isinstance(value, dict):
        for key, inner in value.items():
            if key == "source_index" and isinstance(inner, int):
                found.add(inner)
            elif key in ("digits", "no_suggestion_within_budget") and isinstance(inner, list):
                found.update(int(i) for i in inner if isinstance(i, int))
            else:
                _walk(inner, found)
    elif isinstance(value, list):
        for inner in value:
            _walk(inner, found)


def main() -> None:
    found: set[int] = set()
    per_file: dict[str, int] = {}
    for path in _files():
        text = subprocess.run(["git", "show", f"{COMMIT}:{path}"], check=True, capture_output=True).stdout
        try:
            decoded = text.decode("utf-8")
        except UnicodeDecodeError:
            continue
        before = len(found)
        if path.endswith((".json", ".bak")):
            with contextlib.suppress(json.JSONDecodeError):
                _walk(json.loads(decoded), found)
        for match in re.finditer(r"--indices[ =]([0-9][0-9,]*)", decoded):
            found.update(int(i) for i in match.group(1).split(",") if i)
        per_file[path] = len(found) - before
    for n in (20, 50, 100):  # core.bench_geninv.BENCH_SEED = 0 draws
        found.update(int(i) for i in np.random.default_rng(0).choice(10_000, size=n, replace=False))
    out = Path(__file__).with_name("used-indices.json")
    document = {
        "commit": COMMIT,
        "count": len(found),
        "indices": sorted(found),
        "new_per_file": {k: v for k, v in per_file.items() if v},
    }
    out.write_text(json.dumps(document, indent=1) + "\n", encoding="utf-8")
    print(f"{len(found)} used test indices -> {out}")


if __name__ == "__main__":
    main()
