"""Study pack -> three raters in the real page (run by node) -> ingest -> consensus -> export --label human."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from core.cli import main
from core.collection import Collection
from core.data import load_mnist
from core.study.pack import pack_plan
from tests.fixtures_study import make_collection

HARNESS = Path(__file__).parents[2] / "fixtures_study_page.js"
NODE = shutil.which("node")
LABELS = load_mnist("test")[1]
INDICES = [10, 11, 12, 13]  # test labels 0, 6, 9, 0


@pytest.mark.skipif(NODE is None, reason="node is needed to run the page's script")
def test_pack_three_raters_ingest_consensus_export(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("INVARIANCE_CHECKPOINTS", str(tmp_path / "no-models"))  # humans only: no zoo model to run
    coll = tmp_path / "coll"
    ids = make_collection(coll, INDICES, set_name="manual-linf")
    pack = tmp_path / "pack"
    assert main(["study", "pack", str(coll), "--out", str(pack), "--seed", "11"]) == 0
    plan = pack_plan(pack, [coll])
    # what each rater presses for each item (by item id); ada and bob agree on three items; cy answers 8 everywhere
    # and gets two of the four controls wrong (50% < 80%), so cy must not count
    choices = {"ada": [8, 6, 3, -1], "bob": [8, 6, 3, 5], "cy": [8, 8, 8, 8]}
    wrong_controls = {"ada": 0, "bob": 0, "cy": 2}
    answer_files = []
    for rater, labels in choices.items():
        per_item = dict(zip(ids, labels, strict=True))
        keys, wrong = [], 0
        for ref in plan.trials:
            if ref.is_clean:
                truth = int(LABELS[ref.clean_index])
                key = str((truth + 1) % 10) if wrong < wrong_controls[rater] else str(truth)
                wrong += key != str(truth)
            else:
                key = "n" if per_item[ref.item] == -1 else str(per_item[ref.item])
            keys.append(key)
        assert NODE is not None
        run = subprocess.run([NODE, str(HARNESS), str(pack), rater, *keys], capture_output=True, text=True, check=True)
        result = json.loads(run.stdout)
        assert set(result["answers"]) == {"format_version", "kind", "pack_id", "rater", "source", "started",
                                          "finished", "trials"}  # fmt: skip
        path = tmp_path / result["filename"]
        path.write_text(json.dumps(result["answers"]), encoding="utf-8")
        answer_files.append(str(path))

    capsys.readouterr()
    assert main(["study", "ingest", *answer_files, "--collection", str(coll)]) == 0
    out = capsys.readouterr().out
    assert "rater 'cy' left out of consensus and rates: 2 of 4 control digits right (50.0%)" in out
    # kept raters ada and bob: 2/2 on items 0-2 (8, 6, 3); item 3 split (-1 vs 5) -> no consensus
    expected = {ids[0]: 8, ids[1]: 6, ids[2]: 3, ids[3]: None}
    with Collection.open(coll, read_only=True) as collection:
        assert {item.id: item.human_label for item in collection.items} == expected
        assert all(set(item.human_labels) == {"ada", "bob", "cy"} for item in collection.items)

    export = tmp_path / "export"
    assert main(["export", str(coll), "--format", "imagefolder", "--out", str(export), "--label", "human"]) == 0
    exported = {p.stem: int(p.parent.name) for p in export.rglob("*.png")}
    assert exported == {item: label for item, label in expected.items() if label is not None}
    capsys.readouterr()

    # evaluate agrees: items 0 (0 -> 8) and 2 (9 -> 3) switched label; item 1 kept its 6; cy is reported excluded
    assert main(["evaluate", str(coll), "--models", "", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["sets"]["manual-linf"]["n_successful"] == 2 and report["sets"]["manual-linf"]["n_original"] == 1
    assert report["raters"]["cy"]["excluded"] and not report["raters"]["ada"]["excluded"]
    assert report["sets"]["manual-linf"]["agreement_stats"]["raters_per_item"] == {"2": 4}
    # with every rater counted, cy's 8s break the 70% consensus on items 1 and 2: the exclusion matters
    assert main(["evaluate", str(coll), "--models", "", "--json", "--min-rater-accuracy", "0"]) == 0
    everyone = json.loads(capsys.readouterr().out)
    assert everyone["sets"]["manual-linf"]["n_successful"] == 1
