"""``invariance bench <what>``: performance figures (medians of repeated runs, machine stated).

Benchmarks print numbers; tests check correctness. Each benchmark lives next to the feature it measures and
registers its own sub-parser here. The live benchmark drives the editor's window, so it lives in
``editor.bench_live`` and runs in its own process: core never imports the editor.
"""

from __future__ import annotations

import argparse
import subprocess
import sys

from core import bench_geninv
from core.commands import help_handler
from core.zoo import bench_eval


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "bench", help="benchmarks: geninv (suggestion speed, quality), eval (sharded AutoAttack), live (editor latency)"
    )
    benches = parser.add_subparsers(dest="bench", metavar="<benchmark>")
    bench_geninv.register_bench(benches)
    bench_eval.register_bench(benches)
    # Every argument, --help included, goes to the editor's benchmark, which parses them: no prefix character
    # here, so argparse takes each of them as a plain value.
    live = benches.add_parser(
        "live",
        help="editor latency: stroke -> projection -> model bars (Qt, offscreen)",
        prefix_chars="\0",
        add_help=False,
    )
    live.add_argument("arguments", nargs="*", help="the options of the editor's benchmark (see --help)")
    live.set_defaults(handler=run_live)
    parser.set_defaults(handler=help_handler(parser))


def run_live(args: argparse.Namespace) -> int:
    """``python -m editor.bench_live ARGUMENTS`` in a child process, whose output and exit code are this command's."""
    return subprocess.run([sys.executable, "-m", "editor.bench_live", *args.arguments], check=False).returncode
