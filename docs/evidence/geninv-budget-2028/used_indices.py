"""Test indices the 2028 budget pack must not draw: every index of the first exclusion file plus the 2027 pack.

Run from the repository root: ``python docs/evidence/geninv-budget-2028/used_indices.py`` -> used-indices.json
beside this script. It joins

- ``docs/evidence/geninv-budget/used-indices.json`` (515 indices: every earlier GenInv figure and pack, and the
  digits ``invariance bench geninv`` draws; written by that folder's ``used_indices.py``),
- every ``sets.<name>.digits`` list of the 2027 pack's ``pack/organiser/summary.json`` (the 120 rated digits), and
- every ``source_index`` of its ``pack/organiser/mapping.json`` (the same 120 plus the 120 unchanged controls),

and records how many indices each source added, so the record says what was excluded and why.
"""

from __future__ import annotations

import json
from pathlib import Path

EVIDENCE = Path("docs/evidence/geninv-budget")


def main() -> None:
    earlier = json.loads((EVIDENCE / "used-indices.json").read_text(encoding="utf-8"))["indices"]
    summary = json.loads((EVIDENCE / "pack/organiser/summary.json").read_text(encoding="utf-8"))
    mapping = json.loads((EVIDENCE / "pack/organiser/mapping.json").read_text(encoding="utf-8"))
    sources = {
        "geninv-budget/used-indices.json (earlier figures and packs)": {int(i) for i in earlier},
        "2027 pack: summary.json sets.*.digits (rated digits)": {
            int(i) for entry in summary["sets"].values() for i in entry["digits"]
        },
        "2027 pack: mapping.json source_index (rated digits and controls)": {
            int(t["source_index"]) for t in mapping["trials"] if t.get("source_index") is not None
        },
    }
    found: set[int] = set()
    added: dict[str, int] = {}
    for name, indices in sources.items():
        added[name] = len(indices - found)
        found |= indices
    out = Path(__file__).with_name("used-indices.json")
    document = {
        "why": "no digit an earlier figure, pack (2027 with its controls) or benchmark used",
        "count": len(found),
        "added_per_source": added,
        "indices": sorted(found),
    }
    out.write_text(json.dumps(document, indent=1) + "\n", encoding="utf-8")
    print(f"{len(found)} excluded test indices -> {out} ({added})")


if __name__ == "__main__":
    main()
