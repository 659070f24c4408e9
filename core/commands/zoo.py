"""``invariance zoo``: list the models with their card figures, evaluate, or audit them."""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import TYPE_CHECKING, Any, Final

from core.zoo import ZOO, available_models, load_card
from core.zoo import entry as model_entry

if TYPE_CHECKING:
    from core.zoo.evaluation import AuditRow


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("zoo", help="list, evaluate or audit the model zoo")
    parser.add_argument("--json", action="store_true", help="print the listing or audit as JSON")
    parser.add_argument("--markdown", action="store_true", help="print the listing or audit as a Markdown table")
    parser.add_argument("--audit", action="store_true", help="re-measure every card figure and compare")
    parser.add_argument("--evaluate", metavar="NAME", help="measure NAME's card figures and write them to its card")
    parser.add_argument(
        "--independent",
        metavar="NAME",
        help="robust accuracy of NAME under ART's AutoPGD vs ours (gradient-masking audit)",
    )
    parser.add_argument(
        "--autoattack",
        metavar="NAME",
        help="robust accuracy of NAME under the reference AutoAttack (pyautoattack, standard) at its ℓ∞/ℓ2/ℓ1 "
        "threat model, with per-image results, written beside its card (default --n 1000); resumable",
    )
    parser.add_argument("--models", help="comma-separated subset (default: every trained model)")
    parser.add_argument("--n", type=int, default=None, help="test images (audit default 500)")
    parser.add_argument("--restarts", type=int, default=5, help="PGD restarts in the audit (as the cards)")
    parser.add_argument("--device", default=None, help="auto (default), cpu or cuda")
    add_sharding_arguments(parser)
    parser.set_defaults(handler=run)


def add_sharding_arguments(parser: argparse.ArgumentParser) -> None:
    """``--workers N`` and ``--dask URL|local``: where sharded evaluations run (see ``core.sharding``)."""
    parser.add_argument(
        "--workers",
        type=_positive_int,
        default=1,
        help="local worker processes with one torch thread each (default 1: in this process); with --dask: "
        "the LocalCluster's workers",
    )
    parser.add_argument(
        "--dask",
        metavar="URL",
        default=None,
        help="run the chunks on a Dask cluster: tcp://scheduler:8786, or 'local' for a LocalCluster",
    )


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text}: must be at least 1")
    return value


def run(args: argparse.Namespace) -> int:
    from core.device import configure_threads
    from core.errors import ModelError
    from core.zoo import evaluation

    configure_threads()  # $INVARIANCE_THREADS, else every usable core

    if args.evaluate:
        card = evaluation.evaluate_card(args.evaluate, device=args.device, robust_n=args.n)
        print(json.dumps(card.evaluation, indent=2))
        return 0
    if args.independent:
        print(json.dumps(evaluation.independent_attack(args.independent, n=args.n or 200, device=args.device)))
        return 0
    if args.autoattack:
        if args.n is not None and not 1 <= args.n <= 10_000:
            raise ModelError(f"--n {args.n}: choose 1 to 10000 test images")
        record = evaluation.evaluate_autoattack(
            args.autoattack,
            n=args.n,
            device=args.device,
            workers=args.workers,
            dask=args.dask,
            report=lambda message: print(message, file=sys.stderr),
        )
        print(json.dumps(record, indent=2))
        return 0
    names = [model_entry(name).name for name in args.models.split(",")] if args.models else available_models()
    if args.audit:
        return _audit(names, args)
    trained = set(available_models())
    rows: list[dict[str, Any]] = []
    for name, entry in ZOO.items():
        recorded = load_card(name).evaluation if name in trained else {}
        figures = {key: value.get("value", value.get("art_autopgd")) for key, value in recorded.items()}
        rows.append(
            {
                "name": name,
                "family": entry.family,
                "norm": entry.norm,
                "eps": entry.eps,
                "trained": name in trained,
                "figures": figures,
                "records": recorded,
            }
        )
    if args.json:
        print(json.dumps([{key: value for key, value in row.items() if key != "records"} for row in rows], indent=2))
        return 0
    if args.markdown:
        print(_markdown_listing(rows))
        return 0
    for row in rows:
        shown = "  ".join(f"{key}={value}" for key, value in row["figures"].items())
        threat = f"{row['norm']} ε={row['eps']}" if row["norm"] else "-"
        print(f"{row['name']:18s} {row['family']:22s} {threat:14s} {shown if row['trained'] else '(not trained)'}")
    return 0


def _audit(names: list[str], args: argparse.Namespace) -> int:
    from core.zoo.evaluation import audit

    started = time.monotonic()
    rows = audit(names, n=args.n or 500, restarts=args.restarts, device=args.device)
    total = time.monotonic() - started
    worst = max((abs(row.difference) for row in rows if row.difference is not None), default=0.0)
    if args.json:
        print(
            json.dumps(
                {
                    "seconds": round(total, 1),
                    "max_abs_difference": round(worst, 4),
                    "rows": [{**row.__dict__, "difference": row.difference} for row in rows],
                },
                indent=2,
            )
        )
        return 0
    if args.markdown:
        print("| model | figure | card | audit | difference | n | seconds |")
        print("|---|---|---|---|---|---|---|")
        for row in rows:
            print(f"| {' | '.join(_audit_cells(row, markdown=True))} |")
        print(f"\nAudit of {len(names)} models in {total:.0f} s; largest |difference| {worst * 100:.1f} points.")
        return 0
    print(_plain_line(("model", "figure", "card", "audit", "diff", "n", "s")))
    for row in rows:
        print(_plain_line(_audit_cells(row, markdown=False)))
    print(f"audit of {len(names)} models in {total:.0f} s; largest |difference| {worst * 100:.1f} points")
    return 0


_PLAIN_WIDTHS: Final = (-18, -34, 7, 7, 7, 6, 6)
"""Widths of the plain audit table's columns (negative: left-aligned)."""


def _plain_line(cells: tuple[str, ...]) -> str:
    return " ".join(
        cell.ljust(-width) if width < 0 else cell.rjust(width) for cell, width in zip(cells, _PLAIN_WIDTHS, strict=True)
    )


def _audit_cells(row: AuditRow, *, markdown: bool) -> tuple[str, ...]:
    """One audit row's cells: for Markdown (3 decimals, the difference in points) or plain text (4 decimals)."""
    dash, places = ("–", 3) if markdown else ("-", 4)
    card = dash if row.card is None else f"{row.card:.{places}f}"
    if row.difference is None:
        diff = dash
    elif markdown:
        diff = f"{round(row.difference * 100, 1) + 0.0:+.1f} pts"
    else:
        diff = f"{round(row.difference, 4) + 0.0:+.4f}"
    seconds = f"{row.seconds:.0f}" if markdown else f"{row.seconds:.1f}"
    return (row.model, row.figure, card, f"{row.measured:.{places}f}", diff, str(row.n), seconds)


def _markdown_listing(rows: list[dict[str, Any]]) -> str:
    """The zoo as a Markdown table of card figures (accuracies in %)."""
    lines = [
        "| model | family | threat model | figures (accuracy on MNIST test, from the model card) |",
        "|---|---|---|---|",
    ]
    for row in rows:
        threat = f"{row['norm']} ε={row['eps']}" if row["norm"] else "–"
        if not row["trained"]:
            shown = "not trained"
        else:
            shown = ", ".join(
                _figure_text(key, value, row["records"].get(key))
                for key, value in row["figures"].items()
                if value is not None and key != "independent_attack"
            )
        lines.append(f"| `{row['name']}` | {row['family']} | {threat} | {shown} |")
    return "\n".join(lines)


def _figure_text(key: str, value: float, record: dict[str, Any] | None) -> str:
    """One card figure in the listing; an AutoAttack figure says its implementation and n, and a reference figure
    the torchattacks figure it replaced, with the difference in points."""
    from core.zoo import autoattack

    shown = f"{key.replace('_accuracy', '').replace('_', ' ')} {float(value) * 100:.1f}%"
    if not key.startswith("autoattack_") or not isinstance(record, dict):
        return shown
    details = f"{autoattack.record_label(record)}, n={record.get('n')}"
    previous, difference = record.get("previous"), autoattack.difference_points(record)
    if isinstance(previous, dict) and difference is not None:
        details += f"; {previous.get('implementation')}: {float(previous['value']) * 100:.1f}%, {difference:+.1f} pts"
    if record.get("warnings"):
        details += "; ⚠ " + "; ".join(map(str, record["warnings"]))
    return f"{shown} ({details})"
