"""p_human's mapping: a (slope, intercept) per norm and a logit offset per (source, target) pair."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from core.errors import InvarianceError
from core.geninv.calibration import PHumanMapping, fit_p_human, load_mapping, save_mapping


def _ratings(seed: int = 0) -> tuple[np.ndarray, np.ndarray, list[str], list[tuple[int, int]]]:
    """Simulated ratings: ℓ0 and ℓ∞ follow different curves; people see 7 -> 9 readily and 6 -> 9 rarely."""
    rng = np.random.default_rng(seed)
    size = 6000
    raw = rng.uniform(-3, 6, size)
    norms = [("l0", "linf")[i % 2] for i in range(size)]
    pairs = [((7, 9), (6, 9), (3, 5))[i % 3] for i in range(size)]
    curve = {"l0": (1.0, -2.0), "linf": (1.5, -1.0)}
    offset = {(7, 9): 1.5, (6, 9): -1.5, (3, 5): 0.0}
    logit = np.array([curve[n][0] * r + curve[n][1] + offset[p] for r, n, p in zip(raw, norms, pairs, strict=True)])
    seen = rng.uniform(size=size) < 1 / (1 + np.exp(-logit))
    return raw, seen, norms, pairs


def test_per_norm_curves_and_pair_offsets_are_recovered() -> None:
    raw, seen, norms, pairs = _ratings()
    fitted = fit_p_human(raw, seen, norms=norms, pairs=pairs)
    assert fitted.norms["l0"][0] == pytest.approx(1.0, rel=0.2)
    assert fitted.norms["linf"][0] == pytest.approx(1.5, rel=0.2)
    # offsets are shrunk towards 0, but keep their sign and order
    assert fitted.pairs[(7, 9)] > 0.7 > fitted.pairs[(3, 5)] > -0.7 > fitted.pairs[(6, 9)]
    easy = fitted(2.0, norm="l0", source=7, target=9)
    hard = fitted(2.0, norm="l0", source=6, target=9)
    unrated = fitted(2.0, norm="l0", source=1, target=7)
    assert float(hard) < float(unrated) < float(easy)
    assert float(unrated) == pytest.approx(1 / (1 + np.exp(-(2 * fitted.norms["l0"][0] + fitted.norms["l0"][1]))))
    # a norm without ratings of its own uses the curve fitted on every rating
    assert float(fitted(2.0, norm="l2")) == pytest.approx(float(fitted(2.0)))
    with pytest.raises(InvarianceError, match="one of pairs per rating"):
        fit_p_human(raw, seen, norms=norms, pairs=pairs[:10])


def test_the_mapping_round_trips_through_its_file(tmp_path: Path) -> None:
    raw, seen, norms, pairs = _ratings(1)
    fitted = fit_p_human(raw, seen, norms=norms, pairs=pairs, note="simulated")
    save_mapping(fitted, tmp_path)
    loaded = load_mapping(tmp_path)
    assert loaded == fitted
    path = next(tmp_path.glob("*.p_human.json"))
    assert json.loads(path.read_text())["format_version"] == 2


def test_a_format_1_file_still_loads_and_a_bad_pair_is_one_clear_error(tmp_path: Path) -> None:
    plain = PHumanMapping(0.7, -0.7, 400, "older file")
    path = save_mapping(plain, tmp_path)
    assert json.loads(path.read_text())["format_version"] == 1
    assert load_mapping(tmp_path) == plain
    data = json.loads(path.read_text())
    path.write_text(json.dumps({**data, "format_version": 2, "norms": {}, "pairs": {"7>12": 1.0}}))
    with pytest.raises(InvarianceError, match=r"p_human.json: cannot read the p_human mapping .*7>12"):
        load_mapping(tmp_path)
    path.write_text(json.dumps({**data, "format_version": 2, "norms": {"l0": [1.0, "nan"]}, "pairs": {}}))
    with pytest.raises(InvarianceError, match="non-finite"):
        load_mapping(tmp_path)
