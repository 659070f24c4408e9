"""The editor's live-loop benchmark: latency of stroke -> projection -> every model's bars.

Run as ``invariance bench live [options]`` (which starts ``python -m editor.bench_live`` in its own process, so
core never imports the editor) or ``invariance-editor --bench-live [options]``.

Runs the real Qt pipeline (offscreen when there is no display): the editor's main window with N feed-forward
zoo models, real mouse events on the canvas, the budget projection in :class:`editor.state.editing.EditorState`, the
coalescing model panel and its worker thread. For each stroke event it measures the time from sending the
mouse event to the model table having shown the predictions for that edit (rows updated and painted),
including the IBP certification of the CURRENT edit for the certified models among them (``ibp-0.4``).
The window is 1280×800, the smallest screen the editor is laid out for.

Models: the feed-forward zoo checkpoints that exist (slow models such as ABS are excluded); when fewer than N
exist, copies of the available ones fill the list; when none exist, untrained networks of the registry's
architectures are used (same compute, so the same timings). The output says which.
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import json
import logging
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PyQt6.QtCore import QCoreApplication, QEvent, QEventLoop, QPointF, QSettings, Qt, QTimer
from PyQt6.QtGui import QMouseEvent
from PyQt6.QtWidgets import QApplication
from torch import nn

from core import zoo
from core.budget import get_norm
from core.certify import certified
from core.data import load_mnist
from core.device import configure_threads, describe_machine, resolve_device
from core.errors import InvarianceError
from core.zoo.architectures import build
from core.zoo.registry import ZooEntry
from editor.runtime import configure_runtime
from editor.settings import EditorSettings
from editor.state.sources import StaticSource
from editor.state.tools import Tool
from editor.widgets.canvas import DigitCanvas
from editor.widgets.window import MainWindow

log = logging.getLogger(__name__)

WINDOW_SIZE = (1280, 800)


def process_age() -> float:
    """Seconds since this process started (Linux /proc), or NaN where that is unknown."""
    try:
        ticks = int(Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()[19])
        uptime = float(Path("/proc/uptime").read_text().split()[0])
        return uptime - ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return float("nan")


def build_parser(prog: str = "invariance bench live") -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog, description="editor latency: stroke -> projection -> model bars (Qt, offscreen)", allow_abbrev=False
    )
    parser.add_argument("--models", type=int, default=8, help="number of feed-forward models (default 8)")
    parser.add_argument("--model-names", help="comma-separated zoo or user models to use instead of --models")
    parser.add_argument("--strokes", type=int, default=200, help="stroke events to time (default 200)")
    parser.add_argument("--norm", default="linf", choices=("l0", "l1", "l2", "linf"), help="budget norm")
    parser.add_argument("--eps", type=float, default=None, help="budget ε (default: the norm's, 0.3 for ℓ∞)")
    parser.add_argument("--brush", type=int, default=2, help="brush size in pixels (default 2)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads of the GUI thread (default 1)")
    parser.add_argument(
        "--inference-threads", type=int, default=1, help="torch threads of the inference worker (default 1)"
    )
    parser.add_argument("--device", default="cpu", help="auto, cpu or cuda (default cpu)")
    parser.add_argument("--index", type=int, default=0, help="MNIST test digit to paint on")
    parser.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    return parser


def main(argv: Sequence[str] | None = None, prog: str = "invariance bench live") -> int:
    """Parse ``argv`` (default: the command line), run the benchmark, print its figures; the exit code."""
    args = build_parser(prog).parse_args(argv)
    try:
        return run_live(args)
    except InvarianceError as error:
        print(f"{prog.split()[0]}: error: {error}", file=sys.stderr)
        return 1


def bench_models(count: int, names: str | None = None) -> tuple[dict[str, tuple[Any, nn.Module]], str]:
    """``count`` feed-forward models as a StaticSource table, and a sentence saying where they came from."""

    def info_of(name: str, shown: str) -> ZooEntry:
        return dataclasses.replace(zoo.entry(name), name=shown, slow=False)

    fast = [name for name in zoo.available_models() if not zoo.entry(name).slow]  # zoo first, then user models
    if names:
        fast = [zoo.entry(name.strip()).name for name in names.split(",")]
        count = len(fast)
    table: dict[str, tuple[ZooEntry, nn.Module]] = {}
    if fast:
        loaded = [(name, zoo.load(name, device="cpu")) for name in fast[:count]]
        for position in range(count):
            name, model = loaded[position % len(loaded)]
            shown = name if position < len(loaded) else f"{name}#{position // len(loaded) + 1}"
            table[shown] = (info_of(name, shown), model if position < len(loaded) else copy.deepcopy(model))
        origin = f"real checkpoints: {', '.join(n for n, _ in loaded)}"
        if len(loaded) < count:
            origin += f" (+{count - len(loaded)} copies of them: fewer than {count} feed-forward checkpoints exist)"
        return table, origin
    registry = [name for name in zoo.list_models() if not zoo.ZOO[name].slow]
    for position in range(count):
        name = registry[position % len(registry)]
        shown = name if position < len(registry) else f"{name}#{position // len(registry) + 1}"
        table[shown] = (info_of(name, shown), build(zoo.ZOO[name].architecture).eval())
    return table, "NO checkpoints exist yet: untrained networks of the registry architectures (same compute)"


def run_live(args: argparse.Namespace) -> int:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    norm = get_norm(args.norm)
    args.eps = norm.validate_eps(norm.eps_default if args.eps is None else args.eps, where="--eps")
    device = resolve_device(args.device)
    started = time.perf_counter()
    configure_runtime()  # what invariance-editor does at start
    threads = configure_threads(args.threads)
    app = QApplication.instance() or QApplication(["invariance-bench-live"])
    images, labels = load_mnist("test")
    table, origin = bench_models(args.models, args.model_names)
    with tempfile.TemporaryDirectory() as scratch:
        settings = EditorSettings(QSettings(str(Path(scratch) / "bench.ini"), QSettings.Format.IniFormat))
        settings.norm = args.norm
        settings.set_eps(args.norm, args.eps)
        settings.index = args.index
        before_window = time.perf_counter()
        window = MainWindow(
            images,
            labels,
            source=StaticSource(table, certifier=certified),
            settings=settings,
            device=device,
            models=list(table),
            inference_threads=args.inference_threads,
        )
        window.resize(*WINDOW_SIZE)
        window.show()
        panel = window.model_panel

        def wait_current(timeout_s: float = 60.0) -> bool:
            """Run the event loop until the panel shows predictions for the current edit (no polling)."""
            if panel.up_to_date():
                return True
            loop = QEventLoop()

            def check(_result: object) -> None:
                if panel.up_to_date():
                    loop.quit()

            panel.sigPredictionsUpdated.connect(check)
            timer = QTimer()
            timer.setSingleShot(True)
            timer.timeout.connect(loop.quit)
            timer.start(int(timeout_s * 1000))
            loop.exec()
            timer.stop()
            panel.sigPredictionsUpdated.disconnect(check)
            return panel.up_to_date()

        wait_current()
        app.processEvents()
        interactive = time.perf_counter()
        process_to_interactive = process_age()
        cpu_to_interactive = time.process_time()
        load_before = os.getloadavg()[0]
        latencies, projections, inference, cpu, edit_certified = _time_strokes(window, app, args, wait_current)
        load_after = os.getloadavg()[0]
        window.shutdown()
        window.close()

    figures = {
        "machine": {**describe_machine(device), "qt_platform": os.environ.get("QT_QPA_PLATFORM", "default")},
        "models": list(table),
        "model_origin": origin,
        "norm": args.norm,
        "eps": args.eps,
        "strokes_timed": len(latencies),
        "latency_ms": _summary(latencies),
        "projection_ms": _summary(projections),
        "inference_ms_per_call": _summary(inference),
        "certified_models": [name for name, (info, _) in table.items() if info.certified],
        "edit_certificates_per_stroke": edit_certified,
        "window_size": list(WINDOW_SIZE),
        "cpu_ms_per_stroke": _summary(cpu),
        "load_average_1min": [load_before, load_after],
        "window_to_interactive_s": interactive - before_window,
        "command_to_interactive_s": interactive - started,
        "process_to_interactive_s": process_to_interactive,
        "process_cpu_to_interactive_s": cpu_to_interactive,
        "torch_threads_gui": threads,
        "torch_threads_inference": args.inference_threads,
    }
    if args.json:
        print(json.dumps(figures, indent=2))
    else:
        _print(figures)
    return 0


def _time_strokes(
    window: MainWindow, app: QCoreApplication, args: argparse.Namespace, wait_current: Callable[..., bool]
) -> tuple[list[float], list[float], list[float], list[float], int]:
    """Drag across rows, timing each mouse-move event until the panel has shown predictions for the edit."""
    canvas, state, panel = window.canvas, window.state, window.model_panel
    state.set_value(1.0)
    state.set_brush_size(args.brush)
    shown: list[Any] = []
    panel.sigPredictionsUpdated.connect(shown.append)
    latencies: list[float] = []
    projections: list[float] = []
    inference: list[float] = []
    cpu: list[float] = []
    certificates: list[int] = []  # per timed stroke: certified models whose edit status came with the result
    stroke = 0
    events = 0
    while len(latencies) < args.strokes:
        if events > 50 * args.strokes:
            raise RuntimeError("strokes stopped changing the image; try another --index or budget")
        # Paint a row with the brush, then erase the same row (restoring the original frees the budget), so
        # every pass changes pixels again under any norm.
        row = 3 + ((stroke // 2) * 3) % 22
        state.set_tool(Tool.BRUSH if stroke % 2 == 0 else Tool.ERASER)
        cells = [(row, col) for col in range(2, 26)]
        _send(canvas, QEvent.Type.MouseButtonPress, cells[0])
        app.processEvents()
        wait_current()
        for cell in cells[1:]:
            if len(latencies) >= args.strokes:
                break
            events += 1
            before = state.edited.copy()
            shown.clear()
            c0 = time.process_time()
            t0 = time.perf_counter()
            _send(canvas, QEvent.Type.MouseMove, cell)
            t1 = time.perf_counter()
            if np.array_equal(before, state.edited):
                continue  # nothing changed: no prediction is due
            if not wait_current(30.0):
                raise RuntimeError("the model panel did not answer within 30 s")
            app.processEvents()  # paint the updated bars
            t2 = time.perf_counter()
            cpu.append(1000 * (time.process_time() - c0))
            latencies.append(1000 * (t2 - t0))
            projections.append(1000 * (t1 - t0))
            inference.extend(1000 * result.seconds for result in shown)
            certificates.append(sum(v is not None for result in shown for v in result.edit_certified.values()))
        _send(canvas, QEvent.Type.MouseButtonRelease, cells[-1])
        app.processEvents()
        stroke += 1
    return latencies, projections, inference, cpu, (min(certificates) if certificates else 0)


def _send(canvas: DigitCanvas, kind: QEvent.Type, cell: tuple[int, int]) -> None:
    viewport = canvas.edited_view.viewport()
    point = QPointF(canvas.cell_center(*cell))
    left, none = Qt.MouseButton.LeftButton, Qt.MouseButton.NoButton
    button = none if kind.name == "MouseMove" else left
    buttons = none if kind.name == "MouseButtonRelease" else left
    event = QMouseEvent(kind, point, viewport.mapToGlobal(point), button, buttons, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(viewport, event)


def _summary(values: list[float]) -> dict[str, float]:
    if not values:
        return {}
    ordered = np.sort(np.asarray(values))
    return {
        "p50": float(np.percentile(ordered, 50)),
        "p95": float(np.percentile(ordered, 95)),
        "max": float(ordered[-1]),
        "mean": float(statistics.fmean(values)),
        "n": len(values),
    }


def _print(figures: dict[str, Any]) -> None:
    machine = figures["machine"]
    print(
        f"machine: {machine['cpu']}; {machine['usable_cores']} usable cores; torch {machine['torch']} with "
        f"{figures['torch_threads_gui']} thread(s) in the GUI thread, {figures['torch_threads_inference']} in the "
        f"inference worker; device {machine['device']}; Qt platform {machine['qt_platform']}"
    )
    print(f"models ({len(figures['models'])}): {', '.join(figures['models'])}")
    print(f"  from {figures['model_origin']}")
    print(f"budget: {figures['norm']} ε={figures['eps']:g}; {figures['strokes_timed']} stroke events timed")
    certified = figures["certified_models"]
    print(
        f"certified models: {', '.join(certified) or 'none'}; IBP status of the current edit timed with every stroke "
        f"for {figures['edit_certificates_per_stroke']} of them (fewest over the strokes)"
    )
    before, after = figures["load_average_1min"]
    print(f"machine load average (1 min) during the run: {before:.2f} -> {after:.2f} (other processes share the CPUs)")
    for key, title in (
        ("latency_ms", "stroke -> bars updated"),
        ("projection_ms", "  of which the mouse event on the GUI thread (projection, redraw, request)"),
        ("inference_ms_per_call", "  worker call, all models"),
        ("cpu_ms_per_stroke", "CPU time of this process per stroke event (all threads)"),
    ):
        s = figures[key]
        if s:
            print(f"{title}: p50 {s['p50']:.2f} ms, p95 {s['p95']:.2f} ms, max {s['max']:.2f} ms (n={s['n']})")
    print(
        f"start to interactive (models loaded, first predictions shown): {figures['window_to_interactive_s']:.2f} s "
        f"from window construction, {figures['command_to_interactive_s']:.2f} s from the command handler, "
        f"{figures['process_to_interactive_s']:.2f} s from process start "
        f"(of which {figures['process_cpu_to_interactive_s']:.2f} s CPU time of this process)"
    )
    target = figures["latency_ms"].get("p95", float("inf"))
    print(f"target p95 <= 16 ms: {'met' if target <= 16 else 'NOT met'}")


if __name__ == "__main__":
    sys.exit(main())
