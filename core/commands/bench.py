"""``invariance bench <what>``: performance figures (medians of repeated runs, machine stated).

Benchmarks print numbers; tests check correctness. Each benchmark lives next to the feature it measures and
registers its own sub-parser here.
"""

from __future__ import annotations

import argparse

from core import bench_geninv, bench_live


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        "bench", help="benchmarks: geninv (suggestion speed, quality), live (editor latency)"
    )
    benches = parser.add_subparsers(dest="bench", metavar="<benchmark>")
    bench_geninv.register_bench(benches)
    bench_live.register_bench(benches)
    parser.set_defaults(handler=lambda args: parser.print_help() or 2)
