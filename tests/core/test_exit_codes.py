"""One exit-code table for every sub-command (``core.cli``): 1 bad data, 2 bad usage.

The tables below must name every sub-command (checked against the parser), so a new command cannot skip them.
Interruptions (130 / 143) are tested with the long commands themselves (import, train, export).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from core.cli import build_parser, main

NO_INPUT = "{missing}"
"""Replaced by a path that does not exist."""

BAD_DATA: list[list[str]] = [
    ["data", "--verify", "--data-dir", NO_INPUT],
    ["train", "no-such-model"],
    ["zoo", "--evaluate", "no-such-model"],
    ["study", "pack", NO_INPUT, "--out", "{tmp}/pack"],
    ["study", "ingest", NO_INPUT],
    ["evaluate", NO_INPUT],
    ["export", NO_INPUT, "--format", "csv", "--out", "{tmp}/out"],
    ["import-paper", NO_INPUT, "--out", "{tmp}/coll"],
    ["import", NO_INPUT, "--out", "{tmp}/coll"],
    ["collection", NO_INPUT],
    ["collection", "show", NO_INPUT],
    ["models", "add", "mine", "--onnx", NO_INPUT, "--n", "10"],
    ["models", "list"],  # exits 0: it takes no input (listed so that the table names every command)
    ["models", "remove", "no-such-model"],
    ["scorecard", "--collections", NO_INPUT],
    ["bench", "geninv", "--calibration", NO_INPUT, "{missing}.json"],
    ["bench", "eval", "--model", "no-such-model", "--n", "2"],
    ["bench", "study-server", "--db", "nonsense://x", "--raters", "1", "--duration", "1"],
    ["study", "serve", NO_INPUT],
    ["study", "status", "--db", "sqlite:///{missing}/study.sqlite"],
    ["geninv", "--norm", "l0", "--indices", "1", "--out", "{tmp}/a-file/coll"],  # --out under a file
]
"""A missing or invalid input (file, folder, model, collection): exit 1 everywhere."""

BAD_USAGE: list[list[str]] = [
    ["data", "--no-such-option"],
    ["train", "undefended", "--jobs", "0"],
    ["train"],
    ["zoo", "--no-such-option"],
    ["bench"],
    ["bench", "geninv", "--n", "0"],
    ["bench", "eval", "--workers", "0"],
    ["bench", "eval", "--repeats", "0"],
    ["bench", "study-server", "--raters", "0"],
    ["study", "serve"],
    ["study", "status"],
    ["study"],
    ["study", "pack"],
    ["study", "ingest", "{tmp}/answers.json", "--no-such-option"],
    ["evaluate", "{tmp}", "--batch-size", "0"],
    ["export", "{tmp}", "--format", "nope", "--out", "{tmp}/out"],
    ["import-paper", "{tmp}"],
    ["import", "{tmp}", "--out", "{tmp}/coll", "--norm", "linf", "--eps", "0.3"],
    ["import", "{tmp}/x.npz", "--out", "{tmp}/coll", "--norm", "linf"],
    ["collection", "list", "{tmp}"],
    ["collection", "show", "{tmp}", "--no-such-option"],
    ["geninv", "--indices", "1", "--out", "{tmp}/coll"],
    ["geninv", "--norm", "linf", "--indices", "1", "--out", "{tmp}/coll"],
    ["geninv", "--norm", "l0", "--indices", "x", "--out", "{tmp}/coll"],
    ["models"],
    ["models", "add", "mine", "--factory", "pkg.mod:fn"],
    ["models", "add", "mine", "--onnx", "{tmp}/m.onnx", "--n", "0"],
    ["models", "list", "--no-such-option"],
    ["models", "remove"],
    ["scorecard", "--n", "0"],
    ["scorecard", "--plot", "{tmp}/plot.svg"],
]
"""The command line itself is wrong (argparse's own mistakes and option values or combinations): exit 2."""

EXEMPT = {("bench", "live")}
"""Hands every argument to the editor's benchmark in a child process (its own argparse exits 2 likewise)."""


def commands(parser: argparse.ArgumentParser, prefix: tuple[str, ...] = ()) -> set[tuple[str, ...]]:
    """Every command path (``("models", "add")``), groups included."""
    found: set[tuple[str, ...]] = set()
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found.add((*prefix, name))
                found |= commands(sub, (*prefix, name))
    return found


def command_of(argv: list[str]) -> tuple[str, ...]:
    known = commands(build_parser())
    for length in (2, 1):
        if tuple(argv[:length]) in known:
            return tuple(argv[:length])
    raise AssertionError(f"not a command: {argv}")


def exit_code(argv: list[str], tmp_path: Path) -> int:
    (tmp_path / "a-file").write_text("not a folder")
    filled = [part.format(missing=tmp_path / "missing", tmp=tmp_path) for part in argv]
    try:
        return main(filled)
    except SystemExit as leave:  # argparse's own mistakes
        return int(leave.code or 0)


def test_the_tables_name_every_command() -> None:
    named = {command_of(argv) for argv in BAD_DATA} | {command_of(argv) for argv in BAD_USAGE}
    assert commands(build_parser()) - EXEMPT - named == set()


@pytest.mark.parametrize("argv", BAD_DATA, ids=" ".join)
def test_a_missing_input_exits_1(argv: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INVARIANCE_USER_DIR", str(tmp_path / "user"))
    expected = 0 if argv == ["models", "list"] else 1
    assert exit_code(argv, tmp_path) == expected


@pytest.mark.parametrize("argv", BAD_USAGE, ids=" ".join)
def test_bad_usage_exits_2(argv: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INVARIANCE_USER_DIR", str(tmp_path / "user"))
    assert exit_code(argv, tmp_path) == 2
