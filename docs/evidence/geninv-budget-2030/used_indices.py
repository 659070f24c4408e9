"""Test indices the 2030 budget pack must not draw.

Run from the repository root: ``python docs/evidence/geninv-budget-2030/used_indices.py`` -> used-indices.json
beside this script. It joins

- ``docs/evidence/geninv-budget-2029/used-indices.json`` (every earlier GenInv figure, the 2027 and 2028 packs with
  their controls, and the digits ``invariance bench geninv`` draws),
- every ``sets.<name>.digits`` list of the 2029 pack's ``pack/organiser/summary.json`` (its 80 rated digits), and
- every ``source_index`` of its ``pack/organiser/mapping.json`` (the same 80 plus its 80 unchanged controls),

and records how many indices each source added, so the record says what was excluded and why.
"""

from __future__ import annotations

import json
from pathlib import Path

EVIDENCE = Path("docs/evidence")
PACK_2029 = EVIDENCE / "geninv-budget-2029/pack/organiser"


def _indices(path: Path) -> set[int]:
    return {int(i) for i in json.loads(path.read_text(encoding="utf-8"))["indices"]}


def main() -> None:
    summary = json.loads((PACK_2029 / "summary.json").read_text(encoding="utf-8"))
    mapping = json.loads((PACK_2029 / "mapping.json").read_text(encoding="utf-8"))
    sources = {
        "geninv-budget-2029/used-indices.json (earlier figures, the 2027 and 2028 packs, bench digits)": _indices(
            EVIDENCE / "geninv-budget-2029/used-indices.json"
        ),
        "2029 pack: summary.json sets.*.digits (rated digits)": {
            int(i) for entry in summary["sets"].values() for i in entry["digits"]
        },
        "2029 pack: mapping.json source_index (rated digits and controls)": {
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
        "why": "no digit an earlier figure, pack (2027, 2028 and 2029, with their controls) or benchmark used",
        "count": len(found),
        "added_per_source": added,
        "indices": sorted(found),
    }
    out.write_text(json.dumps(document, indent=1) + "\n", encoding="utf-8")
    print(f"{len(found)} excluded test indices -> {out} ({added})")


if __name__ == "__main__":
    main()
