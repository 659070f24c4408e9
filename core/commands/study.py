"""``invariance study pack|ingest`` (human labeling studies) and ``invariance evaluate`` (agreement reports)."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from core.device import configure_threads, resolve_device
from core.errors import StudyError, UsageError
from core.study.consensus import DEFAULT_MIN_RATER_ACCURACY, DEFAULT_THRESHOLD, check_consensus_options
from core.study.sets import StudyItem, load_items


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    study = subparsers.add_parser("study", help="human labeling studies: portable packs and answers files")
    actions = study.add_subparsers(dest="study_command", metavar="<action>")
    study.set_defaults(handler=lambda args: _usage(study))

    pack = actions.add_parser("pack", help="write an offline browser study (images, order, index.html)")
    pack.add_argument("collections", nargs="+", metavar="COLL", help="collection folders whose items to show")
    pack.add_argument("--out", required=True, metavar="DIR", help="new folder for the pack")
    pack.add_argument(
        "--seed",
        type=int,
        default=0,
        help="seed (>= 0) for the clean digits and the order, kept in the plan (default 0)",
    )
    pack.add_argument("--rater-instructions", metavar="TEXT", help="instructions shown before the first image")
    pack.set_defaults(handler=run_pack)

    ingest = actions.add_parser("ingest", help="validate answers files and merge their labels into the collections")
    ingest.add_argument("answers", nargs="*", metavar="ANSWERS", help="answers-<rater>-<time>.json files")
    ingest.add_argument(
        "--db", metavar="URL", help="ingest the answers of a served study from its database instead of files"
    )
    ingest.add_argument(
        "--collection",
        action="append",
        default=[],
        metavar="COLL",
        help="a collection the pack was made from (its study-plans/ folder holds the pack's plan), or where a "
        "collection of in-app answers now lives (matched by folder name); repeat for several",
    )
    ingest.add_argument(
        "--replace-rater",
        action="store_true",
        help="replace the labels of a rater already ingested for these items (default: refuse)",
    )
    ingest.add_argument(
        "--threshold",
        type=float,
        help=f"share of kept raters that must agree for a consensus label (default: the collection's, else "
        f"{DEFAULT_THRESHOLD}); recorded in the collection",
    )
    _min_accuracy_option(ingest)
    ingest.set_defaults(handler=run_ingest)

    _register_server(actions)

    evaluate = subparsers.add_parser(
        "evaluate", help="human success rate and model agreement (the paper's Tables 1-2, Figure 6)"
    )
    evaluate.add_argument("collections", nargs="+", metavar="COLL", help="collection folders to evaluate")
    evaluate.add_argument("--models", help="comma-separated zoo names (default: every trained model)")
    evaluate.add_argument(
        "--threshold",
        type=float,
        help=f"share of raters that must agree for a consensus (default: the one recorded at ingest, else "
        f"{DEFAULT_THRESHOLD})",
    )
    _min_accuracy_option(evaluate)
    evaluate.add_argument(
        "--count-not-a-digit",
        action="store_true",
        help="count a 'not a digit' consensus as a success (the paper's Definition 2 does not)",
    )
    evaluate.add_argument("--device", default="auto", help="auto (default), cpu or cuda")
    evaluate.add_argument("--batch-size", type=int, default=256, help="images per forward pass (default 256)")
    evaluate.add_argument("--json", action="store_true", help="print the report as one JSON object")
    evaluate.add_argument("--csv", metavar="DIR", help="also write each table as DIR/<table>.csv")
    evaluate.add_argument("--plot", metavar="DIR", help="also write Figure 6 as DIR/figure6.svg")
    evaluate.set_defaults(handler=run_evaluate)


def _register_server(actions: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    serve = actions.add_parser(
        "serve", help="run the study as a web service (per-rater assignments, answers saved in a database)"
    )
    serve.add_argument("collections", nargs="+", metavar="COLL", help="collection folders whose items to show")
    serve.add_argument(
        "--db",
        metavar="URL",
        help="sqlite:///FILE, a file path, or postgresql+psycopg://USER@HOST/DB "
        "(default: study-server.sqlite in the first collection)",
    )
    serve.add_argument("--ratings-per-item", type=int, metavar="K", help="kept ratings each item needs (default 5)")
    serve.add_argument("--items-per-rater", type=int, metavar="N", help="items shown to each rater (default 50)")
    serve.add_argument(
        "--controls-per-rater", type=int, metavar="M", help="unmodified MNIST test digits per rater (default 50)"
    )
    serve.add_argument(
        "--attention-checks", type=int, metavar="A", help="'press k' screens per rater (default 2; 2 failed exclude)"
    )
    serve.add_argument(
        "--abandon-after",
        type=float,
        metavar="MIN",
        help="minutes of silence after which an unfinished rater's items go back to the pool (default 30)",
    )
    serve.add_argument("--consent", metavar="FILE", help="text file shown as the consent page (default: a short one)")
    serve.add_argument("--completion-url", metavar="URL", help="where the done page sends the rater (Prolific)")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8000, help="port (default 8000; 0 picks a free one)")
    serve.set_defaults(handler=run_serve)

    status = actions.add_parser("status", help="a served study's progress and agreement, read from its database")
    status.add_argument("--db", required=True, metavar="URL", help="the study's database (as given to serve)")
    status.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    status.set_defaults(handler=run_status)


def _min_accuracy_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--min-rater-accuracy",
        type=float,
        default=DEFAULT_MIN_RATER_ACCURACY,
        metavar="A",
        help=f"leave out of consensus and rates the raters whose accuracy on the control digits is below A, or who "
        f"answered none (default {DEFAULT_MIN_RATER_ACCURACY}; 0 keeps everyone)",
    )


def _check_output_folder(folder: Path, option: str) -> None:
    """Refuse an output folder that is a file or lies under one, before anything is computed or written."""
    for path in (folder, *folder.parents):
        if path.exists():
            if not path.is_dir():
                raise StudyError(f"{option} {folder}: {path} is a file, not a folder")
            return


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return 2


def _items(collections: list[str]) -> list[StudyItem]:
    return [item for path in collections for item in load_items(path)]


def run_pack(args: argparse.Namespace) -> int:
    from core.study.pack import DEFAULT_INSTRUCTIONS, write_pack

    started = time.perf_counter()
    items = _items(args.collections)
    out = write_pack(items, args.out, seed=args.seed, instructions=args.rater_instructions or DEFAULT_INSTRUCTIONS)
    print(f"wrote study pack {out}: {2 * len(items)} images ({len(items)} items + {len(items)} clean digits)")
    from core.study.pack import pack_id_of

    print(f"pack id {pack_id_of(out)}; its plan (what each image is) is kept in each collection's study-plans/ folder")
    collections = " ".join(f"--collection {path}" for path in args.collections)
    print(f"open {out / 'index.html'} in a browser; ingest the answers with: "
          f"invariance study ingest answers-*.json {collections}")  # fmt: skip
    print(f"done in {time.perf_counter() - started:.2f} s")
    return 0


def _given(args: argparse.Namespace, *names: str) -> dict[str, Any]:
    """The options ``names`` as parsed, by name (for a library call that takes them by the same names)."""
    return {name: getattr(args, name) for name in names}


def run_ingest(args: argparse.Namespace) -> int:
    from core.study.ingest import ingest

    options = _given(args, "replace_rater", "threshold", "min_rater_accuracy")
    if args.db is not None:
        from core.study.server.ingest_db import ingest_served

        if args.answers:
            raise UsageError("give answers files or --db, not both")
        served = ingest_served(args.db, args.collection, **options)
        summary = served.summary
        for rater, reason in served.left_out.items():
            print(f"rater {rater!r} not ingested: {reason}")
    elif not args.answers:
        raise UsageError("give answers files to ingest, or --db URL of a served study")
    else:
        summary = ingest(args.answers, collections=args.collection, **options)
    for (rater, name), (n_clean, n_correct) in summary.clean.items():
        accuracy = f"{100 * n_correct / n_clean:.1f}%" if n_clean else "n/a"
        print(f"{name}: rater {rater!r}, clean digits {n_correct}/{n_clean} correct ({accuracy})")
    for path in summary.unchanged:
        print(f"{path.name}: already ingested, nothing changed")
    for rater, reason in summary.excluded.items():
        print(f"rater {rater!r} left out of consensus and rates: {reason}")
    for collection, count in summary.labels.items():
        print(f"{collection}: {count} labels written")
    for collection, count in summary.consensus.items():
        print(f"{collection}: {count} items with a consensus label (threshold {100 * summary.threshold:g}%)")
    return 0


def run_evaluate(args: argparse.Namespace) -> int:
    from core.study.answers import write_text_atomic
    from core.study.ingest import rater_clean_counts, recorded_threshold
    from core.study.plot import figure6_svg
    from core.study.report import evaluate, format_report, zoo_infos
    from core.zoo import available_models, find_entry

    started = time.perf_counter()
    threshold = args.threshold if args.threshold is not None else recorded_threshold(args.collections)
    check_consensus_options(threshold, args.min_rater_accuracy)
    if args.batch_size < 1:
        raise UsageError(f"--batch-size {args.batch_size} must be at least 1")
    for option, folder in (("--csv", args.csv), ("--plot", args.plot)):
        if folder:
            _check_output_folder(Path(folder), option)
    rater_clean = rater_clean_counts(args.collections)  # read every input before the first warning
    items = _items(args.collections)
    if args.models:
        models = [name.strip() for name in args.models.split(",") if name.strip()]
        unknown = [name for name in models if find_entry(name) is None]
        if unknown:
            raise StudyError(f"unknown model {unknown[0]!r}; known models: {', '.join(available_models())}")
    else:
        models = available_models()
        if not models:
            print("invariance: warning: no trained model found; reporting human results only", file=sys.stderr)
    device = resolve_device(args.device)
    configure_threads()
    report = evaluate(
        items,
        models,
        device=device,
        infos=zoo_infos(models),
        rater_clean=rater_clean,
        threshold=threshold,
        min_rater_accuracy=args.min_rater_accuracy,
        not_a_digit_succeeds=args.count_not_a_digit,
        batch_size=args.batch_size,
    )
    if args.models:  # a model the user named that has weights and a card must be in the report, or nothing is
        from core.zoo.cards import card_path

        for name, reason in report.skipped_models.items():
            if card_path(name).exists():
                raise StudyError(f"model {name!r} cannot be evaluated: {reason}")
    for name, reason in report.skipped_models.items():
        print(f"invariance: warning: skipping model {name}: {reason}", file=sys.stderr)
    if args.csv:
        for path in report.write_csv(args.csv):
            print(f"wrote {path}", file=sys.stderr if args.json else sys.stdout)
    if args.plot:
        path = Path(args.plot) / "figure6.svg"
        try:
            write_text_atomic(path, figure6_svg(report))
        except OSError as error:
            raise StudyError(f"cannot write {path}: {error.strerror or error}") from None
        print(f"wrote {path}", file=sys.stderr if args.json else sys.stdout)
    if args.json:
        print(json.dumps(report.to_json()))
    else:
        print(format_report(report))
        print(f"\n{len(items)} items, {len(report.models)} models on {device}; "
              f"done in {time.perf_counter() - started:.2f} s")  # fmt: skip
    return 0


def run_serve(args: argparse.Namespace) -> int:
    from core.study.server.assign import StudyDesign
    from core.study.server.run import prepare, serve

    given = _given(args, "ratings_per_item", "items_per_rater", "controls_per_rater", "attention_checks")
    given["abandon_after_min"] = args.abandon_after
    design = None
    if any(value is not None for value in given.values()):
        design = StudyDesign(**{name: value for name, value in given.items() if value is not None})
    consent = None
    if args.consent:
        try:
            consent = Path(args.consent).read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as error:
            raise StudyError(f"--consent {args.consent}: cannot read it as UTF-8 text ({error})") from None
        if not consent:
            raise StudyError(f"--consent {args.consent}: the file is empty")
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        print(f"invariance: warning: --host {args.host} lets other machines reach the study; serve it behind HTTPS "
              "(a reverse proxy) on a public network", file=sys.stderr)  # fmt: skip
    study = prepare(
        args.collections,
        db=args.db,
        design=design,
        consent=consent,
        completion_url=args.completion_url,
        host=args.host,
        port=args.port,
    )
    print(f"{'new' if study.created else 'resumed'} study {study.config.study_id}", flush=True)
    print(f"rater URL: {study.base_url}", flush=True)
    print(f"admin URL: {study.admin_url}", flush=True)
    print(f"database: {study.database}", flush=True)
    print(f"completion code: {study.config.completion_code} (shown on the done page)", flush=True)
    serve(study)
    return 0


def run_status(args: argparse.Namespace) -> int:
    from core.study.server.assign import load_config
    from core.study.server.db import StudyStore
    from core.study.server.status import format_status, study_status

    with StudyStore(args.db, must_exist=True) as store:
        config = load_config(store)
        figures = store.read_sync(lambda connection: study_status(connection, config))
    print(json.dumps(figures) if args.json else format_status(figures))
    return 0
