"""Compares a rebuilt pack's mapping with the committed one, trial for trial (group, source and target digit, source
label, control, raw score to 1e-4). Usage: python compare.py COMMITTED.json REBUILT.json [SHOW]"""

import json
import sys
from pathlib import Path

KEYS = ("group", "source_index", "target_label", "source_label", "control")


def same(committed: dict, rebuilt: dict | None) -> bool:  # type: ignore[type-arg]
    if rebuilt is None or any(committed.get(k) != rebuilt.get(k) for k in KEYS):
        return False
    if committed.get("raw_score") is None:
        return rebuilt.get("raw_score") is None
    return rebuilt.get("raw_score") is not None and abs(committed["raw_score"] - rebuilt["raw_score"]) <= 1e-4


def main() -> None:
    committed = json.loads(Path(sys.argv[1]).read_text(encoding="utf-8"))["trials"]
    rebuilt = {t["trial"]: t for t in json.loads(Path(sys.argv[2]).read_text(encoding="utf-8"))["trials"]}
    bad = [t for t in committed if not same(t, rebuilt.get(t["trial"]))]
    print(f"{len(committed) - len(bad)}/{len(committed)} (rebuilt has {len(rebuilt)})")
    for trial in bad[: int(sys.argv[3]) if len(sys.argv) > 3 else 10]:
        print("  mismatch", trial["trial"], trial.get("group"), trial.get("source_index"), rebuilt.get(trial["trial"]))


if __name__ == "__main__":
    main()
