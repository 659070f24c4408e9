"""``invariance train <name>|--all``: reproduce zoo checkpoints and their model cards."""

from __future__ import annotations

import argparse

from core.errors import ModelError
from core.zoo.registry import get_entry, list_models


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser("train", help="train zoo models into checkpoints/ with their model cards")
    parser.add_argument("names", nargs="*", help="zoo model names (see 'invariance zoo')")
    parser.add_argument("--all", action="store_true", help="train every model of the zoo, in order")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default=None, help="auto (default), cpu or cuda")
    parser.add_argument(
        "--time-budget",
        type=float,
        default=None,
        metavar="SECONDS",
        help="stop a model's training after the epoch that exceeds this",
    )
    parser.add_argument("--resume", action="store_true", help="continue from the last completed epoch")
    parser.add_argument("--eval-n", type=int, default=None, help="test images for robust figures (default 500)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from core.train import train_model

    names = list_models() if args.all else args.names
    if not names:
        raise ModelError("name at least one model, or use --all")
    for name in names:
        get_entry(name)
    for name in names:
        card = train_model(
            name,
            seed=args.seed,
            device=args.device,
            time_budget_s=args.time_budget,
            resume=args.resume,
            evaluate_n=args.eval_n,
        )
        shown = ", ".join(f"{key} {value['value']:.4f}" for key, value in card.evaluation.items() if "value" in value)
        print(f"{name}: {shown}  ({card.training['seconds']:.0f} s training)")
    return 0
