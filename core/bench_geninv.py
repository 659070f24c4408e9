"""GenInv benchmark: seconds per example, examples/s, the machine, and ℓ0 quality on random test digits.

Wired by the lead as ``invariance bench geninv [--norm l0|linf] [--n N] [--repeats R] [--device D]``
through :func:`register_bench`. The candidate bank (and scorer) are built once before timing; that
one-time cost is reported separately, as is a warm-up query.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from dataclasses import asdict, dataclass, field
from typing import Final

import numpy as np
import torch

from core.errors import InvarianceError

BENCH_SEED: Final = 0


@dataclass(frozen=True)
class GenInvBench:
    """Benchmark figures; ``mean_l0_binary`` / ``mean_l0`` only for ℓ0 (None for ℓ∞)."""

    norm: str
    eps: float | None
    n: int
    repeats: int
    seconds_per_example: list[float]
    median_seconds_per_example: float
    median_cpu_seconds_per_example: float
    """Process CPU time (all threads) per example: robust to other jobs sharing the cores."""
    examples_per_second: float
    one_time_seconds: float
    warmup_seconds: float
    mean_l0_binary: float | None
    mean_l0: float | None
    convincing_fraction: float | None
    machine: dict[str, str | int] = field(default_factory=dict)


def machine_description(device: torch.device) -> dict[str, str | int]:
    """CPU model, usable cores, torch threads and the device (with the GPU name)."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    described = str(device)
    if device.type == "cuda":
        described += f" ({torch.cuda.get_device_name(device)})"
    return {
        "cpu": cpu,
        "cores": len(os.sched_getaffinity(0)),
        "torch_threads": torch.get_num_threads(),
        "device": described,
        "load_average_1min": f"{os.getloadavg()[0]:.2f}",
    }


def bench_geninv(
    norm: str = "l0",
    n: int = 20,
    repeats: int = 3,
    device: str | None = None,
    eps: float | None = None,
    pool_size: int | None = None,
) -> GenInvBench:
    """Time ``suggest_batch`` (k=1) on ``n`` random test digits (seed 0), ``repeats`` times."""
    from core.data import load_mnist, to_float
    from core.device import resolve_device
    from core.geninv import default_bank, load_scorer, suggest_batch

    if n < 1 or repeats < 1:
        raise InvarianceError(f"bench geninv needs --n >= 1 and --repeats >= 1, got {n} and {repeats}")
    if norm == "linf" and eps is None:
        eps = 0.3
    chosen = resolve_device(device)
    started = time.perf_counter()
    images, labels = load_mnist("test")
    bank = default_bank(chosen, pool_size)
    scorer = load_scorer(chosen)
    one_time = time.perf_counter() - started
    indices = np.sort(np.random.default_rng(BENCH_SEED).choice(labels.shape[0], size=n, replace=False))
    queries = to_float(images[indices])
    query_labels = labels[indices]
    warm = time.perf_counter()
    suggest_batch(queries[:1], query_labels[:1], norm, eps, k=1, bank=bank, scorer=scorer)
    warmup = time.perf_counter() - warm
    per_example: list[float] = []
    cpu_per_example: list[float] = []
    first = None
    for _ in range(repeats):
        if chosen.type == "cuda":
            torch.cuda.synchronize(chosen)
        tick, cpu_tick = time.perf_counter(), time.process_time()
        results = suggest_batch(queries, query_labels, norm, eps, k=1, bank=bank, scorer=scorer)
        if chosen.type == "cuda":
            torch.cuda.synchronize(chosen)
        per_example.append((time.perf_counter() - tick) / n)
        cpu_per_example.append((time.process_time() - cpu_tick) / n)
        first = first or results
    assert first is not None
    median = statistics.median(per_example)
    best = [suggestions[0] for suggestions in first]
    is_l0 = norm == "l0"
    return GenInvBench(
        norm=norm,
        eps=eps,
        n=n,
        repeats=repeats,
        seconds_per_example=[round(value, 4) for value in per_example],
        median_seconds_per_example=median,
        median_cpu_seconds_per_example=statistics.median(cpu_per_example),
        examples_per_second=1.0 / median if median > 0 else float("inf"),
        one_time_seconds=one_time,
        warmup_seconds=warmup,
        mean_l0_binary=float(np.mean([s.distortion["l0_binary"] for s in best])) if is_l0 else None,
        mean_l0=float(np.mean([s.distortion["l0"] for s in best])) if is_l0 else None,
        convincing_fraction=float(np.mean([s.convincing for s in best])),
        machine=machine_description(chosen),
    )


def format_bench(result: GenInvBench) -> str:
    """Human-readable report."""
    machine = result.machine
    lines = [
        f"GenInv {result.norm}" + (f" eps={result.eps}" if result.eps is not None else "") + f" on {result.n} "
        f"random MNIST test digits (seed {BENCH_SEED}), {result.repeats} repeats",
        f"  median seconds per example: {result.median_seconds_per_example:.4f}  "
        f"(repeats: {', '.join(f'{v:.4f}' for v in result.seconds_per_example)})",
        f"  median CPU seconds per example (all threads of this process): {result.median_cpu_seconds_per_example:.4f}",
        f"  examples per second: {result.examples_per_second:.2f}",
        f"  one-time bank + scorer build: {result.one_time_seconds:.2f} s; "
        f"warm-up query: {result.warmup_seconds:.2f} s",
        f"  machine: {machine.get('cpu')}, {machine.get('cores')} cores, {machine.get('torch_threads')} torch "
        f"threads, device {machine.get('device')}, load average {machine.get('load_average_1min')}",
    ]
    if result.mean_l0_binary is not None:
        lines.append(
            f"  quality: mean pixels changed by more than 1/2: {result.mean_l0_binary:.2f}; "
            f"mean pixels changed at all (> 1/510): {result.mean_l0:.2f}"
        )
    if result.convincing_fraction is not None:
        lines.append(f"  convincing to the generative scorer: {100 * result.convincing_fraction:.0f}%")
    return "\n".join(lines)


def register_bench(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the ``geninv`` sub-command to an ``invariance bench`` sub-parsers object."""
    parser = subparsers.add_parser("geninv", help="GenInv speed (s/example) and l0 quality")
    parser.add_argument("--norm", choices=("l0", "linf"), default="l0")
    parser.add_argument("--eps", type=float, default=None, help="budget (linf default 0.3; l0 default none)")
    parser.add_argument("--n", type=int, default=20, help="random test digits (seed 0)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default=None, help="auto (default), cpu or cuda")
    parser.add_argument("--pool-size", type=int, default=None, help="first N training digits only")
    parser.add_argument(
        "--threads", type=int, default=None, help="torch CPU threads (default $INVARIANCE_THREADS, else 1)"
    )
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.set_defaults(handler=run_bench)


def run_bench(args: argparse.Namespace) -> int:
    from core.commands.geninv import geninv_threads
    from core.device import configure_threads

    configure_threads(geninv_threads(args.threads))
    result = bench_geninv(args.norm, args.n, args.repeats, args.device, args.eps, args.pool_size)
    print(json.dumps(asdict(result), indent=2) if args.json else format_bench(result))
    return 0
