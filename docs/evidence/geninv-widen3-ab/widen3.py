"""The one comparison of the widen-3 evidence: which digits' first ℓ0 30 suggestion changes when digits scoring under 3
nats (not 2) are searched again, wider. Imported by ``differing_digits.py`` here and in ``../geninv-widen3-heldout/``.
"""

import sys

import numpy as np

from core.data import load_mnist
from core.geninv.api import SearchSettings, suggest_batch


def changed_digits(digits: list[int]) -> list[int]:
    """The test digits whose first suggestion at ℓ0 30 pixels differs between searching again under 2 and under 3
    nats (the shipped default)."""
    images, labels = load_mnist("test")
    queries = images[digits].astype(np.float32) / 255
    before = SearchSettings(widen_below=2.0)
    old = suggest_batch(queries, labels[digits], "l0", 30.0, k=1, device="cpu", settings=before)
    new = suggest_batch(queries, labels[digits], "l0", 30.0, k=1, device="cpu")
    found = [
        d for d, a, b in zip(digits, old, new, strict=True) if a and b and not np.array_equal(a[0].image, b[0].image)
    ]
    print("l0-30", len(found), "of", len(digits), file=sys.stderr)
    return found
