"""The ``invariance-editor`` command renders a screenshot and exits (subprocess, offscreen)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def test_screenshot_option_writes_a_png(tmp_path: Path) -> None:
    shot = tmp_path / "window.png"
    env = dict(
        os.environ,
        QT_QPA_PLATFORM="offscreen",
        XDG_CONFIG_HOME=str(tmp_path / "config"),
        XDG_DATA_HOME=str(tmp_path / "data"),
        INVARIANCE_THREADS="1",
    )
    command = [sys.executable, "-c", "from editor.app import run; run()", "--index", "7", "--norm", "linf"]
    command += ["--eps", "0.3", "--device", "cpu", "--collection", str(tmp_path / "coll"), "--screenshot", str(shot)]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert f"screenshot written to {shot}" in done.stdout
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 10_000
    settings = (tmp_path / "config" / "InvarianceLab" / "Editor.conf").read_text()
    assert "index=7" in settings and "eps_linf=0.3" in settings  # remembered for the next start


def test_bad_arguments_give_one_line_and_exit_code_1(tmp_path: Path) -> None:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", XDG_CONFIG_HOME=str(tmp_path / "config"))
    command = [sys.executable, "-c", "from editor.app import run; run()", "--index", "99999"]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines()[-1].startswith("invariance-editor: error: --index")
