"""``study serve|status|ingest --db`` refuse bad input with one line and exit code 1, writing nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.cli import main
from tests.fixtures_study_server import small_collection


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--db", "mysql://x/y"], "stores answers in sqlite or postgresql"),
        (["--db", "sqlite://"], "needs a file"),
        (["--completion-url", "javascript:alert(1)"], "must be an http(s) URL"),
        (["--consent", "/no/such/consent.txt"], "--consent /no/such/consent.txt: cannot read it"),
        (["--ratings-per-item", "0"], "--ratings-per-item 0 must be an integer in 1..10000"),
        (["--port", "70000"], "--port 70000 must be in 0..65535"),
    ],
)
def test_serve_refuses_bad_options(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], arguments: list[str], message: str
) -> None:
    coll = tmp_path / "coll"
    small_collection(coll, 2)
    assert main(["study", "serve", str(coll), *arguments]) == 1
    error = capsys.readouterr().err
    assert message in error and error.count("\n") == 1
    assert not (coll / "study-server.sqlite").exists()


def test_status_and_ingest_need_a_study(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "missing.sqlite"
    assert main(["study", "status", "--db", str(missing)]) == 1
    assert "no study database" in capsys.readouterr().err
    assert not missing.exists()
    empty = tmp_path / "empty.sqlite"
    empty.write_bytes(b"")
    assert main(["study", "status", "--db", str(empty)]) == 1
    assert "holds no study" in capsys.readouterr().err
    assert main(["study", "ingest", "--db", str(empty)]) == 1
    assert "holds no study" in capsys.readouterr().err
    assert main(["study", "ingest", "answers.json", "--db", str(empty)]) == 2  # usage: files or --db
    assert "give answers files or --db, not both" in capsys.readouterr().err
    assert main(["study", "ingest"]) == 2  # usage: nothing to ingest
    assert "give answers files to ingest, or --db" in capsys.readouterr().err
