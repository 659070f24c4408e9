"""Fuzz the CLI commands that read model cards (shipped and user): a damaged card gives exit 0 (still valid) or
exit 1 with one line ``invariance: error: ...``; never a traceback, never exit 3, and no file changes."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.paths import checkpoints_dir
from tests.core.collection.test_cli_file_fuzz import check, damage, mutations, run_cli
from tests.fixtures_study import make_collection

CHECKPOINTS = checkpoints_dir()
CARD_FUZZ = settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture(scope="module")
def zoo_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("card-fuzz") / "checkpoints"
    folder.mkdir()
    for name in ("undefended", "linf-pgd-0.3"):
        for suffix in (".json", ".safetensors"):
            shutil.copy(CHECKPOINTS / f"{name}{suffix}", folder / f"{name}{suffix}")
    return folder


@pytest.fixture(scope="module")
def collection(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A rated collection whose items have originals, so that ``evaluate`` loads every model it is given."""
    copy = tmp_path_factory.mktemp("card-fuzz-coll") / "coll"
    make_collection(copy, [0, 1, 2, 3], norm="linf", eps=0.4)
    return copy


def test_evaluate_refuses_a_named_model_whose_card_is_unreadable(
    zoo_copy: Path, collection: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    card = zoo_copy / "undefended.json"
    original = card.read_bytes()
    monkeypatch.setenv("INVARIANCE_CHECKPOINTS", str(zoo_copy))
    try:
        card.write_text("[1, 2]")
        code, err = run_cli(["evaluate", str(collection), "--models", "undefended", "--json"])
        assert code == 1 and err.startswith("invariance: error:") and "undefended" in err, err
    finally:
        card.write_bytes(original)


@CARD_FUZZ
@given(edits=mutations, which=st.sampled_from(["undefended", "linf-pgd-0.3"]))
def test_damaged_zoo_cards_give_one_line(
    zoo_copy: Path,
    collection: Path,
    monkeypatch: pytest.MonkeyPatch,
    edits: list[tuple[str, int, bytes, bytes]],
    which: str,
) -> None:
    card = zoo_copy / f"{which}.json"
    original = card.read_bytes()
    monkeypatch.setenv("INVARIANCE_CHECKPOINTS", str(zoo_copy))
    try:
        card.write_bytes(damage(original, edits))
        check(zoo_copy, ["zoo", "--json"], None)
        check(zoo_copy, ["scorecard", "--json"], None)  # zoo rows come from the cards
        check(collection, ["evaluate", str(collection), "--models", which, "--json"], None)
    finally:
        card.write_bytes(original)
