"""The blind human pack: controls included, every label / item id / path hidden from what a rater sees,
the organiser's mapping complete, and the rates + calibration table from filled-in answers."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from core.cli import main
from core.collection.png import decode_png
from core.errors import InvarianceError
from core.geninv.calibration import (
    calibration_table,
    fit_p_human,
    outcomes,
    read_mapping_file,
    read_rater_answers,
    success_rates,
)
from core.geninv.human_pack import (
    SetSpec,
    build_human_pack,
    choose_digits,
    parse_sets,
    per_digit_rates,
    read_exclusions,
)
from core.geninv.sheets import cell_origin

SPECS = [SetSpec("l0", "l0", None, 4), SetSpec("linf-0.4", "linf", 0.4, 3)]


@pytest.fixture(scope="module")
def pack(tmp_path_factory, pool_bank, tiny_judge) -> tuple[Path, dict]:  # type: ignore[no-untyped-def]
    out = tmp_path_factory.mktemp("human") / "pack-a"
    summary = build_human_pack(out, SPECS, seed=3, digit_range=(5000, 5200), bank=pool_bank, judge=tiny_judge)
    return out, summary


def _secrets(out: Path, *, generic: bool = False) -> set[str]:
    """Strings a rater must never see: item ids, collection paths, set names, fields that carry labels.

    ``generic`` adds plain words (label, target, control, ...): the rater view must not contain them at all,
    while the study page's own text may use them in its instructions.
    """
    mapping = read_mapping_file(out / "organiser" / "mapping.json")
    words = {str(out), "clean:", "intended", "geninv", "p_human", "target_label", "source_index", "study-plans"}
    if generic:
        words |= {"target", "label", "organiser", "control", "norm"}
    for entry in mapping:
        words.add(str(entry["item"]))
        if entry["collection"]:
            words.add(str(entry["collection"]))
    return words


def test_pack_has_controls_and_a_complete_mapping(pack) -> None:  # type: ignore[no-untyped-def]
    out, summary = pack
    mapping = read_mapping_file(out / "organiser" / "mapping.json")
    suggestions = sum(info["suggestions"] for info in summary["sets"].values())
    controls = [entry for entry in mapping if entry["control"]]
    assert suggestions >= 1
    assert len(controls) == suggestions == summary["controls"] and len(mapping) == 2 * suggestions
    assert [entry["trial"] for entry in mapping] == list(range(1, len(mapping) + 1))
    for entry in mapping:
        if not entry["control"]:
            assert entry["target_label"] != entry["source_label"] and 0 <= entry["p_human"] <= 1
            assert 5000 <= entry["source_index"] < 5200
    for name, info in summary["sets"].items():
        assert info["suggestions"] + len(info["no_suggestion_within_budget"]) == len(info["digits"]), name
    # the same trials, in the same order, in the rater view: x10, white on black as stored
    view = out / "rater-view"
    names = sorted(p.name for p in view.iterdir())
    trials = [n for n in names if n.startswith("trial_")]
    assert names == sorted([*trials, "answers-template.json", "sheets"]) and len(trials) == len(mapping)
    study = json.loads((out / "pack" / "study.json").read_text())
    sheets = sorted((view / "sheets").iterdir())
    assert [p.name for p in sheets] == [f"sheet_{n:02d}.png" for n in range(1, -(-len(mapping) // 20) + 1)]
    for number, trial in enumerate(sorted(study["trials"], key=lambda t: t["order"]), start=1):
        big = decode_png((view / f"trial_{number:03d}.png").read_bytes())
        small = decode_png((out / "pack" / trial["image"]).read_bytes())
        assert big.shape == (280, 280) and np.array_equal(big[::10, ::10], small)
        # the same x10 digit in its cell of the contact sheet (5 x 4 cells per sheet, row-major)
        sheet = decode_png(sheets[(number - 1) // 20].read_bytes())
        top, left = cell_origin((number - 1) % 20, columns=5)
        assert np.array_equal(sheet[top : top + 280, left : left + 280], big)


def test_rater_view_hides_every_label(pack) -> None:  # type: ignore[no-untyped-def]
    out, _ = pack
    secrets = _secrets(out, generic=True)
    for path in (out / "rater-view").rglob("*"):
        if path.is_dir():
            continue
        text = path.name + path.read_bytes().decode("latin-1")
        leaked = [word for word in secrets if word and word in text]
        assert not leaked, f"{path.name} reveals {leaked}"
    template = json.loads((out / "rater-view" / "answers-template.json").read_text())
    assert all(set(row) == {"trial", "answer"} and row["answer"] == "" for row in template["answers"])


def test_browser_files_of_the_pack_hide_every_label(pack) -> None:  # type: ignore[no-untyped-def]
    out, _ = pack
    secrets = _secrets(out)
    for path in (out / "pack").rglob("*"):
        if path.is_file() and path.suffix in (".html", ".js", ".png", ".txt"):
            text = path.as_posix().removeprefix(str(out)) + path.read_bytes().decode("latin-1")
            leaked = [word for word in secrets if word and word in text]
            assert not leaked, f"{path.name} reveals {leaked}"


def test_answers_give_rates_and_calibration(pack, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    out, _ = pack
    mapping = read_mapping_file(out / "organiser" / "mapping.json")
    # a rater who sees every target and every control's own digit
    perfect = {"rater": "ada", "answers": [
        {"trial": e["trial"], "answer": str(e["source_label"] if e["control"] else e["target_label"])} for e in mapping
    ]}  # fmt: skip
    # a rater who always sees the source digit, and skips trial 1
    stubborn = {"rater": "bob", "answers": [{"trial": e["trial"], "answer": e["source_label"]} for e in mapping[1:]]}
    files = []
    for data in (perfect, stubborn):
        files.append(tmp_path / f"{data['rater']}.json")
        files[-1].write_text(json.dumps(data))
    answers = dict(read_rater_answers(path) for path in files)
    rated = outcomes(mapping, answers)
    rates = success_rates(rated)
    assert rates["control"]["success_rate"] == 1.0
    for group in ("l0", "linf-0.4"):
        if group in rates:
            assert rates[group]["success_rate"] == pytest.approx(0.5, abs=0.5 / rates[group]["ratings"] + 1e-9)
            assert 0.0 < rates[group]["source_seen_rate"] <= 0.5 + 1e-9 + 1 / rates[group]["ratings"]
    table = calibration_table(rated)
    assert sum(int(row["ratings"]) for row in table) == sum(not o.control for o in rated)
    code = main(["bench", "geninv", "--calibration", str(out / "organiser" / "mapping.json"), *map(str, files)])
    printed = capsys.readouterr().out
    assert code == 0 and "calibration" in printed and "per digit asked for" in printed
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"rater": "eve", "answers": [{"trial": 1, "answer": "12"}]}))
    assert main(["bench", "geninv", "--calibration", str(out / "organiser" / "mapping.json"), str(bad)]) != 0


def test_fit_p_human_recovers_a_logistic_curve() -> None:
    rng = np.random.default_rng(0)
    raw = rng.uniform(-4, 6, 4000)
    truth = 1 / (1 + np.exp(-(1.2 * raw - 2.0)))
    fitted = fit_p_human(raw, rng.uniform(size=raw.size) < truth)
    assert fitted.slope == pytest.approx(1.2, rel=0.15) and fitted.intercept == pytest.approx(-2.0, rel=0.15)
    assert fitted.fitted_on == raw.size
    with pytest.raises(Exception, match="as many"):
        fit_p_human([1.0, 2.0], [True])


def test_digit_choice_is_seeded_disjoint_and_in_range() -> None:
    specs = parse_sets("l0:40,linf@0.4:25,linf@0.3:25")
    first, second = choose_digits(specs, 2), choose_digits(specs, 2)
    assert first == second and [len(v) for v in first.values()] == [40, 25, 25]
    everything = [i for values in first.values() for i in values]
    assert len(set(everything)) == 90 and min(everything) >= 5000
    assert choose_digits(specs, 3) != first


def test_existing_pack_folder_is_refused(pack, pool_bank, tiny_judge) -> None:  # type: ignore[no-untyped-def]
    out, _ = pack
    with pytest.raises(Exception, match="already exists"):
        build_human_pack(out, SPECS, seed=3, bank=pool_bank, judge=tiny_judge)


def test_rater_view_answers_are_ingested_by_the_study_module(pack, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    import shutil

    from core.geninv.human_pack import rater_view_answers_to_pack

    source, _ = pack
    out = tmp_path / "copy"
    shutil.copytree(source, out)  # ingest writes labels into the collections: keep the module's pack intact
    mapping = read_mapping_file(out / "organiser" / "mapping.json")
    filled = {"rater": "ada", "answers": [
        {"trial": e["trial"], "answer": e["source_label"] if e["control"] else e["target_label"]} for e in mapping
    ]}  # fmt: skip
    template = tmp_path / "ada.json"
    template.write_text(json.dumps(filled))
    converted = rater_view_answers_to_pack(template, out / "pack")
    answers = tmp_path / "answers-ada.json"
    answers.write_text(json.dumps(converted))
    collections = sorted((out / "organiser" / "collections").iterdir())
    # the plan copies recorded the original paths: the study module finds moved collections by folder name
    args = ["study", "ingest", str(answers)] + [f"--collection={c}" for c in collections]
    assert main(args) == 0
    partial = {"rater": "bob", "answers": filled["answers"][1:]}
    template.write_text(json.dumps(partial))
    with pytest.raises(Exception, match="unanswered"):
        rater_view_answers_to_pack(template, out / "pack")


def test_excluded_digits_are_never_drawn(tmp_path: Path) -> None:
    specs = [SetSpec("a", "l0", 25.0, 30), SetSpec("b", "linf", 0.3, 30)]
    exclude_file = tmp_path / "used.json"
    exclude_file.write_text(json.dumps({"indices": list(range(100, 160))}))
    excluded = read_exclusions(exclude_file)
    chosen = choose_digits(specs, 5, (100, 230), excluded)
    drawn = [i for digits in chosen.values() for i in digits]
    assert len(drawn) == len(set(drawn)) == 60 and all(160 <= i < 230 for i in drawn)
    with pytest.raises(InvarianceError, match="after exclusions"):
        choose_digits(specs, 5, (100, 210), excluded)
    exclude_file.write_text("[1, 2, -3]")
    with pytest.raises(InvarianceError, match=r"used\.json"):
        read_exclusions(exclude_file)


def test_per_digit_rate_counts_digits_without_a_suggestion(tmp_path: Path) -> None:
    summary = tmp_path / "summary.json"
    summary.write_text(json.dumps({"sets": {
        "l0-25": {"digits": [1, 2, 3, 4], "suggestions": 3},
        "extra": {"collection": "x", "suggestions": 5},
    }}))  # fmt: skip
    rates = {"l0-25": {"ratings": 6, "success_rate": 2 / 3}, "control": {"ratings": 6, "success_rate": 1.0}}
    got = per_digit_rates(summary, rates, raters=2)
    assert set(got) == {"l0-25"}
    # 4 of 6 ratings saw the target over 3 suggestions; 4 digits asked for -> 4 / (4 * 2) = 0.5
    assert got["l0-25"] == {"digits": 4, "no_suggestion": 1, "per_digit_rate": pytest.approx(0.5)}


def test_calibration_of_several_packs_fits_on_all_their_ratings(pack, tmp_path: Path, monkeypatch, capsys) -> None:  # type: ignore[no-untyped-def]
    out, _ = pack
    mapping_file = out / "organiser" / "mapping.json"
    mapping = read_mapping_file(mapping_file)
    seen = {"rater": "ada", "answers": [{"trial": e["trial"], "answer": e["target_label"]} for e in mapping]}
    source = {"rater": "bob", "answers": [{"trial": e["trial"], "answer": e["source_label"]} for e in mapping]}
    files = []
    for data in (seen, source):
        files.append(tmp_path / f"{data['rater']}.json")
        files[-1].write_text(json.dumps(data))
    monkeypatch.setenv("INVARIANCE_CHECKPOINTS", str(tmp_path / "checkpoints"))
    (tmp_path / "checkpoints").mkdir()
    first, second = [str(mapping_file), str(files[0]), str(files[1])], [str(mapping_file), str(files[1])]
    assert main(["bench", "geninv", "--calibration", *first, "--calibration", *second, "--fit"]) == 0
    printed = capsys.readouterr().out
    assert printed.count("pack ") == 2 and printed.count("calibration (suggestions only)") == 3
    suggestions = sum(not entry["control"] for entry in mapping)
    each, pooled = printed.split("pooled over the 2 packs")
    counts = [int(n) for n in re.findall(r"rater\(s\), (\d+) ratings", each)]
    assert len(counts) == 2 and f"3 rater(s), {sum(counts)} ratings" in pooled, "pooled: every rating of both packs"
    assert main(["bench", "geninv", "--calibration", *first, "--calibration", *second, "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    (one, two), together = report["packs"], report["pooled"]["per_digit"]
    assert together and set(together) == set(one["per_digit"])
    for (
        group,
        digit,
    ) in together.items():  # per (rater, digit asked for) pair: 2 raters of the first pack, 1 of the second
        want = (2 * one["per_digit"][group]["per_digit_rate"] + two["per_digit"][group]["per_digit_rate"]) / 3
        assert (
            digit["per_digit_rate"] == pytest.approx(want) and digit["digits"] == 2 * one["per_digit"][group]["digits"]
        )
    written = json.loads((tmp_path / "checkpoints" / "geninv-judge.p_human.json").read_text())
    assert written["fitted_on"] == 3 * suggestions, "the fit pools the ratings of both packs (2 + 1 raters)"
    assert str(mapping_file) in written["note"]
    assert main(["bench", "geninv", "--calibration", *first, "--calibration", str(mapping_file)]) != 0
