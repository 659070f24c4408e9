"""``invariance scorecard`` out of the box: no collections yet, and ``--plot`` still draws the robustness axis."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from core.cli import main
from core.zoo import scorecard
from core.zoo.scorecard_plot import write_plot


def test_without_collections_it_says_what_to_pass_and_still_plots(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("INVARIANCE_USER_DIR", str(tmp_path / "fresh-user-folder"))
    plot = tmp_path / "plot.png"
    assert main(["scorecard", "--plot", str(plot)]) == 0
    err = capsys.readouterr().err
    assert "no human-labelled collections" in err and "--collections COLL" in err and "import-paper" in err
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    rows = scorecard.scorecard([], collections=[], device=torch.device("cpu"))
    with_robust = [row for row in rows if row.robust.value is not None]
    assert with_robust and all(row.human_pooled.value is None for row in rows)
    assert write_plot(rows, tmp_path / "again.png") == len(with_robust)  # one point per model on the x axis
