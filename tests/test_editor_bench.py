"""``invariance bench live`` runs the real Qt pipeline and reports latency figures."""

from __future__ import annotations

import argparse
import json

import pytest

from core import bench_live


def test_bench_live_registers_and_reports_figures(qtbot, capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    parser = argparse.ArgumentParser()
    bench_live.register_bench(parser.add_subparsers())
    args = parser.parse_args(["live", "--models", "2", "--strokes", "3", "--threads", "1", "--json"])
    assert args.handler(args) == 0
    figures = json.loads(capsys.readouterr().out)
    assert len(figures["models"]) == 2
    assert figures["latency_ms"]["n"] == 3
    assert figures["latency_ms"]["p95"] >= figures["latency_ms"]["p50"] > 0
    assert figures["projection_ms"]["p50"] <= figures["latency_ms"]["p50"]
    assert figures["machine"]["usable_cores"] >= 1 and figures["window_to_interactive_s"] > 0
