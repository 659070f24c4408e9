"""Every report number on a hand-made study: 2 sets, 4 raters (one inattentive), 4 stand-in models.

Expected values are counted by hand in the comments, not computed by the code under test.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from core.errors import ModelError
from core.study.plot import figure6_svg
from core.study.report import Agreement, Report, evaluate, format_report
from core.zoo.registry import ZooEntry
from tests.fixtures_study import LookupModel, make_item

# Test digits 0..5 have labels 7, 2, 1, 0, 4, 1.
RATERS = {
    #        ada bob cy dan(inattentive)
    0: {"ada": 1, "bob": 1, "cy": 1, "dan": 9},  # orig 7: 3/4 (1)    -> successful, human 1
    1: {"ada": 3, "bob": 3, "cy": 2, "dan": 3},  # orig 2: 3/4 (3); without dan 2/3 -> no consensus
    2: {"ada": 1, "bob": 1, "cy": 1, "dan": 9},  # orig 1: kept the original label
    3: {"ada": 6, "bob": 6, "cy": 6, "dan": 9},  # orig 0: successful, human 6
}
ITEMS = [make_item(i, set_name="linf-a", norm="linf", eps=0.3, human_labels=RATERS[i]) for i in range(4)] + [
    make_item(4, set_name="l0-b", norm="l0", eps=None, human_label=9, method="imported"),  # orig 4 -> 9: successful
    make_item(5, set_name="l0-b", norm="l0", eps=None, human_label=1, method="imported"),  # orig 1 -> 1: kept
]
CLEAN_SCORES = {"ada": (10, 10), "bob": (10, 9), "cy": (10, 8), "dan": (10, 3)}

# What each stand-in model predicts on the edited images of items 0, 1, 3, 4 and on originals 0..5.
PREDICTIONS = {
    "undefended": ({0: 1, 1: 3, 3: 0, 4: 9}, [7, 2, 1, 0, 4, 1]),
    "linf-pgd-0.1": ({0: 7, 1: 3, 3: 6, 4: 4}, [7, 2, 1, 0, 4, 7]),  # last original wrong
    "l1-slide-5": ({0: 7, 1: 2, 3: 0, 4: 4}, [7, 2, 1, 0, 4, 1]),
    "ibp-0.4": ({0: 7, 1: 2, 3: 6, 4: 4}, [7, 2, 1, 0, 4, 1]),
}


def model_entry(name: str, norm: str | None = None, eps: float | None = None, certified: bool = False) -> ZooEntry:
    return ZooEntry(name, "test", "", "cnn-s2-small", "standard", norm=norm, eps=eps, certified=certified)


INFOS = {
    "undefended": model_entry("undefended"),
    "linf-pgd-0.1": model_entry("linf-pgd-0.1", "linf", 0.1),
    "l1-slide-5": model_entry("l1-slide-5", "l1", 5.0),
    "ibp-0.4": model_entry("ibp-0.4", "linf", 0.4, certified=True),
    "missing": model_entry("missing"),
}
# Radius at which IBP would certify each original (the stand-in certifier's answer); items are at ℓ∞ 0.2.
RADII = {0: 0.5, 1: 0.1, 3: 0.3, 4: 0.15}


def stand_in(name: str) -> LookupModel:
    on_items, on_originals = PREDICTIONS[name]
    images = [ITEMS[i].image for i in on_items] + [item.original for item in ITEMS if item.original is not None]
    return LookupModel(images, [*on_items.values(), *on_originals], default=0)


def loader(name: str, device: torch.device) -> nn.Module:
    if name not in PREDICTIONS:
        raise ModelError(f"checkpoint for {name!r} is missing")
    return stand_in(name)


def radius_certify(model: nn.Module, x: torch.Tensor, y: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
    out = []
    for image, e in zip(x, eps, strict=True):
        index = next(
            i
            for i, item in enumerate(ITEMS)
            if item.original is not None and np.array_equal(item.original, image[0].numpy())
        )
        out.append(float(e) <= RADII.get(index, 0.0))
    return torch.tensor(out)


def run(**kwargs: object) -> Report:
    options = {
        "device": torch.device("cpu"),
        "infos": INFOS,
        "loader": loader,
        "certify": radius_certify,
        "rater_clean": CLEAN_SCORES,
        "batch_size": 2,
        **kwargs,
    }
    return evaluate(ITEMS, ["undefended", "linf-pgd-0.1", "missing", "l1-slide-5", "ibp-0.4"], **options)  # type: ignore[arg-type]


def test_report_with_the_inattentive_rater_excluded() -> None:
    report = run(min_rater_accuracy=0.8)
    assert report.models == ["undefended", "linf-pgd-0.1", "l1-slide-5", "ibp-0.4"]
    assert list(report.skipped_models) == ["missing"]
    # attention check: dan 3/10 < 0.8 -> excluded; cy 8/10 kept (exactly at the minimum)
    assert {r: (c.accuracy, c.excluded) for r, c in report.raters.items()} == {
        "ada": (1.0, False), "bob": (0.9, False), "cy": (0.8, False), "dan": (0.3, True),
    }  # fmt: skip

    linf, l0 = report.sets
    # Table 1
    assert (linf.set_name, linf.n_items, linf.n_rated, linf.n_successful) == ("linf-a", 4, 4, 2)
    assert (linf.n_original, linf.n_no_consensus, linf.n_not_a_digit) == (1, 1, 0)
    assert linf.success_rate == 0.5 and linf.norm == "linf" and linf.eps == 0.3 and linf.method == "manual"
    assert (l0.set_name, l0.n_items, l0.n_rated, l0.n_successful, l0.n_original) == ("l0-b", 2, 2, 1, 1)
    assert l0.success_rate == 0.5 and l0.method == "imported" and l0.eps is None
    # Table 2: linf-a successful = item 0 (human 1) and item 3 (human 6); l0-b = item 4 (human 9)
    assert linf.agreement == {
        "undefended": Agreement(1, 2),  # 1 yes, 0 no
        "linf-pgd-0.1": Agreement(1, 2),  # 7 no, 6 yes
        "l1-slide-5": Agreement(0, 2),
        "ibp-0.4": Agreement(1, 2),
    }
    assert l0.agreement == {
        "undefended": Agreement(1, 1), "linf-pgd-0.1": Agreement(0, 1),
        "l1-slide-5": Agreement(0, 1), "ibp-0.4": Agreement(0, 1),
    }  # fmt: skip
    # clean row: 6 distinct originals; linf-pgd-0.1 gets the last one wrong
    assert report.n_clean == 6
    assert report.clean == {
        "undefended": Agreement(6, 6), "linf-pgd-0.1": Agreement(5, 6),
        "l1-slide-5": Agreement(6, 6), "ibp-0.4": Agreement(6, 6),
    }  # fmt: skip
    # Figure 6: ℓ∞ panel on items 0 and 3; ℓ0 panel on item 4; undefended sits at ε = 0
    points = {(p.panel, p.model): (p.eps, p.agreement) for p in report.figure6}
    assert points == {
        ("linf", "undefended"): (0.0, Agreement(1, 2)),
        ("linf", "linf-pgd-0.1"): (0.1, Agreement(1, 2)),
        ("l0", "undefended"): (0.0, Agreement(1, 1)),
        ("l0", "l1-slide-5"): (5.0, Agreement(0, 1)),
    }
    # certified break: items at ℓ∞ 0.2 <= 0.4; originals 0 (r 0.5) and 3 (r 0.3) certified at 0.2, 4 (r 0.15) not
    breaks = {b.set_name: (b.n_successful, b.n_within, b.n_inside, b.n_inside_agree) for b in report.certified}
    assert breaks == {"linf-a": (2, 2, 2, 1), "l0-b": (1, 1, 0, 0)}
    assert all(b.model == "ibp-0.4" and b.radius == 0.4 for b in report.certified)


def test_report_counts_every_rater_without_a_minimum() -> None:
    report = run()
    linf = report.sets[0]
    # with dan: item 1 reaches 3/4 on label 3 -> 3 successful items of 4
    assert (linf.n_successful, linf.n_no_consensus, linf.success_rate) == (3, 0, 0.75)
    assert linf.agreement["undefended"] == Agreement(2, 3)  # 1 yes, 3 yes, 0 no
    assert linf.agreement["l1-slide-5"] == Agreement(0, 3)
    assert not any(check.excluded for check in report.raters.values())
    # a stricter threshold: 3/4 = 0.75 < 0.8 for every rated linf item; imported labels are unaffected
    strict = run(threshold=0.8)
    assert (strict.sets[0].n_successful, strict.sets[0].n_no_consensus, strict.sets[1].n_successful) == (0, 4, 1)
    assert strict.sets[0].agreement["undefended"].agreement is None


def test_json_csv_text_and_svg_outputs(tmp_path: Path) -> None:
    report = run(min_rater_accuracy=0.8)
    data = report.to_json()
    assert data["format_version"] == 1 and data["threshold"] == 0.7
    assert data["sets"]["linf-a"]["n_items"] == 4 and data["sets"]["linf-a"]["n_successful"] == 2
    assert data["sets"]["linf-a"]["models"]["linf-pgd-0.1"] == {"agreement": 0.5, "n": 2, "n_agree": 1}
    assert data["sets"]["l0-b"]["models"]["undefended"]["agreement"] == 1.0
    assert data["clean"]["models"]["linf-pgd-0.1"]["agreement"] == pytest.approx(5 / 6)
    assert [p["model"] for p in data["figure6"]["linf"]] == ["undefended", "linf-pgd-0.1"]
    assert data["certified"]["ibp-0.4"]["linf-a"]["n_inside"] == 2
    assert data["raters"]["dan"]["excluded"] is True
    assert "missing" in data["skipped_models"]

    paths = report.write_csv(tmp_path / "csv")
    assert sorted(p.name for p in paths) == ["certified.csv", "figure6.csv", "raters.csv", "table1.csv", "table2.csv"]
    with open(tmp_path / "csv" / "table2.csv", newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == ["set", "successful", "undefended", "linf-pgd-0.1", "l1-slide-5", "ibp-0.4"]
    # CSV figures are numbers (shares in [0, 1]), not display strings
    assert rows[1][:2] == ["clean digits", "6"] and [float(c) for c in rows[1][2:]] == pytest.approx([1, 5 / 6, 1, 1])
    assert rows[2] == ["linf-a", "2", "0.5", "0.5", "0.0", "0.5"]

    text = format_report(report)
    assert "Table 1" in text and "Table 2" in text and "linf-a" in text and "83.3%" in text
    svg = figure6_svg(report)
    assert svg.startswith("<svg") and svg.count("<circle") == 4 and "linf-pgd-0.1: 50.0% of 2" in svg


def test_report_without_models_or_successes() -> None:
    unrated = [make_item(7, set_name="fresh")]
    report = evaluate(unrated, [], device=torch.device("cpu"), infos={}, loader=loader, certify=radius_certify)
    (only,) = report.sets
    assert (only.n_items, only.n_rated, only.n_successful, only.success_rate) == (1, 0, 0, None)
    assert report.figure6 == [] and report.certified == [] and report.models == []
    assert "Table 1" in format_report(report) and "Table 2" not in format_report(report)
