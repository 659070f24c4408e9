"""``invariance collection show COLL [--json]`` lists every item."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.cli import main
from tests.fixtures_study import make_collection


def test_show_lists_every_item(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    coll = tmp_path / "coll"
    ids = make_collection(coll, [3, 1, 4, 1, 5], norm="linf", eps=0.3)
    capsys.readouterr()
    assert main(["collection", "show", str(coll)]) == 0
    lines = capsys.readouterr().out.splitlines()
    listed = [line.split()[0] for line in lines[1:-1]]
    assert listed == ids
    assert "test:3" in lines[1] and "linf" in lines[1] and "0.3" in lines[1]

    assert main(["collection", "show", str(coll), "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)["items"]
    assert [row["id"] for row in rows] == ids
    assert {row["source"] for row in rows} == {"test:3", "test:1", "test:4", "test:5"}
    assert all(row["created"] and row["intended_label"] is None for row in rows)


def test_show_refuses_a_missing_collection_and_an_unknown_action(tmp_path: Path) -> None:
    assert main(["collection", "show", str(tmp_path / "nothing")]) == 1
    assert main(["collection", "list", str(tmp_path)]) == 2
    assert main(["collection", str(tmp_path), "--json"]) == 2
