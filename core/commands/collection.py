"""``invariance export``, ``invariance import``, ``invariance import-paper`` and ``invariance collection``."""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from pathlib import Path

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
from core.collection.schema import LABEL_KINDS
from core.errors import CollectionError


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
    paper.add_argument("--out", required=True, help="new collection folder")
    paper.add_argument("--name", default="", help="collection name")
    paper.add_argument("--author", default="", help="author recorded on every item")
    paper.set_defaults(handler=run_import_paper)

    plain = subparsers.add_parser("import", help="import an .npz file, an ImageFolder or an HF imagefolder")
    plain.add_argument("source", help=".npz file (images, labels, optional source_indices) or folder")
    plain.add_argument("--out", required=True, help="new collection folder")
    plain.add_argument("--norm", choices=tuple(NORMS), help="budget norm of every item (npz only)")
    plain.add_argument("--eps", type=float, help="budget of every item (npz only)")
    plain.add_argument(
        "--label",
        choices=LABEL_KINDS,
        help="what the labels mean (default: original for an .npz's 'labels', intended for folder classes)",
    )
    plain.add_argument("--name", default="", help="collection name")
    plain.add_argument("--author", default="", help="author recorded on every item")
    plain.set_defaults(handler=run_import)

    info = subparsers.add_parser("collection", help="summarise a collection (items per set, method, label)")
    info.add_argument("collection", help="collection folder")
    info.set_defaults(handler=run_info)


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
            raise CollectionError(f"{source}: --norm/--eps apply to .npz files only")
        label = args.label or "intended"
        report = import_folder(source, args.out, label=label, name=args.name, author=args.author)
    else:
        label = args.label or "original"
        report = import_npz(
            source, args.out, norm=args.norm, eps=args.eps, label=label, name=args.name, author=args.author
        )
    _print_report(report, started)
    return 0


def run_info(args: argparse.Namespace) -> int:
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


def _print_report(report: ImportReport, started: float) -> None:
    for entry in report.sets:
        budget = f"{entry.norm} eps={entry.eps:g}" if entry.eps is not None else f"{entry.norm or 'no'} budget per item"
        line = f"{entry.set_name:28s} {entry.count:5d} item(s)  {budget}"
        if entry.violations:
            line += f"  {entry.violations} over budget (max {entry.max_violation:.6g}), kept and flagged"
        print(line)
    if report.violations:
        print(f"{report.violations} item(s) exceed their budget; they carry a budget_violation field", file=sys.stderr)
    print(f"wrote {report.total} item(s) to {report.path} in {time.perf_counter() - started:.2f} s")
