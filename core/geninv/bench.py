"""GenInv benchmark: seconds per example, examples/s, the machine, and ℓ0 quality on random test digits.

Wired by the lead as ``invariance bench geninv [--norm l0|linf] [--n N] [--repeats R] [--device D]``
through :func:`register_bench`. The candidate bank (and scorer) are built once before timing; that
one-time cost is reported separately, as is a warm-up query.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import numpy as np
import torch

from core.errors import InvarianceError, UsageError

if TYPE_CHECKING:
    from core.geninv.calibration import Outcome, PHumanMapping

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
    no_suggestion: int = 0
    """Digits (of n) that got no suggestion within the budget."""
    mean_p_human: float | None = None
    weak: int = 0
    """Digits whose suggestion the judge does not see as the target (offered with a low p_human)."""
    machine: dict[str, str | int] = field(default_factory=dict)


def bench_geninv(
    norm: str = "l0",
    n: int = 20,
    repeats: int = 3,
    device: str | None = None,
    eps: float | None = None,
    pool_size: int | None = None,
) -> GenInvBench:
    """Time ``suggest_batch`` (k=1) on ``n`` random test digits (seed 0), ``repeats`` times."""
    from core.data import load_mnist
    from core.device import describe_machine, resolve_device
    from core.geninv import default_bank, load_scorer, suggest_batch
    from core.geninv.norms import search_for
    from core.images import to_float

    if n < 1 or repeats < 1:
        raise UsageError(f"bench geninv needs --n >= 1 and --repeats >= 1, got {n} and {repeats}")
    search = search_for(norm)
    if eps is None:
        eps = search.bench_eps
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
    best = [suggestions[0] for suggestions in first if suggestions]
    is_l0 = search.shapes and bool(best)
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
        convincing_fraction=float(np.mean([s.convincing for s in best])) if best else None,
        machine={
            **describe_machine(chosen),
            "cores": len(os.sched_getaffinity(0)),
            "load_average_1min": f"{os.getloadavg()[0]:.2f}",
        },
        no_suggestion=n - len(best),
        mean_p_human=float(np.mean([s.p_human for s in best])) if best else None,
        weak=sum(s.extras.get("target_reached", 1.0) <= 0 for s in best),
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
    lines.append(
        f"  no suggestion within budget: {result.no_suggestion} of {result.n} digits; weak (the judge does not "
        f"see the target): {result.weak}"
    )
    if result.convincing_fraction is not None and result.mean_p_human is not None:
        lines.append(
            f"  mean p_human: {result.mean_p_human:.3f}; convincing (p_human >= 0.5): "
            f"{100 * result.convincing_fraction:.0f}%"
        )
    return "\n".join(lines)


def register_bench(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the ``geninv`` sub-command to an ``invariance bench`` sub-parsers object."""
    parser = subparsers.add_parser("geninv", help="GenInv speed (s/example) and l0 quality")
    parser.add_argument("--norm", choices=("l0", "linf"), default="l0")
    parser.add_argument("--eps", type=float, default=None, help="budget (linf default 0.3; l0 default 25 pixels)")
    parser.add_argument("--n", type=int, default=20, help="random test digits (seed 0)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default=None, help="auto (default), cpu or cuda")
    parser.add_argument("--pool-size", type=int, default=None, help="first N training digits only")
    parser.add_argument(
        "--threads", type=int, default=None, help="torch CPU threads (default $INVARIANCE_THREADS, else 1)"
    )
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    pack = parser.add_argument_group("human study pack", "write a blind pack for raters instead of timing")
    pack.add_argument("--human-pack", metavar="OUT", help="write a blind human study pack into the new folder OUT")
    pack.add_argument("--seed", type=int, default=None, help="digit choice and shuffle seed")
    pack.add_argument("--sets", help="sets, e.g. 'l0:40,linf@0.4:20' (default: --norm/--eps with --n digits)")
    pack.add_argument("--digits", default="5000:10000", help="test index range (default held out)")
    pack.add_argument(
        "--add-collection",
        action="append",
        default=[],
        metavar="NAME=PATH",
        help="also show the items of an existing collection, as set NAME",
    )
    pack.add_argument(
        "--exclude",
        metavar="FILE",
        help='JSON list of test indices never to draw (or {"indices": [...]}), e.g. the digits earlier figures and '
        "packs used",
    )
    pack.add_argument("--print-digits", action="store_true", help="print the chosen digits, exit")
    rated = parser.add_argument_group("calibration", "rates and the p_human mapping from rated human packs")
    rated.add_argument(
        "--calibration",
        nargs="+",
        action="append",
        metavar="FILE",
        help="organiser/mapping.json of a human pack, then answers files; p_human is recomputed from each "
        "suggestion's raw score with the shipped mapping. Repeat it for several packs (each with its own answers): "
        "each is reported, then all of them pooled, and --fit fits on all their ratings together",
    )
    rated.add_argument(
        "--fit",
        action="store_true",
        help="fit the p_human mapping on these ratings (of every pack given) and write it next to the judge",
    )
    parser.set_defaults(handler=run_bench)


def run_bench(args: argparse.Namespace) -> int:
    from core.device import configure_threads
    from core.geninv.threads import geninv_threads

    configure_threads(geninv_threads(args.threads))
    if args.calibration:
        return _calibration(args.calibration, args.json, fit=args.fit)
    if args.human_pack:
        return _human_pack(args)
    result = bench_geninv(args.norm, args.n, args.repeats, args.device, args.eps, args.pool_size)
    print(json.dumps(asdict(result), indent=2) if args.json else format_bench(result))
    return 0


def _pack_specs(args: argparse.Namespace) -> list[Any]:
    from core.geninv.human_pack import SetSpec, parse_sets

    if args.sets:
        return parse_sets(args.sets)
    from core.geninv.norms import search_for

    search = search_for(args.norm)
    if search.eps_required and args.eps is None:
        raise UsageError(f"--human-pack with --norm {args.norm} needs --eps")
    if args.eps is not None:
        search.check_eps(args.eps)
    group = args.norm + (f"-{args.eps:g}" if args.eps is not None else "")
    return [SetSpec(group, args.norm, args.eps, args.n)]


def _human_pack(args: argparse.Namespace) -> int:
    from core.geninv.human_pack import build_human_pack, choose_digits, parse_range, read_exclusions

    if args.seed is None:
        raise UsageError("--human-pack needs --seed")
    specs = _pack_specs(args)
    digit_range = parse_range(args.digits)
    exclude = read_exclusions(args.exclude) if args.exclude else []
    if args.print_digits:
        print(json.dumps(choose_digits(specs, args.seed, digit_range, exclude)))
        return 0
    extra: dict[str, str] = {}
    for entry in args.add_collection:
        name, sep, path = entry.partition("=")
        if not sep or not name or not path:
            raise UsageError(f"--add-collection must look like NAME=PATH, got {entry!r}")
        extra[name] = path
    summary = build_human_pack(
        args.human_pack, specs, seed=args.seed, digit_range=digit_range, extra_collections=extra, device=args.device,
        exclude=exclude,
    )  # fmt: skip
    print(json.dumps(summary, indent=2) if args.json else _format_pack_summary(args.human_pack, summary))
    return 0


def _format_pack_summary(out: str, summary: dict[str, Any]) -> str:
    lines = [f"human pack {out}: {summary['trials']} trials, {summary['controls']} unchanged controls"]
    for name, info in summary["sets"].items():
        missing = info.get("no_suggestion_within_budget")
        tail = "" if missing is None else f"; no suggestion within budget: {len(missing)}"
        lines.append(f"  {name}: {info['suggestions']} suggestions{tail}")
    lines.append("  rater view: rater-view/ (images + answers-template.json); organiser files: organiser/")
    return "\n".join(lines)


def _calibration(sets: list[list[str]], as_json: bool, *, fit: bool = False) -> int:
    """Rates and calibration of one or more rated packs (``sets``: [mapping.json, answers...] each); with ``fit``,
    refit p_human on the ratings of every pack together first."""
    from core.geninv.calibration import fit_from_outcomes, load_mapping, outcomes, save_mapping

    packs = [_rated_pack(files) for files in sets]
    if fit:
        pooled = [rating for mapping, answers in packs for rating in outcomes(mapping, answers)]
        sources = "; ".join(
            f"{files[0]} ({len(answers)} rater(s))" for files, (_, answers) in zip(sets, packs, strict=True)
        )
        fitted = fit_from_outcomes(pooled, note=f"logistic fit on the ratings of {sources}")
        print(f"p_human mapping written to {save_mapping(fitted)}: {fitted.fitted_on} ratings; {fitted.describe()}")
    p_human = load_mapping()
    reported = [
        _pack_report(files[0], mapping, answers, p_human) for files, (mapping, answers) in zip(sets, packs, strict=True)
    ]
    reports = [report for report, _ in reported]
    pooled_report = _pooled_report(reports, [rated for _, rated in reported])
    if as_json:
        document = reports[0] if len(reports) == 1 else {"packs": reports, "pooled": pooled_report}
        print(json.dumps({**document, "p_human_mapping": p_human.to_json()}, indent=2))
        return 0
    print(f"p_human: {p_human.describe()}")
    for report in reports:
        if len(reports) > 1:
            print(f"pack {report['mapping']}:")
        _print_pack_report(report)
    if len(reports) > 1:
        print(f"pooled over the {len(reports)} packs (sets of the same name together):")
        _print_pack_report(pooled_report)
    return 0


def _pooled_report(reports: list[dict[str, Any]], rated: list[list[Outcome]]) -> dict[str, Any]:
    """One report over several rated packs (``reports`` from :func:`_pack_report`, ``rated`` their outcomes, p_human
    already recomputed): the rates and calibration table of all their ratings together, and per set the share of
    (rater, digit asked for) pairs that saw the target over every pack holding that set."""
    from core.geninv.calibration import calibration_table, success_rates

    every = [outcome for outcomes_of_pack in rated for outcome in outcomes_of_pack]
    asked: dict[str, dict[str, float]] = {}
    for report in reports:
        for group, digit in report["per_digit"].items():
            total = asked.setdefault(group, {"digits": 0, "no_suggestion": 0, "seen": 0.0, "asked": 0.0})
            pairs = report["raters"] * digit["digits"]
            total["digits"] += digit["digits"]
            total["no_suggestion"] += digit["no_suggestion"]
            total["seen"] += digit["per_digit_rate"] * pairs
            total["asked"] += pairs
    per_digit = {
        group: {"digits": int(t["digits"]), "no_suggestion": int(t["no_suggestion"]),
                "per_digit_rate": t["seen"] / t["asked"]}
        for group, t in asked.items()
    }  # fmt: skip
    raters = sum(report["raters"] for report in reports)
    return {"mapping": "pooled", "raters": raters, "ratings": len(every), "rates": success_rates(every),
            "per_digit": per_digit, "calibration": calibration_table(every)}  # fmt: skip


def _rated_pack(files: list[str]) -> tuple[list[dict[str, Any]], dict[str, dict[int, int]]]:
    """One ``--calibration`` group: (the organiser's mapping entries, {rater: {trial: answer}})."""
    from core.geninv.calibration import read_mapping_file, read_rater_answers

    if len(files) < 2:
        raise UsageError("--calibration needs the pack's organiser/mapping.json and at least one answers file")
    mapping = read_mapping_file(files[0])
    answers: dict[str, dict[int, int]] = {}
    for path in files[1:]:
        rater, given = read_rater_answers(path)
        if rater in answers:
            raise InvarianceError(f"{path}: rater {rater!r} appears twice")
        answers[rater] = given
    return mapping, answers


def _pack_report(
    mapping_file: str, mapping: list[dict[str, Any]], answers: dict[str, dict[int, int]], p_human: PHumanMapping
) -> tuple[dict[str, Any], list[Outcome]]:
    """Rates per set, per digit asked for and the calibration table of one rated pack, p_human recomputed from
    each suggestion's raw score with ``p_human`` (the mapping now stored); and the pack's rated outcomes."""
    from core.geninv.calibration import calibration_table, outcomes, recompute_p_human, success_rates
    from core.geninv.human_pack import per_digit_rates

    recompute_p_human(mapping, p_human)
    rated = outcomes(mapping, answers)
    rates, table = success_rates(rated), calibration_table(rated)
    summary = Path(mapping_file).parent / "summary.json"
    per_digit = per_digit_rates(summary, rates, len(answers)) if summary.exists() else {}
    report = {"mapping": mapping_file, "raters": len(answers), "ratings": len(rated), "rates": rates,
              "per_digit": per_digit, "calibration": table}  # fmt: skip
    return report, rated


def _print_pack_report(report: dict[str, Any]) -> None:
    print(f"{report['raters']} rater(s), {report['ratings']} ratings")
    for group, row in report["rates"].items():
        digit = report["per_digit"].get(group)
        tail = (
            f"; per digit asked for {100 * digit['per_digit_rate']:.0f}% ({digit['digits']} digits, "
            f"{digit['no_suggestion']} without a suggestion)"
            if digit
            else ""
        )
        print(
            f"  {group}: {row['ratings']} ratings, target seen {100 * row['success_rate']:.0f}% per suggestion, "
            f"source seen {100 * row['source_seen_rate']:.0f}%{tail}"
        )
    print("calibration (suggestions only): p_human bin | ratings | mean p_human | rated success")
    for entry in report["calibration"]:
        print(f"  {entry['bin']} | {entry['ratings']} | {entry['mean_p_human']:.2f} | {entry['success_rate']:.2f}")
