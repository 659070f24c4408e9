"""Collection test helpers: synthetic data in the paper's release layout, and shared hypothesis strategies."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from core.data import load_mnist


def perturb(original: np.ndarray, rng: np.random.Generator, limit: int) -> np.ndarray:
    """uint8 copy of ``original`` with random changes of at most ``limit`` grey levels per pixel."""
    change = rng.integers(-limit, limit + 1, size=original.shape)
    return np.clip(original.astype(np.int64) + change, 0, 255).astype(np.uint8)


def write_paper_layout(root: Path, *, count: int = 6, manual: int = 3, seed: int = 0) -> dict[str, Any]:
    """Write ``root/invariance_examples/...`` exactly like the paper's repository, with small sets.

    ``count`` automated examples per set (the paper has 100) and ``manual`` manual ones (the paper has 50).
    ``linf/automated_eps04.npy`` (uint8) contains exactly one pixel that exceeds ε=0.4 by 1/255 (item 1).
    Returns what was written, for assertions: indices, labels per set and the violating position.
    """
    rng = np.random.default_rng(seed)
    test_images, _ = load_mnist("test")
    base = root / "invariance_examples"
    (base / "l0").mkdir(parents=True)
    (base / "linf").mkdir()
    indices = rng.choice(10_000, size=count, replace=False).astype(np.int64)
    manual_indices = rng.choice(10_000, size=manual, replace=False).astype(np.int64)
    originals = test_images[indices]
    np.save(base / "indexs.npy", indices)

    l0 = originals.copy()
    for image in l0:
        flat = image.reshape(-1)
        where = rng.choice(784, size=int(rng.integers(3, 20)), replace=False)
        flat[where] = 255 - flat[where]
    labels = {name: rng.integers(-1, 10, size=n).astype(np.int64) for name, n in _sizes(count, manual).items()}
    np.save(base / "l0" / "automated.npy", l0)
    np.save(base / "l0" / "automated_labels.npy", labels["l0"])

    eps03 = perturb(originals, rng, 76).astype(np.float32)  # 76/255 < 0.3
    eps03 += rng.uniform(-0.4, 0.4, size=eps03.shape).astype(np.float32)  # off-grid floats, as in the release
    eps03 = np.clip(eps03, 0, 255).astype(np.float32)
    np.save(base / "linf" / "automated_eps03.npy", eps03)
    np.save(base / "linf" / "automated_eps03_labels.npy", labels["eps03"])

    eps04 = perturb(originals, rng, 102)  # 102/255 == 0.4
    violating = 1
    row, col = 14, 14
    value = int(originals[violating, row, col])
    eps04[violating, row, col] = value + 103 if value + 103 <= 255 else value - 103  # 103/255 > 0.4
    np.save(base / "linf" / "automated_eps04.npy", eps04)
    np.save(base / "linf" / "automated_eps04_labels.npy", labels["eps04"])

    manual_set = perturb(test_images[manual_indices], rng, 102)
    np.save(base / "linf" / "manual_eps04.npy", manual_set)
    np.save(base / "linf" / "manual_eps04_labels.npy", labels["manual"])
    np.save(base / "linf" / "manual_indexs.npy", manual_indices)
    return {
        "indices": indices,
        "manual_indices": manual_indices,
        "labels": labels,
        "violating": violating,
        "l0": l0,
        "eps04": eps04,
        "count": count,
        "manual": manual,
    }


def _sizes(count: int, manual: int) -> dict[str, int]:
    return {"l0": count, "eps03": count, "eps04": count, "manual": manual}


PAPER_FILES = (
    "indexs.npy",
    "l0/automated.npy",
    "l0/automated_labels.npy",
    "linf/automated_eps03.npy",
    "linf/automated_eps03_labels.npy",
    "linf/automated_eps04.npy",
    "linf/automated_eps04_labels.npy",
    "linf/manual_eps04.npy",
    "linf/manual_eps04_labels.npy",
    "linf/manual_indexs.npy",
)
"""Every file of the layout, relative to ``invariance_examples/``."""


# ------------------------------------------------------------------ fuzzing helpers

FUZZ = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
FUZZ_WRITES = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
"""For examples that usually succeed and therefore write (and fsync) a whole collection."""

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-3, 12) | st.floats(allow_nan=False) | st.text(max_size=6),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=6,
)

shapes = st.one_of(
    st.sampled_from([(3, 28, 28), (3,), (2, 28, 28), (3, 784), (3, 28, 28, 1), (0, 28, 28), (3, 1, 28, 28), ()]),
    hnp.array_shapes(min_dims=0, max_dims=3, max_side=5),
)
dtypes = st.sampled_from([np.uint8, np.int8, np.int64, np.float32, np.float64, np.bool_, np.uint16, np.complex64])
any_array = hnp.arrays(dtype=dtypes, shape=shapes)
"""Arrays of plausible and implausible shapes and dtypes, for replacing importer inputs."""


@contextmanager
def scratch() -> Iterator[Path]:
    """A fresh temporary folder per hypothesis example (function-scoped fixtures are not reset between them)."""
    with tempfile.TemporaryDirectory() as folder:
        yield Path(folder)


def leftovers(folder: Path) -> list[str]:
    """Hidden staging files or folders left in ``folder`` (a failed write must leave none)."""
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def mutate(document: Any, path: list[int], value: Any) -> Any:
    """Replace the node reached by following ``path`` (indices into keys/items, modulo size) with ``value``."""
    if not path or not isinstance(document, (dict, list)) or not document:
        return value
    if isinstance(document, dict):
        key = sorted(document)[path[0] % len(document)]
        return {**document, key: mutate(document[key], path[1:], value)}
    index = path[0] % len(document)
    return [*document[:index], mutate(document[index], path[1:], value), *document[index + 1 :]]


def write_small_collection(path: Path) -> Path:
    """Three random items with originals, an l2 budget that holds, and one saved prediction each."""
    from core.collection import Collection

    rng = np.random.default_rng(0)
    with Collection.create(path, "fuzz") as coll:
        for i in range(3):
            coll.add(
                rng.integers(0, 256, (28, 28)).astype(np.uint8),
                original=rng.integers(0, 256, (28, 28)).astype(np.uint8),
                intended_label=i,
                norm="l2",
                eps=100.0,
                predictions={"m": i},
            )
    return path
