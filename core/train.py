"""Training driver: ``invariance train <name>`` turns a zoo entry into a checkpoint and a model card.

A *recipe* is a function ``recipe(ctx, model) -> model`` that trains ``model`` (freshly built for the entry's
architecture) with the entry's hyper-parameters in ``ctx.hyper``. The driver owns everything around it: seeding,
data, device, threads, the log file, the time budget, resumable per-epoch state, and — after training — the
evaluation figures and the model card.
"""

from __future__ import annotations

import importlib
import logging
import math
import platform
import shlex
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from core.data import load_mnist, to_float
from core.device import configure_threads, resolve_device
from core.errors import ModelError
from core.zoo.architectures import build
from core.zoo.cards import ModelCard, checkpoint_dir, read_card, run_dir, save_weights, write_card
from core.zoo.registry import ZooEntry, get_entry

log = logging.getLogger(__name__)

Recipe = Callable[["TrainContext", nn.Module], nn.Module]

RECIPE_MODULES: dict[str, str] = {
    "standard": "core.recipes.adversarial",
    "fgsm-rs": "core.recipes.adversarial",
    "pgd": "core.recipes.adversarial",
    "slide": "core.recipes.adversarial",
    "spatial": "core.recipes.adversarial",
    "ibp": "core.recipes.ibp",
    "abs": "core.recipes.abs",
}


@dataclass
class TrainContext:
    """Everything a recipe needs; images are float32 (N, 1, 28, 28) in [0, 1] on the CPU."""

    entry: ZooEntry
    images: torch.Tensor
    labels: torch.Tensor
    device: torch.device
    seed: int
    logger: logging.Logger
    state_path: Path
    time_budget_s: float | None = None
    started: float = field(default_factory=time.monotonic)
    progress_enabled: bool = True
    seconds_before_resume: float = 0.0

    @property
    def hyper(self) -> dict[str, Any]:
        return self.entry.hyper

    def batches(self, epoch: int, batch_size: int | None = None) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """Shuffled mini-batches for ``epoch`` (deterministic given the seed), on ``self.device``, with a bar."""
        size = batch_size or int(self.hyper.get("batch_size", 100))
        generator = torch.Generator().manual_seed(self.seed * 1000 + epoch)
        order = torch.randperm(len(self.labels), generator=generator)
        steps = math.ceil(len(order) / size)
        bar = tqdm(
            range(steps),
            desc=f"{self.entry.name} epoch {epoch + 1}",
            leave=False,
            disable=not self.progress_enabled,
            file=sys.stderr,
        )
        for step in bar:
            index = order[step * size : (step + 1) * size]
            yield self.images[index].to(self.device), self.labels[index].to(self.device)

    def out_of_time(self) -> bool:
        return self.time_budget_s is not None and time.monotonic() - self.started > self.time_budget_s

    def save_state(self, model: nn.Module, optimizer: torch.optim.Optimizer, epoch: int, **extra: Any) -> None:
        """Resumable state after ``epoch`` (0-based, completed); plain tensors only (loaded with weights_only)."""
        self.state_path.parent.mkdir(parents=True, exist_ok=True)
        temp = self.state_path.with_suffix(".tmp")
        elapsed = self.seconds_before_resume + time.monotonic() - self.started
        state = {"model": model.state_dict(), "optimizer": optimizer.state_dict(), "epoch": epoch, **extra}
        torch.save({**state, "elapsed_s": elapsed}, temp)
        temp.replace(self.state_path)

    def end_epoch(self, model: nn.Module, optimizer: torch.optim.Optimizer, epoch: int, **extra: Any) -> bool:
        """Save resumable state after ``epoch``; True when the time budget says to stop (and log that)."""
        self.save_state(model, optimizer, epoch, **extra)
        if self.out_of_time():
            self.logger.info("time budget reached after epoch %d", epoch + 1)
            return True
        return False

    def load_state(self, model: nn.Module, optimizer: torch.optim.Optimizer) -> tuple[int, dict[str, Any]]:
        """Restore the last saved state if any; returns (first epoch to run, extra values saved)."""
        if not self.state_path.exists():
            return 0, {}
        state = torch.load(self.state_path, map_location="cpu", weights_only=True)
        model.load_state_dict(state.pop("model"))
        optimizer.load_state_dict(state.pop("optimizer"))
        epoch = int(state.pop("epoch"))
        self.seconds_before_resume = float(state.pop("elapsed_s", 0.0))
        self.logger.info("resumed from %s after epoch %d", self.state_path, epoch + 1)
        return epoch + 1, state

    def log_epoch(self, epoch: int, **figures: float) -> None:
        shown = "  ".join(f"{key} {value:.4f}" for key, value in figures.items())
        self.logger.info(
            "epoch %d/%s  %s  (%.0f s)",
            epoch + 1,
            self.hyper.get("epochs", "?"),
            shown,
            time.monotonic() - self.started,
        )


def recipe_for(entry: ZooEntry) -> Recipe:
    module_name = RECIPE_MODULES.get(entry.recipe)
    if module_name is None:
        raise ModelError(f"model {entry.name!r} names unknown recipe {entry.recipe!r}")
    recipes: dict[str, Recipe] = importlib.import_module(module_name).RECIPES
    return recipes[entry.recipe]


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
    chosen = resolve_device(device)
    threads = configure_threads()
    torch.manual_seed(seed)
    np.random.seed(seed)
    logs = checkpoint_dir() / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    logger = _file_logger(name, logs / f"{name}.log", append=resume)
    command = "invariance train " + shlex.join([name, "--seed", str(seed)] + (["--device", device] if device else []))
    logger.info("command: %s", command)
    logger.info(
        "torch %s, device %s, %d threads, %s",
        torch.__version__,
        chosen,
        threads,
        platform.processor() or platform.machine(),
    )

    images_u8, labels = load_mnist("train")
    if train_subset:
        images_u8, labels = images_u8[:train_subset], labels[:train_subset]
    images = torch.from_numpy(to_float(images_u8)).unsqueeze(1)
    state_path = run_dir(name) / "state.pt"
    if not resume:
        state_path.unlink(missing_ok=True)
    context = TrainContext(
        entry,
        images,
        torch.from_numpy(labels),
        chosen,
        seed,
        logger,
        state_path,
        time_budget_s,
        progress_enabled=progress,
    )
    model = build(entry.architecture).to(chosen)
    initialised_from = _initialise(model, entry, logger) if not resume else entry.hyper.get("init_from")
    started = time.monotonic()
    model = recipe_for(entry)(context, model)
    seconds = context.seconds_before_resume + time.monotonic() - started  # a resumed run counts every epoch
    model.eval()
    shared = entry.hyper.get("share_weights_with")
    sha = read_card(str(shared)).checkpoint_sha256 if shared else save_weights(name, model)
    card = ModelCard(
        name=name,
        family=entry.family,
        description=entry.description,
        threat_model={"norm": entry.norm, "eps": entry.eps},
        architecture=entry.architecture,
        recipe={"name": entry.recipe, "hyperparameters": entry.hyper},
        command=command,
        training={
            "seconds": round(seconds, 1),
            "device": str(chosen),
            "threads": threads,
            "seed": seed,
            "torch": torch.__version__,
            "machine": _machine(),
            "train_images": len(labels),
            "stopped_by_time_budget": context.out_of_time(),
            **({"initialised_from": initialised_from} if initialised_from else {}),
            "log": f"checkpoints/logs/{name}.log",
        },
        checkpoint_sha256=sha,
    )
    write_card(card)
    logger.info("trained in %.0f s; evaluating", seconds)
    from core.zoo.evaluation import evaluate_card  # after the checkpoint exists

    card = evaluate_card(name, device=device, robust_n=evaluate_n, logger=logger)
    logger.info("card: %s", card.evaluation)
    return card


def _initialise(model: nn.Module, entry: ZooEntry, logger: logging.Logger) -> str | None:
    """Copy the weights of zoo model ``hyper["init_from"]`` (same architecture) into ``model``; its name + sha."""
    source = entry.hyper.get("init_from")
    if not source:
        return None
    source_entry = get_entry(str(source))
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


def _machine() -> str:
    try:
        cpu = next(
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        )
    except (OSError, StopIteration):
        cpu = platform.processor() or platform.machine()
    return f"{cpu}, {len(__import__('os').sched_getaffinity(0))} cores"


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
