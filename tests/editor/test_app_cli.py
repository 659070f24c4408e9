"""The ``invariance-editor`` command renders a screenshot and exits (subprocess, offscreen)."""

from __future__ import annotations

from pathlib import Path

from tests.fixtures_editor import run_editor


def test_screenshot_option_writes_a_png(tmp_path: Path) -> None:
    shot = tmp_path / "window.png"
    budget = ("--norm", "linf", "--eps", "0.3")
    done = run_editor(
        tmp_path, "--index", "7", *budget, "--collection", str(tmp_path / "coll"), "--create", "--screenshot", str(shot)
    )
    assert done.returncode == 0, done.stderr
    assert f"screenshot written to {shot}" in done.stdout
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 10_000
    settings = (tmp_path / "config" / "InvarianceLab" / "Editor.conf").read_text()
    assert "index=7" in settings and "eps_linf=0.3" in settings  # remembered for the next start


def test_bad_arguments_give_one_line_and_exit_code_1(tmp_path: Path) -> None:
    done = run_editor(tmp_path, "--index", "99999")
    assert done.returncode == 1
    assert done.stderr.strip().splitlines()[-1].startswith("invariance-editor: error: --index")
