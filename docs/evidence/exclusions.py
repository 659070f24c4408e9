"""Test indices a new blind GenInv pack must not draw, with the record of why.

Run from the repository root::

    python docs/evidence/exclusions.py OUT.json EARLIER.json PACK_ORGANISER_DIR [PACK_ORGANISER_DIR ...]

OUT.json joins the indices of EARLIER.json (an exclusion file written by this script or by
``docs/evidence/geninv-budget/used_indices.py``: every earlier figure, pack and benchmark digit) with, for each pack
named, every ``sets.<name>.digits`` list of its ``summary.json`` (its rated digits) and every ``source_index`` of its
``mapping.json`` (the same digits plus its unchanged controls). It records how many indices each source added.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def _read(path: Path) -> dict:  # type: ignore[type-arg]
    return json.loads(path.read_text(encoding="utf-8"))


def exclusions(earlier: Path, packs: list[Path]) -> dict[str, object]:
    sources: dict[str, set[int]] = {
        f"{earlier} (earlier figures, packs and bench digits)": set(_read(earlier)["indices"])
    }
    for pack in packs:
        summary, mapping = _read(pack / "summary.json"), _read(pack / "mapping.json")
        sources[f"{pack}/summary.json sets.*.digits (rated digits)"] = {
            int(i)
            for entry in summary["sets"].values()
            for i in entry.get("digits", [])  # added sets: none
        }
        sources[f"{pack}/mapping.json source_index (rated digits and controls)"] = {
            int(t["source_index"]) for t in mapping["trials"] if t.get("source_index") is not None
        }
    found: set[int] = set()
    added: dict[str, int] = {}
    for name, indices in sources.items():
        added[name] = len(indices - found)
        found |= indices
    why = "no digit an earlier figure, pack (with its controls) or benchmark used"
    return {"why": why, "count": len(found), "added_per_source": added, "indices": sorted(found)}


def main(argv: list[str]) -> int:
    if len(argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    out, earlier, packs = Path(argv[0]), Path(argv[1]), [Path(p) for p in argv[2:]]
    document = exclusions(earlier, packs)
    out.write_text(json.dumps(document, indent=1) + "\n", encoding="utf-8")
    print(f"{document['count']} excluded test indices -> {out} ({document['added_per_source']})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
