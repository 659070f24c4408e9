"""Training driver: ``invariance train <name>`` turns a zoo entry into a checkpoint and a model card.

A *recipe* (``core.training.recipes.RECIPES``, a :class:`core.training.context.Recipe`) reads the entry's
hyper-parameters into its typed dataclass (checked before anything is written) and trains ``model`` (freshly built
for the entry's architecture) with them in ``ctx.hyper``. The driver owns everything around it: seeding,
data, device, threads, the log file, the time budget, resumable per-epoch state, and — after training — the
evaluation figures and the model card.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shlex
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

from core.data import load_mnist
from core.device import configure_threads, machine_line, resolve_device
from core.errors import ModelError
from core.images import to_float
from core.paths import run_dir
from core.training.context import Recipe, TrainContext
from core.training.recipes import RECIPES
from core.zoo.architectures import build
from core.zoo.cards import ModelCard, read_card, save_weights, write_card
from core.zoo.registry import ZooEntry, get_entry

log = logging.getLogger(__name__)


def training_log(name: str) -> Path:
    """The log of training ``name`` (kept with its run, not beside the checkpoints)."""
    return run_dir(name) / "train.log"


def recipe_for(entry: ZooEntry) -> Recipe:
    try:
        return RECIPES[entry.recipe]
    except KeyError:
        raise ModelError(f"model {entry.name!r} names unknown recipe {entry.recipe!r}") from None


def train_model(
    name: str,
    *,
    seed: int = 0,
    device: str | None = None,
    time_budget_s: float | None = None,
    resume: bool = False,
    evaluate_n: int | None = None,
    train_subset: int | None = None,
    progress: bool = True,
) -> ModelCard:
    """Train zoo model ``name`` end to end and write its checkpoint and card; returns the card.

    ``train_subset`` trains on the first N training images (tests); ``evaluate_n`` limits the robust evaluation.
    """
    entry = get_entry(name)
    recipe = recipe_for(entry)
    hyper = recipe.settings(entry)  # checked before anything is written
    chosen = resolve_device(device)
    threads = configure_threads()
    torch.manual_seed(seed)
    np.random.seed(seed)
    log_path = training_log(name)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    state_path = state_file(name)
    fingerprint = settings_fingerprint(entry, seed=seed, train_subset=train_subset)
    resume = resume and saved_epochs(name, fingerprint) is not None
    if not resume:
        state_path.unlink(missing_ok=True)
    logger = _file_logger(name, log_path, append=resume)
    command = "invariance train " + shlex.join([name, "--seed", str(seed)] + (["--device", device] if device else []))
    logger.info("command: %s", command)
    logger.info("torch %s, device %s", torch.__version__, machine_line(chosen))

    images_u8, labels = load_mnist("train")
    if train_subset:
        images_u8, labels = images_u8[:train_subset], labels[:train_subset]
    images = torch.from_numpy(to_float(images_u8)).unsqueeze(1)
    context = TrainContext(
        entry,
        hyper,
        images,
        torch.from_numpy(labels),
        chosen,
        seed,
        logger,
        state_path,
        time_budget_s,
        progress_enabled=progress,
        fingerprint=fingerprint,
    )
    model = build(entry.architecture).to(chosen)
    initialised_from = _initialise(model, entry, logger) if not resume else entry.init_from
    started = time.monotonic()
    model = recipe.train(context, model)
    seconds = context.seconds_before_resume + time.monotonic() - started  # a resumed run counts every epoch
    model.eval()
    shared = entry.share_weights_with
    sha = read_card(shared).checkpoint_sha256 if shared else save_weights(name, model)
    card = ModelCard(
        name=name,
        family=entry.family,
        description=entry.description,
        threat_model={"norm": entry.norm, "eps": entry.eps},
        architecture=entry.architecture,
        recipe={"name": entry.recipe, "hyperparameters": hyper.to_json()},
        command=command,
        training={
            "seconds": round(seconds, 1),
            "device": str(chosen),
            "threads": threads,
            "seed": seed,
            "torch": torch.__version__,
            "machine": machine_line(chosen),
            "train_images": len(labels),
            "stopped_by_time_budget": context.out_of_time(),
            **({"initialised_from": initialised_from} if initialised_from else {}),
            "log": str(log_path),
        },
        checkpoint_sha256=sha,
    )
    write_card(card)
    logger.info("trained in %.0f s; evaluating", seconds)
    from core.zoo.evaluation import evaluate_card  # after the checkpoint exists

    card = evaluate_card(name, device=device, robust_n=evaluate_n, logger=logger)
    logger.info("card: %s", card.evaluation)
    if not context.out_of_time():  # finished: the next run of the command trains afresh
        state_path.unlink(missing_ok=True)
    return card


def state_file(name: str) -> Path:
    """Training ``name``'s resumable state (after its last completed epoch)."""
    return run_dir(name) / "state.pt"


def settings_fingerprint(entry: ZooEntry, *, seed: int, train_subset: int | None) -> str:
    """What a saved state depends on (model, recipe, hyper-parameters, seed, data): only a state saved with the
    same fingerprint is resumed."""
    settings = {
        "name": entry.name,
        "architecture": entry.architecture,
        "recipe": entry.recipe,
        "hyper": entry.hyper,
        "seed": seed,
        "train_subset": train_subset,
    }
    return hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode()).hexdigest()[:16]


def saved_epochs(name: str, fingerprint: str | None = None) -> int | None:
    """Epochs completed in ``name``'s saved state; None when there is none (or, given ``fingerprint``, none saved
    with those settings, or an unreadable one)."""
    path = state_file(name)
    if not path.is_file():
        return None
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except (OSError, RuntimeError, EOFError, ValueError) as error:
        log.warning("%s: unreadable training state, starting afresh (%s)", path, error)
        return None
    if fingerprint is not None and state.get("fingerprint") != fingerprint:
        return None
    return int(state.get("epoch", -1)) + 1


def _initialise(model: nn.Module, entry: ZooEntry, logger: logging.Logger) -> str | None:
    """Copy the weights of zoo model ``entry.init_from`` (same architecture) into ``model``; its name + sha."""
    source = entry.init_from
    if not source:
        return None
    source_entry = get_entry(source)
    if source_entry.architecture != entry.architecture:
        raise ModelError(
            f"model {entry.name!r} starts from {source!r}, whose architecture {source_entry.architecture} differs"
        )
    from core.zoo import load, load_card

    try:
        weights = load(source_entry.name, "cpu").state_dict()
        sha = load_card(source_entry.name).checkpoint_sha256
    except ModelError as error:
        raise ModelError(f"model {entry.name!r} starts from {source!r}: {error}") from None
    model.load_state_dict(weights)
    logger.info("initialised from %s (checkpoint sha256 %s)", source_entry.name, sha)
    return f"{source_entry.name} (sha256 {sha})"


def _file_logger(name: str, path: Path, *, append: bool) -> logging.Logger:
    logger = logging.getLogger(f"invariance.train.{name}")
    logger.setLevel(logging.INFO)
    logger.propagate = False
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
        handler.close()
    file_handler = logging.FileHandler(path, mode="a" if append else "w", encoding="utf-8")
    file_handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", "%Y-%m-%d %H:%M:%S"))
    logger.addHandler(file_handler)
    stream = logging.StreamHandler(sys.stderr)
    stream.setFormatter(logging.Formatter(f"[{name}] %(message)s"))
    logger.addHandler(stream)
    return logger
