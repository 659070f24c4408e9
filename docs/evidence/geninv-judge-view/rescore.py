"""Rescores every rated blind pack with the shipped judge, for refitting p_human on what that judge says.

For each pack with ``organiser/rated-images.npz`` (``docs/evidence/*/pack/`` and the A/B packs
``docs/evidence/*/pack-*/``), writes ``organiser/mapping-view.json``: the pack's ``mapping.json`` with each
suggestion's ``raw_score`` recomputed as GenInv computes it (``core.geninv.api.judge_raw_scores``: the judge's
margin on the image, minus FRAGMENT_COST per debris pixel), with the judge's view blur as shipped. Before writing,
it checks that each stored raw score comes back (to 1e-3 nats) from the unblurred judge (σ 0; every pack before the
blur) or from the shipped one (the blurred arm of the judge-view A/B): the images and the formula are the ones that
were rated. Run from the repository root:
    python docs/evidence/geninv-judge-view/rescore.py   (log: rescore.log beside it)
"""

import dataclasses
import json
from pathlib import Path

import numpy as np
import torch

from core.geninv.api import judge_raw_scores
from core.geninv.judge import load_judge

EVIDENCE = Path("docs/evidence")


def main() -> None:
    judge = load_judge("cpu")
    plain = dataclasses.replace(judge, view_sigma=0.0)
    kept = [*EVIDENCE.glob("*/pack/organiser/rated-images.npz"), *EVIDENCE.glob("*/pack-*/organiser/rated-images.npz")]
    for npz in sorted(kept):
        organiser = npz.parent
        stored = np.load(npz)
        images = torch.from_numpy(stored["images"].astype(np.float32) / 255)
        data = json.loads((organiser / "mapping.json").read_text(encoding="utf-8"))
        by_trial = {int(e["trial"]): e for e in data["trials"]}
        entries = [by_trial[int(t)] for t in stored["trials"]]
        targets = [int(e["target_label"]) for e in entries]
        _, before = judge_raw_scores(plain, images, targets)
        _, after = judge_raw_scores(judge, images, targets)
        stored = [float(e["raw_score"]) for e in entries]
        off = [min(abs(b - s), abs(a - s)) for b, a, s in zip(before, after, stored, strict=True)]
        worst = max(off)
        if worst > 1e-3:
            raise SystemExit(f"{organiser}: neither judge gives back the stored raw scores (off by {worst:.4f})")
        plain_made = sum(abs(b - s) <= 1e-3 for b, s in zip(before, stored, strict=True))
        for entry, value in zip(entries, after, strict=True):
            entry["raw_score"] = round(value, 6)
        data["rescored"] = f"raw_score by the judge with view blur σ {judge.view_sigma} px ({Path(__file__).name})"
        out = organiser / "mapping-view.json"
        out.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
        means = f"mean raw plain {np.mean(before):.2f}, blurred {np.mean(after):.2f}"
        print(
            f"{out}: {len(entries)} suggestions ({plain_made} scored by the plain judge when made); stored raw "
            f"scores reproduced (max |diff| {worst:.1e}); {means}"
        )


if __name__ == "__main__":
    main()
