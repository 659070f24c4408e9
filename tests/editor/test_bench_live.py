"""``invariance bench live`` runs the real Qt pipeline and reports latency figures."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from editor import app, bench_live


def test_bench_live_registers_and_reports_figures(qtbot, capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    assert bench_live.main(["--models", "2", "--strokes", "3", "--threads", "1", "--json"]) == 0
    figures = json.loads(capsys.readouterr().out)
    assert len(figures["models"]) == 2
    assert figures["latency_ms"]["n"] == 3
    assert figures["latency_ms"]["p95"] >= figures["latency_ms"]["p50"] > 0
    assert figures["projection_ms"]["p50"] <= figures["latency_ms"]["p50"]
    assert figures["machine"]["usable_cores"] >= 1 and figures["window_to_interactive_s"] > 0


@pytest.mark.slow  # two fresh interpreters; the benchmark itself is run in-process above
def test_invariance_bench_live_runs_the_editor_benchmark_in_its_own_process() -> None:
    """Every argument reaches the benchmark (its own --help), and its exit code comes back (a bad option: 2)."""
    command = [sys.executable, "-m", "core.cli", "bench", "live"]
    shown = subprocess.run([*command, "--help"], capture_output=True, text=True, check=False)
    assert shown.returncode == 0 and "usage: invariance bench live" in shown.stdout and "--strokes" in shown.stdout
    refused = subprocess.run([*command, "--strokes", "x"], capture_output=True, text=True, check=False)
    assert refused.returncode == 2 and "--strokes: invalid int value: 'x'" in refused.stderr


def test_editor_bench_live_option_starts_the_benchmark(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        app.main(["--bench-live", "--help"])
    assert exited.value.code == 0
    assert "usage: invariance-editor --bench-live" in capsys.readouterr().out
