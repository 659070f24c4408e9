"""``invariance geninv``: batch GenInv suggestions for MNIST test digits, and the scorer's training.

Examples::

    invariance geninv --norm l0 --random 100 --seed 0 --out runs/l0.npz --json     # budget: 25 pixels
    invariance geninv --norm l0 --eps none --indices 1,2,3 --out runs/l0-free.npz   # no budget
    invariance geninv --norm linf --eps 0.3 --random 5000 --workers 2 --out runs/linf  # a collection; Ctrl-C keeps
                                                                # what is done, the same command resumes
    invariance geninv --train-scorer            # retrain checkpoints/geninv-scorer.* (seed 0, ~3 min CPU)
    invariance geninv --eval-scorer             # ELBO-classifier accuracy on the first 1000 test digits
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Any, Final

import numpy as np

from core.errors import InvarianceError, UsageError
from core.interrupt import Interrupted

log = logging.getLogger(__name__)

SUMMARY_FORMAT_VERSION: Final = 2
TEST_SIZE: Final = 10_000


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "geninv",
        help="GenInv: invariance suggestions (l0, linf) for MNIST test digits; train its scorer",
        description="Suggest invariance adversarial examples for MNIST test digits (best per example) and "
        "write them as .npz; or (re)train / evaluate the generative scorer.",
    )
    parser.add_argument("--norm", choices=("l0", "linf"), help="threat model")
    parser.add_argument(
        "--eps", metavar="EPS|none",
        help="budget: linf needs one (e.g. 0.3); l0 pixels, default 25 (the paper's), 'none' for no budget",
    )  # fmt: skip
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--indices", help="comma-separated MNIST test indices, e.g. 1,2,3")
    which.add_argument("--random", type=int, metavar="N", help="N random test digits (chosen with --seed)")
    parser.add_argument("--seed", type=int, default=0, help="seed for --random and the search (default 0)")
    parser.add_argument("--out", help="output: a collection folder (created or appended to), or a path ending in .npz")
    parser.add_argument("--json", action="store_true", help="print a JSON summary to stdout")
    parser.add_argument("--workers", type=int, default=1, help="local worker processes (default 1: this one)")
    parser.add_argument("--dask", metavar="URL|local", help="run on dask.distributed: 'local' or tcp://host:8786")
    parser.add_argument(
        "--force-new", action="store_true",
        help="add fresh items even for digits this run already wrote into --out (default: skip them, resume)",
    )  # fmt: skip
    parser.add_argument("--device", default=None, help="auto (default), cpu or cuda")
    parser.add_argument(
        "--threads", type=int, default=None, help="torch CPU threads (default $INVARIANCE_THREADS, else 1)"
    )
    parser.add_argument("--targets", help="linf target override, e.g. '1:7,4;3:5,8'")
    parser.add_argument("--pool-size", type=int, help="use only the first N training digits (quick runs)")
    parser.add_argument("--train-scorer", action="store_true", help="retrain the generative scorer and exit")
    parser.add_argument("--epochs", type=int, default=None, help="epochs for --train-scorer (default 15)")
    parser.add_argument("--eval-scorer", action="store_true", help="measure the scorer and update its card")
    parser.add_argument("--train-judge", action="store_true", help="retrain GenInv's CNN judge ensemble and exit")
    parser.add_argument("--members", type=int, default=None, help="ensemble members for --train-judge (default 3)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from core.device import configure_threads, resolve_device
    from core.geninv.threads import geninv_threads

    configure_threads(geninv_threads(args.threads))
    device = resolve_device(args.device)
    if args.train_scorer:
        return _train_scorer(args, device)
    if args.eval_scorer:
        return _eval_scorer(device)
    if args.train_judge:
        return _train_judge(args, device)
    return _suggest(args, device)


def _suggest(args: argparse.Namespace, device: Any) -> int:
    from core.geninv.norms import search_for

    if args.norm is None:
        raise UsageError("geninv needs --norm l0 or --norm linf (or --train-scorer / --eval-scorer)")
    if args.out is None:
        raise UsageError("geninv needs --out (a collection folder, or a path ending in .npz)")
    search = search_for(args.norm)
    eps = resolve_eps(search, args.eps)
    if args.workers < 1:
        raise UsageError(f"--workers must be at least 1, got {args.workers}")
    indices = select_indices(args.indices, args.random, args.seed)
    targets = parse_targets(args.targets) if args.targets else None
    from core.geninv.run import RunSettings

    settings = RunSettings(
        norm=args.norm, eps=eps, seed=args.seed, device=str(device), pool_size=args.pool_size, targets=targets
    )
    if args.eps is None and search.default_eps is not None:
        print(f"geninv {args.norm}: budget eps {eps:g} (the paper's; --eps none for no budget)", file=sys.stderr)
    if args.out.endswith(".npz"):
        return _suggest_npz(Path(args.out), indices, settings, args)
    return _suggest_collection(Path(args.out), indices, settings, args)


def resolve_eps(search: Any, given: str | None) -> float | None:
    """The budget from ``--eps``: absent -> the norm's default (ℓ0: 25 pixels; ℓ∞: required), ``none`` -> no
    budget (ℓ0 only), else a number checked by the norm."""
    if given is None:
        if search.default_eps is None:
            raise UsageError(f"geninv --norm {search.name} needs --eps (e.g. 0.3 or 0.4)")
        return float(search.default_eps)
    if given.strip().lower() == "none":
        if search.eps_required:
            raise UsageError(f"geninv --norm {search.name} needs a numeric --eps (e.g. 0.3 or 0.4), not none")
        return None
    try:
        value = float(given)
    except ValueError:
        raise UsageError(f"--eps must be a number or none, got {given!r}") from None
    return float(search.check_eps(value))


def _suggest_collection(out: Path, indices: np.ndarray, settings: Any, args: argparse.Namespace) -> int:
    from core.collection import Collection
    from core.geninv.run import done_digits, run_digits, run_key
    from core.geninv.store import add_digit_results, remove_created_collection
    from core.geninv.threads import geninv_threads

    key = run_key(settings)
    # open (and lock) the collection before the search: a bad or busy collection fails in a second
    collection, created = Collection.open_or_create(out)
    written: list[Any] = []
    results: list[Any] = []
    skipped: set[int] = set()
    before = len(collection)
    try:
        skipped = set() if args.force_new else done_digits(collection.items, key) & {int(i) for i in indices}
        if skipped:
            print(f"skipped {len(skipped)} of {len(indices)} digits already in {out} (same digit, norm, eps, seed "
                  "and settings; --force-new adds fresh items)", file=sys.stderr)  # fmt: skip

        def write(chunk_results: list[Any]) -> None:
            results.extend(chunk_results)
            written.extend(add_digit_results(collection, chunk_results, settings.norm, settings.eps, key))

        run_digits(
            [int(i) for i in indices], settings, skip=skipped, workers=args.workers, dask=args.dask,
            on_chunk=write, threads=geninv_threads(args.threads),
        )  # fmt: skip
    except KeyboardInterrupt as stop:
        # count what the collection holds: a chunk may have been written when the signal came mid-call
        kept = len(collection) - before + len(skipped)
        raise Interrupted(kept, len(indices), cause=stop, detail="run the same command again to resume") from None
    finally:
        collection.close()
    if not written and not skipped:
        if created:
            remove_created_collection(out)
        raise InvarianceError(_none_found(len(indices), settings.norm, settings.eps))
    _report(results, indices, out, args, settings, skipped=len(skipped))
    return 0


def _suggest_npz(out: Path, indices: np.ndarray, settings: Any, args: argparse.Namespace) -> int:
    from core.geninv.run import run_digits
    from core.geninv.store import write_suggestions_npz
    from core.geninv.threads import geninv_threads

    _check_npz_target(out)
    try:
        results = run_digits(
            [int(i) for i in indices], settings, workers=args.workers, dask=args.dask,
            threads=geninv_threads(args.threads),
        )  # fmt: skip
    except KeyboardInterrupt as stop:
        raise Interrupted(
            0, len(indices), cause=stop,
            detail="an .npz is written at the end; use a collection folder as --out to keep each suggestion as found",
        ) from None  # fmt: skip
    if not any(r.suggestion is not None for r in results):
        raise InvarianceError(_none_found(len(indices), settings.norm, settings.eps))
    write_suggestions_npz(
        out, [r.suggestion for r in results], [r.index for r in results], settings.norm, settings.eps,
        [r.predictions for r in results],
    )  # fmt: skip
    _report(results, indices, out, args, settings, skipped=0)
    return 0


def _none_found(count: int, norm: str, eps: float | None) -> str:
    budget = "no budget" if eps is None else f"eps {eps:g}"
    return f"no suggestion within budget for any of the {count} digits ({norm}, {budget}); nothing written"


def _report(
    results: list[Any], indices: np.ndarray, out: Path, args: argparse.Namespace, settings: Any, *, skipped: int
) -> None:
    found = [r for r in results if r.suggestion is not None]
    seconds = float(np.mean([r.suggestion.seconds for r in found])) if found else 0.0
    missing = [r.index for r in results if r.suggestion is None]
    log.info("wrote %d suggestions to %s", len(found), out)
    if args.json:
        print(json.dumps(_summary(results, indices, out, settings, seconds, skipped), indent=2))
        return
    weak = sum(r.suggestion.extras.get("target_reached", 1.0) <= 0 for r in found)
    print(
        f"wrote {len(found)} suggestions to {out} ({seconds:.3f} s per example)"
        + (f"; skipped {skipped} already there" if skipped else "")
        + f"; no suggestion within budget: {len(missing)} of {len(indices)} digits"
        + (f"; {weak} weak (the judge does not see the target; low p_human)" if weak else "")
    )


def _summary(
    results: list[Any], indices: np.ndarray, out: Path, settings: Any, seconds: float, skipped: int
) -> dict[str, Any]:
    return {
        "format_version": SUMMARY_FORMAT_VERSION,
        "norm": settings.norm,
        "eps": settings.eps,
        "budget": "none" if settings.eps is None else settings.eps,
        "out": str(out),
        "device": settings.device,
        "digits": len(indices),
        "skipped": skipped,
        "suggestions": sum(r.suggestion is not None for r in results),
        "no_suggestion_within_budget": [r.index for r in results if r.suggestion is None],
        "examples": [
            {
                "index": r.index,
                "label": s.label,
                "target_label": s.target_label,
                "train_index": s.train_index,
                "distortion": s.distortion,
                "p_human": round(s.p_human, 4),
                "raw_score": round(s.raw_score, 4),
                "convincing": s.convincing,
                "target_reached": bool(s.extras.get("target_reached", 1.0) > 0),
                "predictions": r.predictions,
                "seconds": round(s.seconds, 4),
            }
            for r in results
            if (s := r.suggestion) is not None
        ],
        "seconds_per_example": round(seconds, 4),
    }


def select_indices(indices: str | None, random: int | None, seed: int) -> np.ndarray:
    """Test indices from ``--indices`` or ``--random``; raises :class:`InvarianceError` on bad values."""
    if indices is not None:
        try:
            chosen = np.array([int(part) for part in indices.split(",") if part.strip()], dtype=np.int64)
        except ValueError:
            raise UsageError(f"--indices must be comma-separated integers, got {indices!r}") from None
        if chosen.size == 0:
            raise UsageError("--indices is empty")
        bad = chosen[(chosen < 0) | (chosen >= TEST_SIZE)]
        if bad.size:
            raise UsageError(f"--indices: test index {int(bad[0])} is outside 0..{TEST_SIZE - 1}")
        return chosen
    if random is not None:
        if not 1 <= random <= TEST_SIZE:
            raise UsageError(f"--random must be between 1 and {TEST_SIZE}, got {random}")
        return np.sort(np.random.default_rng(seed).choice(TEST_SIZE, size=random, replace=False)).astype(np.int64)
    raise UsageError("geninv needs --indices or --random")


def parse_targets(text: str) -> dict[int, list[int]]:
    """'1:7,4;3:5,8' -> {1: [7, 4], 3: [5, 8]}; raises :class:`InvarianceError` when malformed."""
    table: dict[int, list[int]] = {}
    try:
        for entry in text.split(";"):
            if not entry.strip():
                continue
            source, values = entry.split(":")
            table[int(source)] = [int(v) for v in values.split(",") if v.strip()]
    except ValueError:
        raise UsageError(f"--targets must look like '1:7,4;3:5,8', got {text!r}") from None
    return table


def _check_npz_target(path: Path) -> None:
    for parent in path.resolve().parents:
        if parent.exists() and not parent.is_dir():
            raise InvarianceError(f"{path}: {parent} is a file, not a folder")
    if path.is_dir():
        raise InvarianceError(f"{path}: is a folder, not an .npz file")
    if path.exists() or path.is_symlink():
        raise InvarianceError(f"{path}: already exists; geninv never overwrites a file, choose a new name")


def _train_scorer(args: argparse.Namespace, device: Any) -> int:
    from core.geninv.scorer import SCORER, train_scorer

    epochs = args.epochs or SCORER.epochs
    command = "invariance geninv --train-scorer" + (f" --epochs {epochs}" if args.epochs else "")
    command += f" --seed {args.seed}" if args.seed else ""

    def progress(epoch: int, total: int, loss: float) -> None:
        print(f"epoch {epoch}/{total}: mean negative ELBO {loss:.2f} nats", file=sys.stderr, flush=True)

    card = train_scorer(epochs=epochs, seed=args.seed, device=device, command=command, progress=progress)
    print(json.dumps(card, indent=2))
    return 0


def _eval_scorer(device: Any) -> int:
    from core.geninv.scorer import elbo_classifier_accuracy, load_scorer, update_card_evaluation

    accuracy = elbo_classifier_accuracy(load_scorer(device))
    update_card_evaluation(accuracy)
    print(f"ELBO-classifier accuracy on the first 1000 MNIST test digits: {accuracy:.4f}")
    return 0


def _train_judge(args: argparse.Namespace, device: Any) -> int:
    from core.geninv.judge import DEFAULT_MEMBERS, JUDGE, train_judge

    epochs = args.epochs or JUDGE.epochs
    members = args.members or DEFAULT_MEMBERS
    if epochs < 1 or members < 1:
        raise UsageError(f"--train-judge needs --epochs >= 1 and --members >= 1, got {epochs} and {members}")
    command = f"invariance geninv --train-judge --epochs {epochs} --members {members} --seed {args.seed}"

    def progress(member: int, epoch: int, total: int, loss: float) -> None:
        print(f"member {member} epoch {epoch}/{total}: loss {loss:.4f}", file=sys.stderr, flush=True)

    card = train_judge(
        members=members, epochs=epochs, seed=args.seed, device=device, command=command, progress=progress
    )
    print(json.dumps(card, indent=2))
    return 0
