"""An answers file that repeats a trial is refused with the pack's own range of trial orders."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.cli import main
from core.study.answers import ANSWERS_KIND, PACK_FORMAT_VERSION
from core.study.pack import pack_id_of
from tests.fixtures_study import make_collection, write_answers_json


def test_a_repeated_trial_names_the_orders_of_a_four_trial_pack(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    coll = tmp_path / "coll"
    make_collection(coll, [0, 1])
    pack = tmp_path / "pack"
    assert main(["study", "pack", str(coll), "--out", str(pack)]) == 0
    orders = [0, 1, 2, 3, 3]  # 2 items + 2 clean digits = 4 trials, the last one answered twice
    answers = write_answers_json(
        tmp_path / "answers.json",
        {
            "kind": ANSWERS_KIND,
            "format_version": PACK_FORMAT_VERSION,
            "rater": "r",
            "pack_id": pack_id_of(pack),
            "trials": [{"order": order, "answer": 1, "response_ms": 500} for order in orders],
        },
    )
    capsys.readouterr()
    assert main(["study", "ingest", str(answers), "--collection", str(coll)]) == 1
    error = capsys.readouterr().err
    assert "trial orders must be 0..3, each once" in error
    assert "trial order 3 is answered 2 times" in error
