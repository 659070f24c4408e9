"""``invariance train <name>|--all``: reproduce zoo checkpoints and their model cards."""

from __future__ import annotations

import argparse
import os
import time

from core.errors import ModelError, UsageError
from core.interrupt import Interrupted
from core.training.ledger import TrainLedger
from core.zoo.cards import ModelCard, read_card
from core.zoo.registry import get_entry, list_models


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("train", help="train zoo models into checkpoints/ with their model cards")
    parser.add_argument("names", nargs="*", help="zoo model names (see 'invariance zoo')")
    parser.add_argument("--all", action="store_true", help="train every model of the zoo, in order")
    parser.add_argument(
        "--jobs",
        type=int,
        default=1,
        metavar="N",
        help="train N models at a time in child processes, each with cores/N torch threads (default 1: one by one)",
    )
    parser.add_argument(
        "--plan",
        action="store_true",
        help="print the order and the estimated times (from the model cards' training times); train nothing",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default=None, help="auto (default), cpu or cuda")
    parser.add_argument(
        "--time-budget",
        type=float,
        default=None,
        metavar="SECONDS",
        help="stop a model's training after the epoch that exceeds this",
    )
    parser.add_argument(
        "--resume",
        action="store_true",
        help="continue from the last completed epoch (the default now: the same command again resumes)",
    )
    parser.add_argument(
        "--force-new",
        action="store_true",
        help="start over: train every named model from scratch, ignoring an interrupted run's progress",
    )
    parser.add_argument("--eval-n", type=int, default=None, help="test images for robust figures (default 500)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    names = list_models() if args.all else args.names
    if not names:
        raise UsageError("name at least one model, or use --all")
    if args.resume and args.force_new:
        raise UsageError("--resume and --force-new exclude each other")
    for name in names:
        get_entry(name)
    if args.jobs < 1:
        raise UsageError(f"--jobs must be at least 1, got {args.jobs}")
    if args.plan:
        return _print_plan(names, args.jobs)
    from core.training.ledger import ledger_for

    settings = {"seed": args.seed, "device": args.device, "time_budget": args.time_budget, "eval_n": args.eval_n}
    ledger = ledger_for(names, settings, fresh=args.force_new)
    if ledger.finished:
        print(f"skipped {len(ledger.finished)} model(s) trained by an earlier run of this command: "
              f"{', '.join(ledger.finished)}")  # fmt: skip
    if args.jobs > 1:
        return _run_parallel(args, ledger)
    from core.training.run import train_model

    for name in ledger.remaining:
        try:
            card = train_model(
                name,
                seed=args.seed,
                device=args.device,
                time_budget_s=args.time_budget,
                resume=not args.force_new,
                evaluate_n=args.eval_n,
            )
        except KeyboardInterrupt as error:
            raise _interrupted(ledger, [name], error) from None
        ledger.mark_finished(name)
        _print_summary(card)
    ledger.complete()
    return 0


def _interrupted(ledger: TrainLedger, running: list[str], error: KeyboardInterrupt) -> Interrupted:
    """'interrupted: N of M models kept', with the epochs each interrupted model keeps for the next run."""
    from core.training.run import saved_epochs, state_file

    kept = []
    for name in running:
        epochs = saved_epochs(name)
        if epochs:
            kept.append(f"{name}: {epochs} of {get_entry(name).hyper.get('epochs', '?')} epochs in {state_file(name)}")
    detail = "; ".join([*kept, "the same command resumes"])
    return Interrupted(len(ledger.finished), len(ledger.names), cause=error, unit="models", detail=detail)


def _run_parallel(args: argparse.Namespace, ledger: TrainLedger) -> int:
    from core.training.jobs import child_launcher, console_path, run_jobs

    names = ledger.remaining

    threads = max(1, len(os.sched_getaffinity(0)) // args.jobs)
    launch = child_launcher(
        seed=args.seed,
        device=args.device,
        threads=threads,
        time_budget_s=args.time_budget,
        resume=not args.force_new,
        eval_n=args.eval_n,
    )
    started = time.monotonic()
    running: list[str] = []
    try:
        outcome = run_jobs(names, args.jobs, launch, finished=ledger.mark_finished, running=running)
    except KeyboardInterrupt as error:
        raise _interrupted(ledger, running, error) from None
    for name in outcome.finished:
        _print_summary(read_card(name))
    print(
        f"{len(outcome.finished)} of {len(names)} models trained in {time.monotonic() - started:.0f} s "
        f"({args.jobs} jobs, {threads} torch thread(s) each)"
    )
    if outcome.failed or outcome.skipped:
        failed = ", ".join([*outcome.failed, *outcome.skipped])
        raise ModelError(f"not trained: {failed} (see {console_path('<name>')})")
    ledger.complete()
    return 0


def _print_plan(names: list[str], jobs: int) -> int:
    from core.training.jobs import plan_jobs

    runs = plan_jobs(names, jobs)
    for run in runs:
        print(f"{run.name:<18} start {run.start_s:>7.0f} s  end {run.end_s:>7.0f} s  ({run.end_s - run.start_s:.0f} s)")
    total = sum(run.end_s - run.start_s for run in runs)
    finish = max((run.end_s for run in runs), default=0.0)
    print(
        f"{len(runs)} models, {jobs} job(s): {finish:.0f} s ({finish / 3600:.2f} h) wall time, {total:.0f} s of "
        "work in all; estimated from the training and evaluation seconds on the current model cards"
    )
    return 0


def _print_summary(card: ModelCard) -> None:
    shown = ", ".join(f"{key} {value['value']:.4f}" for key, value in card.evaluation.items() if "value" in value)
    print(f"{card.name}: {shown}  ({card.training['seconds']:.0f} s training)")
