"""Agreement statistics against published values, and their place in the report (JSON, text, CSV)."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
import torch

from core.study.agreement import agreement_stats
from core.study.report import evaluate, format_report
from tests.fixtures_study import LookupModel, make_item

# Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability", example C: 4 observers, 12 units, values
# 1-5 with gaps; nominal alpha = 0.743 (published).
K2011 = {
    "A": [1, 2, 3, 3, 2, 1, 4, 1, 2, None, None, None],
    "B": [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, None, 3],
    "C": [None, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, None],
    "D": [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, None],
}
# Fleiss (1971) as worked on Wikipedia's "Fleiss' kappa" page: 10 subjects, 14 raters, 5 categories; kappa = 0.210.
FLEISS_TABLE = [
    [0, 0, 0, 0, 14], [0, 2, 6, 4, 2], [0, 0, 3, 5, 6], [0, 3, 9, 2, 0], [2, 2, 8, 1, 1],
    [7, 7, 0, 0, 0], [3, 2, 6, 3, 0], [2, 5, 3, 2, 2], [6, 5, 2, 1, 0], [0, 2, 2, 3, 7],
]  # fmt: skip


def by_item(columns: dict[str, list[int | None]]) -> list[dict[str, int]]:
    n = len(next(iter(columns.values())))
    return [{r: v[k] for r, v in columns.items() if v[k] is not None} for k in range(n)]  # type: ignore[misc]


def test_krippendorff_alpha_matches_the_published_example() -> None:
    stats = agreement_stats(by_item(K2011))
    assert stats.krippendorff_alpha == pytest.approx(0.743, abs=5e-4)
    assert stats.raters_per_item == {1: 1, 2: 1, 3: 2, 4: 8}  # units 12; 11; 1 and 10; the rest


def test_fleiss_kappa_matches_the_published_example() -> None:
    items = []
    for row in FLEISS_TABLE:
        labels = [category for category, count in enumerate(row) for _ in range(count)]
        items.append({f"r{k}": label for k, label in enumerate(labels)})
    stats = agreement_stats(items)
    assert stats.fleiss_kappa == pytest.approx(0.210, abs=5e-4)
    assert (stats.fleiss_items, stats.fleiss_raters, stats.mean_raters) == (10, 14, 14.0)


def test_undefined_statistics_are_none() -> None:
    assert agreement_stats([{"a": 3}, {"b": 4}]).krippendorff_alpha is None  # nobody pairs up
    unanimous = agreement_stats([{"a": 3, "b": 3}, {"a": 3, "b": 3}])
    assert unanimous.krippendorff_alpha is None and unanimous.fleiss_kappa is None
    empty = agreement_stats([{}, {}])
    assert empty.n_items_rated == 0 and empty.mean_raters is None and empty.fleiss_items == 0


def test_evaluate_reports_agreement_per_set_and_every_models_prediction_per_item(tmp_path: Path) -> None:
    # test digits 0..3 have labels 7, 2, 1, 0; three raters, one of them (cy) inattentive
    raters = [{"ada": 1, "bob": 1, "cy": 5}, {"ada": 3, "bob": 3, "cy": 3}, {"ada": 1, "bob": 4, "cy": 4}]
    items = [make_item(i, set_name="s", human_labels=labels) for i, labels in enumerate(raters)]
    model = LookupModel([item.image for item in items], [1, 2, 4])
    report = evaluate(
        items,
        ["m"],
        device=torch.device("cpu"),
        infos={},
        loader=lambda name, device: model,
        rater_clean={"ada": (4, 4), "bob": (4, 4), "cy": (4, 1)},
        min_rater_accuracy=0.8,
    )
    data = report.to_json()
    stats = data["sets"]["s"]["agreement_stats"]
    # kept: ada, bob. Expected values from the libraries' own inputs, counted here: 2 raters x 3 items
    assert stats["raters_per_item"] == {"2": 3} and stats["mean_raters_per_item"] == 2.0
    assert stats["fleiss_items"] == 3 and stats["fleiss_raters"] == 2
    # Fleiss by hand: P_i = 1, 1, 0 -> mean 2/3; p = (1: 3/6, 3: 2/6, 4: 1/6) -> Pe = 14/36; k = (2/3-14/36)/(22/36)
    assert stats["fleiss_kappa"] == pytest.approx((2 / 3 - 14 / 36) / (22 / 36))
    # alpha by hand: 6 pairable values (1: 3, 3: 2, 4: 1), 2 disagreeing ordered pairs; D_e = 2(3*2 + 3*1 + 2*1)
    assert stats["krippendorff_alpha"] == pytest.approx(1 - (6 - 1) * 2 / 22)
    assert data["raters"]["cy"]["excluded"] and "1 of 4" in data["raters"]["cy"]["reason"]
    rows = {row["id"]: row for row in data["items"]}
    assert [rows[item.item_id]["predictions"] for item in items] == [{"m": 1}, {"m": 2}, {"m": 4}]
    assert [rows[item.item_id]["consensus_label"] for item in items] == [1, 3, None]
    assert [rows[item.item_id]["original_label"] for item in items] == [7, 2, 1]
    assert rows[items[0].item_id]["human_labels"] == {"ada": 1, "bob": 1, "cy": 5}
    assert rows[items[0].item_id]["n_raters"] == 2
    text = format_report(report)
    assert "krippendorff alpha" in text and "fleiss kappa" in text and f"{stats['fleiss_kappa']:.3g}" in text
    report.write_csv(tmp_path)
    with open(tmp_path / "table1.csv", newline="") as handle:
        header, row = list(csv.reader(handle))
    cells = dict(zip(header, row, strict=True))
    assert float(cells["fleiss kappa"]) == pytest.approx(stats["fleiss_kappa"])
    assert float(cells["success rate"]) == pytest.approx(2 / 3) and cells["raters per item"] == "2.0"
