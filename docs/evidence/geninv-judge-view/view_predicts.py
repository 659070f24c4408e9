"""Does the judge's margin track what raters saw better when it looks at a blurred image?

For every rated blind budget pack (``geninv-budget*``) with ``pack/organiser/rated-images.npz``
(docs/evidence/rated_images.py), the margin
log p(target) - log max_other p of the shipped judge on each rated suggestion, with the view blurred by σ in
{0 (plain), 0.7, 1, 1.25, 1.5, 2} px, against the share of that pack's raters who saw the target: Pearson
correlation per pack and set, and pooled over packs. All these suggestions were searched with the plain judge.
Also the judge's accuracy on the first 3000 MNIST test digits under each blur. Run from the repository root:
    python docs/evidence/geninv-judge-view/view_predicts.py   (log: view_predicts.log beside it)
"""

import dataclasses
from pathlib import Path

import numpy as np
import torch

from core.data import load_mnist
from core.geninv.calibration import raw_score, read_mapping_file, read_rater_answers
from core.geninv.judge import load_judge

EVIDENCE = Path("docs/evidence")
SIGMAS = (0.0, 0.7, 1.0, 1.25, 1.5, 2.0)


def rated(folder: Path) -> list[tuple[str, np.ndarray, int, float]]:
    """(set, image in [0, 1], target, share of raters who saw the target) per rated suggestion of one pack."""
    stored = np.load(folder / "pack/organiser/rated-images.npz")
    images = dict(zip(stored["trials"].tolist(), stored["images"], strict=True))
    answers = [read_rater_answers(path)[1] for path in sorted((folder / "answers").glob("answers-*.json"))]
    out = []
    for entry in read_mapping_file(folder / "pack/organiser/mapping.json"):
        trial = int(entry["trial"])
        seen = [given[trial] == entry["target_label"] for given in answers if trial in given]
        if entry["control"] or not seen:
            continue
        image = images[trial].astype(np.float32) / 255
        out.append((str(entry["group"]), image, int(entry["target_label"]), float(np.mean(seen))))
    return out


def main() -> None:
    judge = load_judge("cpu")
    rows: list[tuple[str, str, dict[float, float], float]] = []
    for npz in sorted(EVIDENCE.glob("geninv-budget*/pack/organiser/rated-images.npz")):
        folder = npz.parents[2]
        found = rated(folder)
        stack = torch.from_numpy(np.stack([image for _, image, _, _ in found]))
        margins = {}
        for sigma in SIGMAS:
            probs = dataclasses.replace(judge, view_sigma=sigma).probs(stack).numpy()
            margins[sigma] = [raw_score(row, target) for row, (_, _, target, _) in zip(probs, found, strict=True)]
        for index, (group, _, _, share) in enumerate(found):
            rows.append((folder.name, group, {s: margins[s][index] for s in SIGMAS}, share))
    print("Pearson r (margin, share of raters who saw the target); columns: blur σ in px")
    print(f"{'set':10s} {'pack':20s} {'n':>4s} " + " ".join(f"{s:>6}" for s in SIGMAS))
    for group in sorted({g for _, g, _, _ in rows}):
        packs = sorted({p for p, g, _, _ in rows if g == group})
        for pack in [*packs, "pooled"]:
            chosen = [r for r in rows if r[1] == group and pack in (r[0], "pooled")]
            share = np.array([r[3] for r in chosen])
            cells = [np.corrcoef([r[2][s] for r in chosen], share)[0, 1] for s in SIGMAS]
            print(f"{group:10s} {pack:20s} {len(chosen):4d} " + " ".join(f"{c:+6.2f}" for c in cells))
    images, labels = load_mnist("test")
    clean = torch.from_numpy(images[:3000].astype(np.float32) / 255)
    for sigma in SIGMAS:
        predicted = dataclasses.replace(judge, view_sigma=sigma).probs(clean).argmax(1).numpy()
        print(f"clean accuracy, first 3000 test digits, σ {sigma}: {(predicted == labels[:3000]).mean():.2%}")


if __name__ == "__main__":
    main()
