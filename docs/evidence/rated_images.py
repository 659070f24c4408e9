"""Keeps the images a blind pack's raters saw, so that its ratings can be rescored by a later judge.

    python docs/evidence/rated_images.py ORGANISER_DIR OUT.npz

ORGANISER_DIR is a pack's ``organiser/`` folder with its ``collections/`` (written by ``bench geninv --human-pack``;
the collections of most packs are not committed, and were rebuilt at the commit that made the pack, checked trial
for trial against the committed ``mapping.json``). Each set is read where the mapping names it, else from
``ORGANISER_DIR/collections/`` under the same name. OUT.npz holds ``trials`` (int, 1-based) and ``images`` (uint8,
N x 28 x 28) for every suggestion trial (controls are unchanged MNIST test digits and are left out).
"""

import sys
from pathlib import Path

import numpy as np
from PIL import Image

from core.geninv.calibration import read_mapping_file


def rated_images(organiser: Path) -> tuple[np.ndarray, np.ndarray]:
    trials, images = [], []
    for entry in read_mapping_file(organiser / "mapping.json"):
        if entry["control"]:
            continue
        named = Path(str(entry["collection"]))  # where the pack was built; else moved along with its organiser
        folder = (named if named.exists() else organiser / "collections" / named.name) / "images"
        found = sorted(folder.glob(f"{entry['item']}-*.png"))
        if len(found) != 1:
            raise SystemExit(f"{folder}: expected one image of item {entry['item']}, found {len(found)}")
        image = np.asarray(Image.open(found[0]).convert("L"), dtype=np.uint8)
        if image.shape != (28, 28):
            raise SystemExit(f"{found[0]}: image is {image.shape}, not 28 x 28")
        trials.append(int(entry["trial"]))
        images.append(image)
    return np.asarray(trials, dtype=np.int64), np.stack(images)


def main() -> None:
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    organiser, out = Path(sys.argv[1]), Path(sys.argv[2])
    if out.exists():
        raise SystemExit(f"{out}: exists; not overwritten")
    trials, images = rated_images(organiser)
    np.savez_compressed(out, trials=trials, images=images)
    print(f"{out}: {len(trials)} suggestion images")


if __name__ == "__main__":
    main()
