"""``invariance scorecard NAME…``: your models beside every zoo model (clean, AutoAttack, PGD, IBP, humans)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from core.commands.zoo import add_sharding_arguments


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "scorecard",
        help="score models (user or zoo) beside every zoo model: clean, AutoAttack, PGD, IBP, human agreement",
    )
    parser.add_argument(
        "names", nargs="*", metavar="NAME", help="models to measure now (user or zoo); none: the zoo's cards only"
    )
    shown = parser.add_mutually_exclusive_group()
    shown.add_argument("--json", action="store_true", help="print the rows as JSON")
    shown.add_argument("--markdown", action="store_true", help="print a Markdown table")
    parser.add_argument("--plot", metavar="PNG", type=Path, help="also write agreement-with-humans vs robustness")
    parser.add_argument("--n", type=int, default=1000, help="test images for the robust figures (default 1000)")
    parser.add_argument(
        "--collections",
        nargs="*",
        default=None,
        help="human-labelled collections (default: every collection in the user folder)",
    )
    parser.add_argument(
        "--threat",
        action="append",
        default=[],
        metavar="NORM:EPS",
        help="measure the named models at this threat (repeatable: --threat linf:0.3 --threat l2:2.0 --threat l1:10); "
        "default: each model's own threat model, ℓ∞ 0.3 for a user model without one",
    )
    parser.add_argument("--device", default=None, help="auto (default), cpu or cuda")
    add_sharding_arguments(parser)
    parser.set_defaults(handler=run)


def parse_threats(texts: list[str]) -> list[tuple[str, float]]:
    """``["linf:0.3", "l2:2"]`` -> ``[("linf", 0.3), ("l2", 2.0)]``, in order, without repeats; only norms with an
    AutoAttack (linf, l2, l1). Raises :class:`InvarianceError` with one line naming the bad value."""
    from core.errors import ModelError
    from core.zoo import autoattack
    from core.zoo.user import parse_threat

    threats = []
    for text in texts:
        norm, eps = parse_threat(text)
        if not autoattack.supports(norm):
            raise ModelError(f"--threat {text!r}: no AutoAttack for {norm}; choose linf, l2 or l1")
        threats.append((norm, eps))
    return list(dict.fromkeys(threats))


def run(args: argparse.Namespace) -> int:
    from core.device import configure_threads, resolve_device
    from core.errors import InvarianceError, ModelError
    from core.zoo import scorecard

    try:
        threats = parse_threats(args.threat)
    except InvarianceError as error:
        print(f"invariance scorecard: error: {error}", file=sys.stderr)
        return 2
    if threats and not args.names:
        print("invariance scorecard: error: --threat needs the models to measure (NAME ...)", file=sys.stderr)
        return 2
    if not 1 <= args.n <= 10_000:
        raise ModelError(f"--n {args.n}: choose 1 to 10000 test images")
    if args.plot is not None and args.plot.suffix.lower() != ".png":
        raise ModelError(f"--plot {args.plot}: the plot is a .png file")
    collections = (
        scorecard.require_collections(args.collections)
        if args.collections is not None
        else scorecard.discover_collections()
    )
    configure_threads()
    rows = scorecard.scorecard(
        args.names,
        n=args.n,
        threats=threats,
        sharding=scorecard.Sharding(args.workers, args.dask),
        collections=collections,
        device=resolve_device(args.device),
        progress=lambda message: print(message, file=sys.stderr),
    )
    if args.plot is not None:
        from core.zoo.scorecard_plot import write_plot

        points = write_plot(rows, args.plot)
        print(f"wrote {args.plot} ({points} models)", file=sys.stderr)
    if args.json:
        print(json.dumps({"n": args.n, "collections": [str(path) for path in collections],
                          "rows": [row.to_json() for row in rows]}, indent=2))  # fmt: skip
    elif args.markdown:
        print(scorecard.markdown(rows, args.n))
    else:
        print(scorecard.text(rows))
    return 0
