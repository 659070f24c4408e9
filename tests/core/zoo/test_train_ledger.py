"""The ledger that lets ``invariance train A B C`` skip, when run again, the models an interrupted run finished."""

from __future__ import annotations

import json
from pathlib import Path

from core.training.ledger import ledger_for

SETTINGS = {"seed": 0, "device": None, "time_budget": None, "eval_n": None}


def test_the_same_command_skips_what_it_finished_until_it_completes(tmp_path: Path) -> None:
    names = ["undefended", "linf-pgd-0.1", "linf-pgd-0.3"]
    first = ledger_for(names, SETTINGS)
    assert first.remaining == names and not first.path.exists()
    first.mark_finished("undefended")
    assert json.loads(first.path.read_text())["format_version"] == 1

    again = ledger_for(names, SETTINGS)
    assert again.finished == ["undefended"] and again.remaining == ["linf-pgd-0.1", "linf-pgd-0.3"]
    assert ledger_for(names, {**SETTINGS, "seed": 1}).finished == []  # other settings: another command
    assert ledger_for(names[:2], SETTINGS).finished == []  # other models: another command
    assert ledger_for(names, SETTINGS, fresh=True).finished == []  # --force-new

    again.mark_finished("linf-pgd-0.1")
    again.mark_finished("linf-pgd-0.3")
    again.complete()
    assert ledger_for(names, SETTINGS).finished == []  # done: the next run trains afresh


def test_an_unreadable_ledger_trains_everything_again(tmp_path: Path) -> None:
    ledger = ledger_for(["undefended"], SETTINGS)
    ledger.path.parent.mkdir(parents=True, exist_ok=True)
    ledger.path.write_text("{not json")
    assert ledger_for(["undefended"], SETTINGS).finished == []
