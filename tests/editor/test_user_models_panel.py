"""A user model (``invariance models add``) shows in the editor's model panel and predicts like its source."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from core.cli import main
from editor.state.sources import ZooSource
from editor.widgets.window import MainWindow
from tests.fixtures_editor import digits, isolated_settings
from tests.fixtures_user_models import export_onnx, tiny_classifier


def test_user_model_in_the_model_panel(qtbot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("INVARIANCE_USER_DIR", str(tmp_path / "user"))
    tiny = tiny_classifier()
    assert main(["models", "add", "mine", "--onnx", str(export_onnx(tiny, tmp_path / "t.onnx")), "--n", "500"]) == 0
    source = ZooSource()
    assert "mine" in source.available() and "undefended" in source.available()
    images, labels = digits(3)
    window = MainWindow(
        images, labels, source=source, settings=isolated_settings(tmp_path), device=torch.device("cpu"),
        models=["undefended", "mine"],
    )  # fmt: skip
    qtbot.addWidget(window)
    try:
        panel = window.model_panel
        qtbot.waitUntil(panel.up_to_date, timeout=20_000)
        assert list(panel.rows) == ["undefended", "mine"]
        expected = int(tiny(torch.from_numpy(window.state.original)[None, None]).argmax(1))
        assert panel.rows["mine"].predicted == expected
    finally:
        window.shutdown()
