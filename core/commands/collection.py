"""``invariance export``, ``invariance import``, ``invariance import-paper`` and ``invariance collection``."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

from core.budget import NORMS
from core.collection import (
    EXPORT_FORMATS,
    Collection,
    ImportReport,
    export_collection,
    import_folder,
    import_npz,
    import_paper,
)
from core.collection.fsutil import StaleStaging
from core.collection.schema import LABEL_KINDS, Item
from core.errors import UsageError


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    export = subparsers.add_parser("export", help="export a collection (npz, imagefolder, csv, hf)")
    export.add_argument("collection", help="collection folder")
    export.add_argument(
        "--format",
        required=True,
        choices=EXPORT_FORMATS,
        dest="fmt",
        help="npz: one file of arrays; imagefolder: torchvision class folders; csv: items.csv + PNGs; "
        "hf: Hugging Face imagefolder (metadata.jsonl + PNGs)",
    )
    export.add_argument("--out", required=True, help="output file (npz) or folder (other formats)")
    export.add_argument(
        "--label",
        choices=LABEL_KINDS,
        default="intended",
        help="label of the classes, the 'label' column and the npz 'labels': original (the source digit's), "
        "intended (the author's), human or consensus (the raters' consensus label)",
    )
    export.add_argument("--allow-violations", action="store_true", help="export items over budget, flagged")
    export.add_argument("--force", action="store_true", help="replace an earlier export at --out (nothing else)")
    export.set_defaults(handler=run_export)

    paper = subparsers.add_parser("import-paper", help="import the paper's invariance examples (ftramer repo)")
    paper.add_argument("folder", help="repository root or its invariance_examples folder")
    _add_import_output(paper)
    paper.set_defaults(handler=run_import_paper)

    plain = subparsers.add_parser("import", help="import an .npz file, an ImageFolder or an HF imagefolder")
    plain.add_argument("source", help=".npz file (images, labels, optional source_indices) or folder")
    _add_import_output(plain)
    plain.add_argument("--norm", choices=tuple(NORMS), help="budget norm of every item (npz only)")
    plain.add_argument("--eps", type=float, help="budget of every item (npz only)")
    plain.add_argument(
        "--label",
        choices=LABEL_KINDS,
        help="what the labels mean (default: original for an .npz's 'labels', intended for folder classes)",
    )
    plain.set_defaults(handler=run_import)

    info = subparsers.add_parser(
        "collection",
        help="summarise a collection, or list its items ('collection show COLL')",
        usage="%(prog)s COLL | %(prog)s show COLL [--json]",
        description="'invariance collection COLL' counts the items per set and method; "
        "'invariance collection show COLL' lists every item: id, source, norm, eps, intended and consensus "
        "labels, date.",
    )
    info.add_argument("collection", metavar="COLL | show", help="collection folder, or 'show' and then the folder")
    info.add_argument("shown", nargs="?", metavar="COLL", help=argparse.SUPPRESS)
    info.add_argument("--json", action="store_true", help="with show: print the items as JSON")
    info.set_defaults(handler=run_info)


def _add_import_output(parser: argparse.ArgumentParser) -> None:
    """--out, --name and --author of the import commands."""
    parser.add_argument(
        "--out", required=True, help="new collection folder (or the one an interrupted run of this import left)"
    )
    parser.add_argument("--name", default="", help="collection name")
    parser.add_argument("--author", default="", help="author recorded on every item")


def run_export(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    with Collection.open(args.collection, read_only=True) as collection:
        report = export_collection(
            collection,
            args.out,
            args.fmt,
            label=args.label,
            allow_violations=args.allow_violations,
            force=args.force,
        )
    for violation in report.violations:
        print(
            f"budget violation: item {violation.item_id} {violation.norm} distance {violation.distance:.6g} "
            f"> eps {violation.eps:g} (flagged in the output)",
            file=sys.stderr,
        )
    if report.skipped:
        print(f"left out {len(report.skipped)} item(s) without a {args.label} label", file=sys.stderr)
    print_stale_staging(report.stale, "export")
    print(f"wrote {report.count} item(s) to {report.path} ({report.format}) in {time.perf_counter() - started:.2f} s")
    return 0


def run_import_paper(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    report = import_paper(args.folder, args.out, name=args.name, author=args.author)
    _print_report(report, started)
    return 0


def run_import(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    source = Path(args.source)
    if source.is_dir():
        if args.norm is not None or args.eps is not None:
            raise UsageError(f"{source}: --norm/--eps apply to .npz files only")
        label = args.label or "intended"
        report = import_folder(source, args.out, label=label, name=args.name, author=args.author)
    else:
        if (args.norm is None) != (args.eps is None):
            raise UsageError("--norm and --eps go together")
        label = args.label or "original"
        report = import_npz(
            source, args.out, norm=args.norm, eps=args.eps, label=label, name=args.name, author=args.author
        )
    _print_report(report, started)
    return 0


def run_info(args: argparse.Namespace) -> int:
    if args.shown is not None:
        if args.collection != "show":
            raise UsageError(f"unknown action {args.collection!r}: 'invariance collection show COLL' lists the items")
        return run_show(Path(args.shown), as_json=args.json)
    if args.json:
        raise UsageError("--json goes with 'invariance collection show COLL'")
    with Collection.open(args.collection, read_only=True) as collection:
        items = collection.items
        print(f"{collection.path}: {collection.name!r}, {len(items)} item(s), created {collection.created}")
        for title, counter in (
            ("set", Counter(item.set_name or "(none)" for item in items)),
            ("method", Counter(item.method for item in items)),
        ):
            for key, count in sorted(counter.items()):
                print(f"  {title:6s} {key:28s} {count:6d}")
        flagged = sum(item.budget_violation is not None for item in items)
        print(f"  items over budget (flagged): {flagged}")
    return 0


def item_row(item: Item) -> dict[str, Any]:
    """What ``collection show`` lists of an item (labels: None when unknown)."""
    source = f"{item.source_split}:{item.source_index}" if item.source_split is not None else None
    return {
        "id": item.id,
        "source": source,
        "norm": item.norm,
        "eps": item.eps,
        "intended_label": item.intended_label,
        "consensus_label": item.human_label,
        "created": item.created,
        "set": item.set_name,
        "method": item.method,
    }


def run_show(path: Path, *, as_json: bool) -> int:
    with Collection.open(path, read_only=True) as collection:
        rows = [item_row(item) for item in collection.items]
        name = collection.name
    if as_json:
        print(json.dumps({"collection": str(path), "name": name, "items": rows}, indent=2))
        return 0

    def shown(value: object) -> str:
        return "-" if value is None else f"{value:g}" if isinstance(value, float) else str(value)

    print(f"{'id':32s}  {'source':11s} {'norm':5s} {'eps':>6s} {'intended':>8s} {'consensus':>9s}  created")
    for row in rows:
        print(
            f"{row['id']:32s}  {shown(row['source']):11s} {shown(row['norm']):5s} {shown(row['eps']):>6s} "
            f"{shown(row['intended_label']):>8s} {shown(row['consensus_label']):>9s}  {row['created']}"
        )
    print(f"{len(rows)} item(s) in {path}")
    return 0


def print_stale_staging(stale: StaleStaging, what: str) -> None:
    """Say which staging folders of killed runs were removed, and name those left (owner unknown or running)."""
    for path in stale.removed:
        print(f"removed {path}, the staging folder of an {what} that was killed", file=sys.stderr)
    for path in stale.left:
        print(
            f"note: {path} is the staging folder of another {what}, still running or of unknown owner; "
            "remove it yourself if no other export runs",
            file=sys.stderr,
        )


def _print_report(report: ImportReport, started: float) -> None:
    for entry in report.sets:
        budget = f"{entry.norm} eps={entry.eps:g}" if entry.eps is not None else f"{entry.norm or 'no'} budget per item"
        line = f"{entry.set_name:28s} {entry.count:5d} item(s)  {budget}"
        if entry.violations:
            line += f"  {entry.violations} over budget (max {entry.max_violation:.6g}), kept and flagged"
        print(line)
    if report.violations:
        print(f"{report.violations} item(s) exceed their budget; they carry a budget_violation field", file=sys.stderr)
    print_stale_staging(report.stale, "import")
    if report.skipped:
        print(f"skipped {report.skipped} item(s) already in {report.path} from an earlier run of this import")
    print(f"wrote {report.total - report.skipped} item(s) to {report.path} in {time.perf_counter() - started:.2f} s")
