"""``invariance bench eval``: the sharded reference AutoAttack on local worker processes and on Dask.

Runs the same evaluation (model, first ``n`` test images, chunk size) per worker count and, with ``--dask-local``,
on a Dask LocalCluster of the largest count, each in a fresh chunk store (nothing reused), ``--repeats`` times in
turn (configurations interleaved, so a change in the machine's load touches them alike). It reports the median wall
times, the speed-up over one worker, the overhead of Dask against the local pool, and the cores the workers actually
obtained (their CPU time over the wall time: below the worker count on a machine shared with other work, which caps
the speed-up). Every configuration must give identical per-image results; the benchmark fails otherwise.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from core.device import configure_threads, describe_machine, machine_line, resolve_device
from core.errors import InvarianceError, UsageError
from core.zoo import autoattack


def register_bench(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the ``eval`` sub-command to an ``invariance bench`` sub-parsers object."""
    parser = subparsers.add_parser("eval", help="sharded AutoAttack: --workers speed-up and --dask local overhead")
    parser.add_argument("--model", default="linf-pgd-0.3", help="zoo or user model (default linf-pgd-0.3)")
    parser.add_argument("--n", type=int, default=40, help="first N test images (default 40)")
    parser.add_argument("--chunk-size", type=int, default=10, help="images per chunk (default 10)")
    parser.add_argument("--workers", default="1,2", help="comma-separated worker counts (default 1,2)")
    parser.add_argument("--dask-local", action="store_true", help="also run on a Dask LocalCluster")
    parser.add_argument("--repeats", type=int, default=3, help="runs of each configuration; medians (default 3)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.set_defaults(handler=run_bench)


def _counts(text: str) -> list[int]:
    try:
        counts = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise UsageError(f"--workers {text!r}: give whole numbers, as in 1,2") from None
    if not counts or min(counts) < 1:
        raise UsageError(f"--workers {text!r}: give worker counts of at least 1, as in 1,2")
    return counts


def run_bench(args: argparse.Namespace) -> int:
    from core.zoo import entry
    from core.zoo.evaluation import autoattack_threat

    counts = _counts(args.workers)
    configure_threads(1)  # every configuration runs one torch thread per worker; the machine line says so
    if not 1 <= args.n <= 10_000 or args.chunk_size < 1 or args.repeats < 1:
        raise UsageError("--n must be 1 to 10000, --chunk-size and --repeats at least 1")
    model = entry(args.model)
    threat = autoattack_threat(model) if model.origin == "zoo" else None
    norm, eps = threat or (model.norm or "linf", model.eps or 0.3)
    spec = autoattack.EvalSpec(model.name, norm, eps, device="cpu")
    configurations: list[tuple[str, int, str | None]] = [(f"workers {count}", count, None) for count in counts]
    if args.dask_local:
        configurations.append((f"dask local, {max(counts)} workers", max(counts), "local"))
    runs: dict[str, list[tuple[float, float]]] = {label: [] for label, _, _ in configurations}
    reference: np.ndarray | None = None
    for repeat in range(args.repeats):
        for label, workers, dask in configurations:
            with tempfile.TemporaryDirectory(prefix="bench-eval-") as folder:
                started = time.perf_counter()
                run = autoattack.run_autoattack(
                    spec, args.n, workers=workers, dask=dask, chunk_size=args.chunk_size, store_root=Path(folder)
                )
                seconds = time.perf_counter() - started
            outcome = np.stack([run.robust, run.attack.astype(bool)])
            if reference is None:
                reference = outcome
            elif not np.array_equal(reference, outcome):
                raise InvarianceError(f"{label}: per-image results differ from {configurations[0][0]}")
            runs[label].append((seconds, run.cpu_seconds))
            print(
                f"run {repeat + 1}/{args.repeats}, {label}: {seconds:.1f} s, "
                f"{run.cpu_seconds / seconds:.2f} cores obtained",
                file=sys.stderr,
            )
    rows: list[dict[str, Any]] = []
    for label, workers, dask in configurations:
        seconds = statistics.median(wall for wall, _ in runs[label])
        cpu_seconds = statistics.median(cpu for _, cpu in runs[label])
        rows.append(
            {
                "configuration": label,
                "workers": workers,
                "dask": dask,
                "seconds": round(seconds, 1),
                "runs_seconds": [round(wall, 1) for wall, _ in runs[label]],
                "cpu_seconds": round(cpu_seconds, 1),
                "cores_obtained": round(cpu_seconds / seconds, 2),
            }
        )
    base = rows[0]["seconds"]
    for row in rows:
        row["speedup"] = round(base / row["seconds"], 2)
    pool = {row["workers"]: row["seconds"] for row in rows if row["dask"] is None}
    for row in rows:
        if row["dask"] is not None and row["workers"] in pool:
            row["overhead_vs_pool"] = round(row["seconds"] / pool[row["workers"]] - 1, 3)
    machine = describe_machine(resolve_device("cpu"))
    result = {
        "benchmark": "eval",
        "model": model.name,
        "threat": f"{norm}:{eps}",
        "n": args.n,
        "chunk_size": args.chunk_size,
        "repeats": args.repeats,
        "implementation": autoattack.implementation(),
        "machine": machine,
        "rows": rows,
    }
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    print(
        f"reference AutoAttack on {model.name} ({norm} ε={eps}), first {args.n} test images, "
        f"chunks of {args.chunk_size}; medians of {args.repeats} run(s)"
    )
    print(f"machine: {machine_line(resolve_device('cpu'))}")
    for row in rows:
        overhead = f", {row['overhead_vs_pool'] * 100:+.0f}% vs local pool" if "overhead_vs_pool" in row else ""
        print(
            f"{row['configuration']:28s} {row['seconds']:8.1f} s   speed-up {row['speedup']:.2f}x   "
            f"cores obtained {row['cores_obtained']:.2f}{overhead}"
        )
    return 0
