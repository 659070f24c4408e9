"""p_human's mapping: a curve per norm on the judge's raw score and the aligned neighbour's cost."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from core.errors import InvarianceError
from core.geninv.calibration import NormCurve, PHumanMapping, fit_p_human, load_mapping, save_mapping


def _ratings(seed: int = 0) -> tuple[np.ndarray, np.ndarray, list[str | None], list[float | None]]:
    """Simulated ratings: ℓ0 and ℓ∞ follow different curves, and a far neighbour (large cost) is seen less."""
    rng = np.random.default_rng(seed)
    size = 6000
    raw = rng.uniform(-3, 6, size)
    norms: list[str | None] = [("l0", "linf")[i % 2] for i in range(size)]
    costs = np.where(np.arange(size) % 2 == 0, rng.uniform(20, 110, size), rng.uniform(0, 20, size))
    curve = {"l0": NormCurve(0.6, -0.04, 1.3), "linf": NormCurve(1.1, -0.1, 0.0)}
    logit = np.array([curve[str(n)].slope * r + curve[str(n)].cost_slope * c + curve[str(n)].intercept
                      for r, n, c in zip(raw, norms, costs, strict=True)])  # fmt: skip
    seen = rng.uniform(size=size) < 1 / (1 + np.exp(-logit))
    return raw, seen, norms, [float(c) for c in costs]


def test_per_norm_curves_with_the_aligned_cost_are_recovered() -> None:
    raw, seen, norms, costs = _ratings()
    fitted = fit_p_human(raw, seen, norms=norms, aligned_costs=costs)
    l0, linf = fitted.norms["l0"], fitted.norms["linf"]
    assert l0.slope == pytest.approx(0.6, rel=0.2) and l0.cost_slope == pytest.approx(-0.04, rel=0.2)
    assert linf.slope == pytest.approx(1.1, rel=0.2) and linf.cost_slope == pytest.approx(-0.1, rel=0.3)
    near = float(fitted(2.0, norm="l0", aligned_cost=30.0))
    far = float(fitted(2.0, norm="l0", aligned_cost=90.0))
    assert near > far
    assert near == pytest.approx(1 / (1 + np.exp(-(2 * l0.slope + 30 * l0.cost_slope + l0.intercept))))
    # without an aligned cost, or for a norm without ratings, the curve fitted on every rating serves
    assert float(fitted(2.0, norm="l0")) == pytest.approx(float(fitted(2.0)))
    assert float(fitted(2.0, norm="l2", aligned_cost=5.0)) == pytest.approx(float(fitted(2.0)))
    with pytest.raises(InvarianceError, match="one of aligned_costs per rating"):
        fit_p_human(raw, seen, norms=norms, aligned_costs=costs[:10])


def test_ratings_without_an_aligned_cost_only_feed_the_common_curve() -> None:
    raw, seen, norms, costs = _ratings(2)
    unknown: list[float | None] = [None if n == "linf" else c for n, c in zip(norms, costs, strict=True)]
    fitted = fit_p_human(raw, seen, norms=norms, aligned_costs=unknown)
    assert set(fitted.norms) == {"l0"} and fitted.fitted_on == raw.size


def test_the_mapping_round_trips_through_its_file(tmp_path: Path) -> None:
    raw, seen, norms, costs = _ratings(1)
    fitted = fit_p_human(raw, seen, norms=norms, aligned_costs=costs, note="simulated")
    save_mapping(fitted, tmp_path)
    assert load_mapping(tmp_path) == fitted
    path = next(tmp_path.glob("*.p_human.json"))
    assert json.loads(path.read_text())["format_version"] == 2


def test_a_format_1_file_still_loads_and_a_bad_curve_is_one_clear_error(tmp_path: Path) -> None:
    plain = PHumanMapping(0.7, -0.7, 400, "older file")
    path = save_mapping(plain, tmp_path)
    assert json.loads(path.read_text())["format_version"] == 1
    assert load_mapping(tmp_path) == plain
    data = json.loads(path.read_text())
    path.write_text(json.dumps({**data, "format_version": 2, "norms": {"l0": {"slope": 1.0, "intercept": 0.0}}}))
    with pytest.raises(InvarianceError, match=r"p_human.json: cannot read the p_human mapping .*cost_slope"):
        load_mapping(tmp_path)
    bad = {"slope": 1.0, "cost_slope": "nan", "intercept": 0.0}
    path.write_text(json.dumps({**data, "format_version": 2, "norms": {"l0": bad}}))
    with pytest.raises(InvarianceError, match="non-finite"):
        load_mapping(tmp_path)
