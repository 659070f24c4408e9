"""User models: any MNIST classifier, added with ``invariance models add``, loaded wherever a zoo model is.

Each lives in ``<user folder>/models/<name>/`` (the user folder is :func:`core.paths.user_data_dir`, where the
editor also keeps its collections and studies):

- ``card.json``: a model card in the zoo's format, ``origin: "user"``, whose ``source`` says the format, the
  stored file, the factory and the input/output :class:`Convention`;
- the model file, copied there: ``model.onnx`` (converted with onnx2torch; no user code runs),
  ``model.torchscript`` (TorchScript: **its code runs** when loaded) or, for a Python factory (**its code
  runs**), ``weights.safetensors`` / ``weights.pt`` (``torch.load(weights_only=True)``).

The card records the stored file's sha256; every load reads the file once, checks that hash and deserialises
those very bytes. Adding a model measures it first (output shape, finite values, clean accuracy, forward time)
and registers nothing unless all is well.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import importlib.util
import io
import os
import re
import shutil
import statistics
import sys
import threading
import time
import types
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import numpy as np
import torch
from torch import nn

from core.budget import NORMS, get_norm
from core.data import load_mnist
from core.errors import ModelError
from core.files import fsync_dir
from core.images import to_float
from core.paths import user_data_dir
from core.zoo.cards import CARD_FORMAT_VERSION, ModelCard, load_state, parse_card, read_verified, write_card
from core.zoo.convention import Convention, ConventionWrapper
from core.zoo.registry import ZOO, ZooEntry

CARD_NAME: Final = "card.json"
SLOW_FORWARD_MS: Final = 5.0
"""A model whose forward pass on one image takes longer than this (median, one torch thread) is ``slow``: the
editor updates it asynchronously, like ABS (60 ms; the zoo's CNNs take 0.2-0.5 ms)."""
MIN_ACCURACY: Final = 0.5
CONVENTION_CHECK_N: Final = 1000
"""Test digits on which every other input convention is tried (to name the one that works, or to refuse one)."""
CONVENTION_MARGIN: Final = 0.10
"""A declared input convention is refused when another one scores this much higher (10 points of accuracy)."""
CHECK_N: Final = 10_000
NAME_PATTERN: Final = re.compile(r"[a-z0-9][a-z0-9._-]{0,47}")
MAX_FILE_BYTES: Final = 2 * 1024**3
FORMATS: Final = {"onnx": "model.onnx", "torchscript": "model.torchscript", "factory": "weights"}
_WEIGHT_SUFFIXES: Final = (".safetensors", ".pt", ".pth")
_STORED_NAMES: Final = ("model.onnx", "model.torchscript", *(f"weights{suffix}" for suffix in _WEIGHT_SUFFIXES))
_TIMING_RUNS: Final = 20
_IMPORT_LOCK: Final = threading.Lock()


def models_dir() -> Path:
    return user_data_dir() / "models"


def user_names() -> list[str]:
    """Names of the registered user models (folders holding a card), sorted."""
    folder = models_dir()
    if not folder.is_dir():
        return []
    return sorted(
        path.name for path in folder.iterdir() if NAME_PATTERN.fullmatch(path.name) and (path / CARD_NAME).is_file()
    )


def is_user_model(name: str) -> bool:
    return bool(NAME_PATTERN.fullmatch(name)) and (models_dir() / name / CARD_NAME).is_file()


def read_user_card(name: str) -> ModelCard:
    path = models_dir() / name / CARD_NAME
    card = parse_card(path, name)
    if card.origin != "user" or card.source.get("format") not in FORMATS:
        raise ModelError(
            f"{path}: not a user model card (origin {card.origin!r}, format {card.source.get('format')!r})"
        )
    if card.source.get("file") not in _STORED_NAMES:  # never a path: load and remove touch only these names
        raise ModelError(f"{path}: source.file must be one of {', '.join(_STORED_NAMES)}")
    return card


def user_entry(name: str) -> ZooEntry:
    """The registry entry of user model ``name`` (``origin="user"``), from its card."""
    card = read_user_card(name)
    threat = card.threat_model or {}
    return ZooEntry(
        name=card.name,
        family=card.family,
        description=card.description,
        architecture=card.architecture,
        recipe="user",
        norm=threat.get("norm"),
        eps=None if threat.get("eps") is None else float(threat["eps"]),
        slow=bool(card.source.get("slow", False)),
        origin="user",
    )


def load_user(name: str, device: torch.device) -> nn.Module:
    """User model ``name`` wrapped to the zoo's contract, eval mode, gradients off, on ``device``."""
    card = read_user_card(name)
    folder = models_dir() / name
    stored = folder / str(card.source["file"])
    data = read_verified(stored, card.checkpoint_sha256)
    inner = build_network(str(card.source["format"]), data, stored, card.source.get("factory"))
    convention = Convention.from_dict(card.source.get("convention"), str(folder / CARD_NAME))
    return _ready(ConventionWrapper(inner, convention), device)


def _ready(model: nn.Module, device: torch.device) -> nn.Module:
    model.eval().requires_grad_(False)
    return model.to(device)


# --- building a network from the stored bytes -------------------------------------------------------------------


def build_network(fmt: str, data: bytes, path: Path, factory: str | None) -> nn.Module:
    """The user's network (its own convention) from the file bytes ``data`` read from ``path``."""
    if fmt == "onnx":
        return _from_onnx(data, path)
    if fmt == "torchscript":
        return _from_torchscript(data, path)
    if fmt == "factory":
        if not factory:
            raise ModelError(f"{path}: a factory model needs its package.module:function")
        return _from_factory(factory, data, path)
    raise ModelError(f"{path}: unknown model format {fmt!r}; choose {', '.join(FORMATS)}")


def _from_onnx(data: bytes, path: Path) -> nn.Module:
    import onnx  # here, not at the top: importing it takes over a second, and only ONNX models need it

    with _IMPORT_LOCK, _torchvision_placeholder():  # the editor loads models on several threads
        from onnx2torch import convert
    try:
        proto = onnx.load_model_from_string(data)
        onnx.checker.check_model(proto)
        return convert(proto)
    except Exception as error:  # a third-party parser and converter on the user's file: any failure is theirs
        raise ModelError(f"{path}: not a convertible ONNX model ({_first_line(error)})") from None


@contextlib.contextmanager
def _torchvision_placeholder() -> Iterator[None]:
    """onnx2torch imports torchvision at import time for its NMS and RoIAlign converters only. Where
    torchvision is not installed (it cannot load on a CPU-only torch from some indexes), a placeholder stands in
    while onnx2torch is imported, so every other operator converts; a model using those two fails clearly."""
    if importlib.util.find_spec("torchvision") is not None or "onnx2torch" in sys.modules:
        yield
        return

    def missing(*_args: Any, **_kwargs: Any) -> Any:
        raise ModelError("this ONNX model uses NMS or RoIAlign, which need torchvision")

    placeholder = types.ModuleType("torchvision")
    ops = types.ModuleType("torchvision.ops")
    for attribute in ("nms", "roi_align", "box_convert", "batched_nms"):
        setattr(ops, attribute, missing)
    placeholder.ops = ops  # type: ignore[attr-defined]
    sys.modules.update({"torchvision": placeholder, "torchvision.ops": ops})
    try:
        yield
    finally:
        for name in ("torchvision", "torchvision.ops"):
            sys.modules.pop(name, None)


def _from_torchscript(data: bytes, path: Path) -> nn.Module:
    try:
        return torch.jit.load(io.BytesIO(data), map_location="cpu")
    except Exception as error:  # TorchScript deserialisation raises RuntimeError, ValueError, zipfile errors...
        raise ModelError(f"{path}: not a TorchScript model ({_first_line(error)})") from None


def _from_factory(factory: str, data: bytes, path: Path) -> nn.Module:
    function = _factory_function(factory)
    try:
        network = function()
    except Exception as error:  # the user's code
        raise ModelError(
            f"factory {factory}: calling it failed ({type(error).__name__}: {_first_line(error)})"
        ) from None
    if not isinstance(network, nn.Module):
        raise ModelError(f"factory {factory}: returned {type(network).__name__}, not a torch.nn.Module")
    state = _state_dict(data, path)
    load_state(network, state, path, f"factory {factory}")
    return network


def _factory_function(factory: str) -> Callable[[], Any]:
    module_name, _, function_name = factory.partition(":")
    if not module_name or not function_name.isidentifier():
        raise ModelError(f"factory {factory!r}: expected package.module:function")
    try:
        module = importlib.import_module(module_name)  # the user named this module: their code runs
    except Exception as error:  # importing the user's module runs arbitrary code
        raise ModelError(f"factory {factory}: cannot import {module_name} ({type(error).__name__}: {error})") from None
    function = getattr(module, function_name, None)
    if not callable(function):
        raise ModelError(f"factory {factory}: {module_name} has no function {function_name}")
    return function


def _state_dict(data: bytes, path: Path) -> dict[str, torch.Tensor]:
    if path.suffix == ".safetensors":
        from safetensors import SafetensorError
        from safetensors.torch import load as load_safetensors

        try:
            return load_safetensors(data)
        except (SafetensorError, ValueError) as error:
            raise ModelError(f"{path}: not a safetensors file ({_first_line(error)})") from None
    try:
        state = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except Exception as error:  # torch.load raises UnpicklingError, RuntimeError, EOFError... on a bad file
        raise ModelError(f"{path}: not a weights-only torch file ({_first_line(error)})") from None
    if not isinstance(state, dict) or not all(isinstance(value, torch.Tensor) for value in state.values()):
        raise ModelError(f"{path}: holds a {type(state).__name__}, not a state dict of tensors")
    return state


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return (text[0] if text else type(error).__name__)[:300]


# --- adding and removing ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AddRequest:
    """What ``invariance models add`` was asked: the file (or the weights of a factory) and the conventions."""

    name: str
    fmt: str
    file: Path
    convention: Convention
    factory: str | None = None
    threat: tuple[str, float] | None = None
    description: str = ""
    command: str = ""


@dataclass(frozen=True)
class Measured:
    accuracy: float
    n: int
    seconds: float
    forward_ms: float


def parse_threat(text: str) -> tuple[str, float]:
    """``"linf:0.3"`` -> ``("linf", 0.3)``; the norm must be known and ε a positive finite number (ℓ0: whole).

    Raises :class:`ModelError` for an unknown norm or an ε that is not a number, and the norm's
    :meth:`~core.budget.Norm.validate_eps` :class:`BudgetError` for an ε out of range.
    """
    norm, _, value = text.partition(":")
    if norm not in NORMS:
        raise ModelError(f"--threat {text!r}: unknown norm {norm!r}; choose {', '.join(NORMS)}")
    try:
        eps = float(value)
    except ValueError:
        raise ModelError(f"--threat {text!r}: ε must be a number, as in linf:0.3") from None
    return norm, get_norm(norm).validate_eps(eps, positive=True, where=f"--threat {text!r}: ε")


def check_name(name: str) -> None:
    if not NAME_PATTERN.fullmatch(name):
        raise ModelError(
            f"model name {name!r}: use 1-48 characters a-z, 0-9, '.', '_', '-' starting with a letter or digit"
        )
    if name in ZOO:
        raise ModelError(f"model name {name!r} is a zoo model; choose another name")
    if (models_dir() / name).exists():
        raise ModelError(
            f"{models_dir() / name}: a user model {name!r} already exists ('invariance models remove {name}')"
        )


def add_model(request: AddRequest, *, n: int = CHECK_N) -> ModelCard:
    """Validate, measure and register a user model; nothing is written unless every check passes.

    Checks: the file reads and converts; outputs are (N, 10) and finite; clean accuracy on the first ``n`` MNIST
    test digits is at least 50% (else the error names the input convention that works, if one does).
    """
    check_name(request.name)
    if request.fmt not in FORMATS:
        raise ModelError(f"unknown model format {request.fmt!r}; choose {', '.join(FORMATS)}")
    if request.fmt == "factory" and request.file.suffix not in _WEIGHT_SUFFIXES:
        raise ModelError(f"{request.file}: factory weights must be .safetensors or .pt")
    data = _read_input(request.file)
    stored_name = FORMATS[request.fmt] + (request.file.suffix if request.fmt == "factory" else "")
    network = build_network(request.fmt, data, request.file, request.factory)
    measured = _measure(network, request, n)
    card = _card(request, measured, stored_name, data)
    _register(request.name, stored_name, data, card)
    return card


def _read_input(path: Path) -> bytes:
    if not path.is_file():
        raise ModelError(f"{path}: no such file")
    if path.stat().st_size > MAX_FILE_BYTES:
        raise ModelError(f"{path}: larger than {MAX_FILE_BYTES // 1024**3} GiB")
    try:
        return path.read_bytes()
    except OSError as error:
        raise ModelError(f"{path}: cannot read ({error.strerror or error})") from None


def _test_digits(n: int) -> tuple[torch.Tensor, torch.Tensor]:
    images_u8, labels = load_mnist("test")
    images = torch.from_numpy(to_float(images_u8[:n])).unsqueeze(1)
    return images, torch.from_numpy(labels[:n].astype(np.int64))


def _accuracy(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, where: Path) -> float:
    """Clean accuracy; raises :class:`ModelError` for outputs that are not (N, 10) or not finite."""
    correct = 0
    with torch.no_grad():
        for start in range(0, len(labels), 500):
            x = images[start : start + 500]
            try:
                out = model(x)
            except ModelError:
                raise
            except Exception as error:  # the user's network on our inputs: report its failure, not a traceback
                raise ModelError(
                    f"{where}: running the model on a ({', '.join(map(str, x.shape))}) batch failed "
                    f"({type(error).__name__}: {_first_line(error)})"
                ) from None
            if tuple(out.shape) != (len(x), 10):
                raise ModelError(
                    f"{where}: output shape {tuple(out.shape)} for {len(x)} images; expected ({len(x)}, 10)"
                )
            if not bool(torch.isfinite(out).all()):
                raise ModelError(f"{where}: the model outputs NaN or infinite values")
            correct += int((out.argmax(1) == labels[start : start + 500]).sum())
    return correct / len(labels)


def _measure(network: nn.Module, request: AddRequest, n: int) -> Measured:
    network.eval()
    images, labels = _test_digits(n)
    few_images, few_labels = images[:CONVENTION_CHECK_N], labels[:CONVENTION_CHECK_N]
    started = time.monotonic()
    try:
        accuracy = _accuracy(ConventionWrapper(network, request.convention), images, labels, request.file)
    except ModelError as error:
        hint = _working_convention(network, request.convention, few_images, few_labels)
        raise ModelError(f"{error}{hint}") from None
    seconds = time.monotonic() - started
    if accuracy < MIN_ACCURACY:
        hint = _working_convention(network, request.convention, few_images, few_labels)
        raise ModelError(
            f"{request.file}: clean accuracy {accuracy:.1%} on {n} MNIST test digits is below "
            f"{MIN_ACCURACY:.0%} with {request.convention.options()}{hint or '; no other input convention does better'}"
        )
    _check_declared_convention(network, request, few_images, few_labels)
    return Measured(accuracy, n, seconds, forward_ms(ConventionWrapper(network, request.convention)))


def _check_declared_convention(
    network: nn.Module, request: AddRequest, images: torch.Tensor, labels: torch.Tensor
) -> None:
    """Refuse a declared input convention that does much worse than another one (by :data:`CONVENTION_MARGIN`)
    on the same digits: the model was most likely trained on that other one (e.g. [0, 1] declared as 0-255)."""
    declared = _accuracy(ConventionWrapper(network, request.convention), images, labels, request.file)
    best = _best_alternative(network, request.convention, images, labels)
    if best is not None and best[0] - declared >= CONVENTION_MARGIN:
        raise ModelError(
            f"{request.file}: clean accuracy {declared:.1%} on the first {len(labels)} MNIST test digits with "
            f"{request.convention.options()} is much lower than {best[0]:.1%} with {best[1].options()}: "
            "the model expects that convention; add it with those options"
        )


def _best_alternative(
    network: nn.Module, declared: Convention, images: torch.Tensor, labels: torch.Tensor
) -> tuple[float, Convention] | None:
    """The other input convention with the highest accuracy of at least 50% on these digits, or None."""
    best: tuple[float, Convention] | None = None
    for candidate in declared.alternatives():
        try:
            accuracy = _accuracy(ConventionWrapper(network, candidate), images, labels, Path("?"))
        except ModelError:
            continue
        if accuracy >= MIN_ACCURACY and (best is None or accuracy > best[0]):
            best = (accuracy, candidate)
    return best


def _working_convention(network: nn.Module, declared: Convention, images: torch.Tensor, labels: torch.Tensor) -> str:
    """``"; it reaches 98.0% with --input-range 0-255 ..."`` for the best other convention above 50%, or ``""``."""
    best = _best_alternative(network, declared, images, labels)
    if best is None:
        return ""
    return f"; it reaches {best[0]:.1%} on the first {len(labels)} with {best[1].options()}: add it with those options"


def forward_ms(model: nn.Module) -> float:
    """Median time of one forward pass on a single image (after warm-up), in milliseconds."""
    x = torch.rand(1, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    timings = []
    with torch.no_grad():
        for run in range(_TIMING_RUNS + 3):
            started = time.perf_counter()
            model(x)
            if run >= 3:
                timings.append(time.perf_counter() - started)
    return 1000 * statistics.median(timings)


def _card(request: AddRequest, measured: Measured, stored_name: str, data: bytes) -> ModelCard:
    threat = {"norm": request.threat[0], "eps": request.threat[1]} if request.threat else {}
    what = f"{request.fmt} model from {request.file.name}" + (f" ({request.factory})" if request.factory else "")
    return ModelCard(
        name=request.name,
        family="user",
        description=request.description or f"user model: {what}",
        threat_model=threat,
        architecture=f"user-{request.fmt}",
        recipe={},
        command=request.command,
        training={},
        evaluation={
            "clean_accuracy": {
                "value": round(measured.accuracy, 4),
                "n": measured.n,
                "attack": "none",
                "seconds": round(measured.seconds, 1),
                "command": request.command,
            }
        },
        checkpoint_sha256=hashlib.sha256(data).hexdigest(),
        format_version=CARD_FORMAT_VERSION,
        origin="user",
        source={
            "format": request.fmt,
            "file": stored_name,
            "added_from": str(request.file),
            "factory": request.factory,
            "convention": request.convention.to_dict(),
            "forward_ms_batch1": round(measured.forward_ms, 3),
            "forward_threads": torch.get_num_threads(),
            "slow": measured.forward_ms > SLOW_FORWARD_MS,
            "runs_user_code": request.fmt != "onnx",
        },
    )


def _register(name: str, stored_name: str, data: bytes, card: ModelCard) -> None:
    """Stage the folder beside its final place, then rename it there (a reader never sees half a model)."""
    parent = models_dir()
    parent.mkdir(parents=True, exist_ok=True)
    staging = parent / f".staging-{name}-{uuid.uuid4().hex[:8]}"
    staging.mkdir()
    try:
        (staging / stored_name).write_bytes(data)
        write_card(card, staging / CARD_NAME)
        fsync_dir(staging)
        if (parent / name).exists():
            raise ModelError(f"{parent / name}: a user model {name!r} already exists")
        os.rename(staging, parent / name)
        fsync_dir(parent)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)  # our own staging folder
        raise


def remove_model(name: str) -> Path:
    """Delete user model ``name``'s folder: only the files ``add`` wrote there; anything else is refused."""
    if name in ZOO:
        raise ModelError(f"{name!r} is a zoo model; only user models can be removed")
    if not is_user_model(name):
        known = ", ".join(user_names()) or "none"
        raise ModelError(f"no user model {name!r} in {models_dir()} (user models: {known})")
    folder = models_dir() / name
    card = read_user_card(name)
    ours = {CARD_NAME, str(card.source.get("file"))}
    others = sorted(path.name for path in folder.iterdir() if path.name not in ours)
    if others:
        raise ModelError(
            f"{folder}: holds files 'models add' did not write ({', '.join(others[:3])}); remove them first"
        )
    for file_name in ours:
        (folder / file_name).unlink(missing_ok=True)
    folder.rmdir()
    return folder
