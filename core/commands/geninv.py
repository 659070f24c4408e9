"""``invariance geninv``: batch GenInv suggestions for MNIST test digits, and the scorer's training.

Examples::

    invariance geninv --norm l0 --random 100 --seed 0 --out runs/l0.npz --json
    invariance geninv --norm linf --eps 0.3 --indices 1,2,3 --out runs/linf.npz
    invariance geninv --train-scorer            # retrain checkpoints/geninv-scorer.* (seed 0, ~3 min CPU)
    invariance geninv --eval-scorer             # ELBO-classifier accuracy on the first 1000 test digits
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import numpy as np

from core.errors import InvarianceError, UsageError

if TYPE_CHECKING:
    from core.geninv.best import BestPerDigit

log = logging.getLogger(__name__)

SUMMARY_FORMAT_VERSION: Final = 1
TEST_SIZE: Final = 10_000


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "geninv",
        help="GenInv: invariance suggestions (l0, linf) for MNIST test digits; train its scorer",
        description="Suggest invariance adversarial examples for MNIST test digits (best per example) and "
        "write them as .npz; or (re)train / evaluate the generative scorer.",
    )
    parser.add_argument("--norm", choices=("l0", "linf"), help="threat model")
    parser.add_argument("--eps", type=float, help="budget (required for linf, e.g. 0.3; optional for l0)")
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--indices", help="comma-separated MNIST test indices, e.g. 1,2,3")
    which.add_argument("--random", type=int, metavar="N", help="N random test digits (chosen with --seed)")
    parser.add_argument("--seed", type=int, default=0, help="seed for --random and the search (default 0)")
    parser.add_argument("--out", help="output: a collection folder (created or appended to), or a path ending in .npz")
    parser.add_argument("--json", action="store_true", help="print a JSON summary to stdout")
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
    from core.collection import Collection
    from core.data import load_mnist
    from core.geninv.norms import search_for
    from core.geninv.store import add_suggestions, remove_created_collection, write_suggestions_npz
    from core.images import to_float

    if args.norm is None:
        raise UsageError("geninv needs --norm l0 or --norm linf (or --train-scorer / --eval-scorer)")
    if args.out is None:
        raise UsageError("geninv needs --out (a collection folder, or a path ending in .npz)")
    search = search_for(args.norm)
    if search.eps_required and args.eps is None:
        raise UsageError(f"geninv --norm {args.norm} needs --eps (e.g. 0.3 or 0.4)")
    if args.eps is not None:
        search.check_eps(args.eps)
    indices = select_indices(args.indices, args.random, args.seed)
    targets = parse_targets(args.targets) if args.targets else None
    images, labels = load_mnist("test")
    out = Path(args.out)
    if args.out.endswith(".npz"):
        _check_npz_target(out)
        run = search_digits(to_float(images[indices]), labels[indices], args, device, targets)
        if not run.found:
            raise InvarianceError(_none_found(len(indices), args.norm, args.eps))
        write_suggestions_npz(out, run.best, indices, args.norm, args.eps)
    else:
        # open (and lock) the collection before the search: a bad or busy collection fails in a second
        collection, created = Collection.open_or_create(out)
        try:
            run = search_digits(to_float(images[indices]), labels[indices], args, device, targets)
            if run.found:
                add_suggestions(collection, run.best, indices, args.norm, args.eps)
        finally:
            collection.close()
        if not run.found:
            if created:
                remove_created_collection(out)
            raise InvarianceError(_none_found(len(indices), args.norm, args.eps))
    missing = len(indices) - run.found
    log.info("wrote %d suggestions to %s", run.found, out)
    if args.json:
        print(json.dumps(_summary(run, indices, out, args, device), indent=2))
    else:
        print(
            f"wrote {run.found} suggestions to {out} ({run.seconds_per_example:.3f} s per example); "
            f"no suggestion within budget: {missing} of {len(indices)} digits"
        )
    return 0


def _none_found(count: int, norm: str, eps: float | None) -> str:
    budget = "no budget" if eps is None else f"eps {eps:g}"
    return f"no suggestion within budget for any of the {count} digits ({norm}, {budget}); nothing written"


def _summary(
    run: BestPerDigit, indices: np.ndarray, out: Path, args: argparse.Namespace, device: Any
) -> dict[str, Any]:
    return {
        "format_version": SUMMARY_FORMAT_VERSION,
        "norm": args.norm,
        "eps": args.eps,
        "out": str(out),
        "device": str(device),
        "digits": len(indices),
        "suggestions": run.found,
        "no_suggestion_within_budget": [int(i) for i, s in zip(indices, run.best, strict=True) if s is None],
        "examples": [
            {
                "index": int(index),
                "label": s.label,
                "target_label": s.target_label,
                "train_index": s.train_index,
                "distortion": s.distortion,
                "p_human": round(s.p_human, 4),
                "raw_score": round(s.raw_score, 4),
                "convincing": s.convincing,
                "seconds": round(s.seconds, 4),
            }
            for index, s in zip(indices, run.best, strict=True)
            if s is not None
        ],
        "seconds_per_example": round(run.seconds_per_example, 4),
        "one_time_seconds": round(run.one_time, 3),
    }


def search_digits(
    queries: np.ndarray, labels: np.ndarray, args: argparse.Namespace, device: Any, targets: Any
) -> BestPerDigit:
    """:func:`core.geninv.best.best_per_digit` with a progress bar on stderr."""
    from tqdm import tqdm

    from core.geninv.best import best_per_digit

    bar = tqdm(total=len(labels), desc=f"geninv {args.norm}", unit="digit", file=sys.stderr, disable=None)

    def progress(done: int, total: int) -> None:
        bar.update(done - bar.n)

    try:
        return best_per_digit(
            queries, labels, args.norm, args.eps, seed=args.seed, device=device, pool_size=args.pool_size,
            targets=targets, progress=progress,
        )  # fmt: skip
    finally:
        bar.close()


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
    from core.geninv.scorer import DEFAULT_EPOCHS, train_scorer

    epochs = args.epochs or DEFAULT_EPOCHS
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
    from core.geninv.judge import DEFAULT_EPOCHS, DEFAULT_MEMBERS, train_judge

    epochs = args.epochs or DEFAULT_EPOCHS
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
