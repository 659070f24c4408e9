"""Reference AutoAttack (Croce & Hein 2020): the robustness figure published MNIST tables report.

The attacks are the reference implementation's, from ``pyautoattack`` (a packaged port of fra31/auto-attack), at
its ``standard`` version and defaults: APGD-CE, APGD-T, FAB-T and Square (5,000 queries), each run only on the
images still classified correctly, 100 iterations each. At ℓ∞ and ℓ2: APGD-CE with 1 restart and APGD-T with 9
target classes; at ℓ1 the reference's ℓ1 setting: APGD with its "large ε" schedule, APGD-CE with 5 restarts and
APGD-T with 5 target classes. Each component goes through :class:`core.attacks.Attack`, so every adversarial image
is projected with :func:`core.budget.project` and re-classified before it counts.

Work is sharded (:mod:`core.sharding`) into fixed chunks of test indices; a chunk's seed derives from its first
index, so each image's result does not depend on how many workers ran it. Per image we keep: robust or not, which
attack broke it (:data:`ATTACK_CODES`), our PGD's verdict on the same image and, for IBP-trained models, the IBP
certificate. Sanity checks on the same images: an image that is IBP-certified yet broken is a bug and fails the
run; AutoAttack leaving more than one image robust that our PGD breaks is recorded as a warning.

Per-image results are kept beside the card as ``<model>.autoattack-<norm>-<eps>.npz`` (:func:`per_image_name`):
bit-packed bool arrays and one uint8 attack code per image.
"""

from __future__ import annotations

import functools
import importlib.metadata
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import numpy as np
import torch
from torch import nn

from core.attacks import PGD, Attack
from core.budget import get_norm
from core.data import load_mnist
from core.device import resolve_device
from core.errors import ModelError
from core.files import atomic_output
from core.images import to_float
from core.paths import chunks_dir
from core.sharding import Chunk, ChunkStore, job_key, make_chunks, reusable, run_chunks

log = logging.getLogger(__name__)

AUTOATTACK_N: Final = 1_000
FIRST_N: Final = 500
"""AutoAttack figures also record their value on the first FIRST_N images: the cards' PGD figures use those."""
CHUNK_SIZE: Final = 100
"""Images per chunk on the CPU (a chunk is also the attack's batch). Part of the job: results depend on it."""
CUDA_CHUNK_SIZE: Final = 1_000
PER_IMAGE_FORMAT: Final = 1
_REFERENCE_NORMS: Final = {"linf": "Linf", "l2": "L2", "l1": "L1"}
ATTACK_CODES: Final = ("robust", "misclassified", "apgd-ce", "apgd-t", "fab-t", "square")
"""Per-image attack code: 0 robust, 1 misclassified without attack, 2... the attack that broke it."""
LEGACY_LABEL: Final = "torchattacks, 10 steps"
ABS_REASON: Final = (
    "no AutoAttack figure: ABS has no ℓp threat model and classifies by optimising a latent code per image and "
    "class, so the reference AutoAttack (thousands of model calls per image) is out of reach on a CPU and its "
    "gradients are those of an inner optimisation; Binary ABS also binarises its input (masked gradients)"
)


@dataclass(frozen=True)
class ReferenceSettings:
    """What a run is made with: the reference's own settings, not tuned. :func:`card_record` records them."""

    version: str
    """pyautoattack's attack set: ``standard`` is APGD-CE, APGD-T, FAB-T and Square."""
    n_iter: int
    """Iterations of each attack: the reference's default at that version (recorded, not passed)."""
    seed: int
    """The run's seed; each chunk's seed is ``SeedSequence([seed, first index])``."""
    pgd_steps: int
    pgd_restarts: int
    """Our PGD on the same images, as the cards' PGD figures (stop at first success)."""

    @property
    def pgd_label(self) -> str:
        """The same-images PGD as cards and warnings name it: ``"PGD-100 x5"``."""
        return f"PGD-{self.pgd_steps} x{self.pgd_restarts}"


REFERENCE: Final = ReferenceSettings(version="standard", n_iter=100, seed=0, pgd_steps=100, pgd_restarts=5)


def implementation() -> str:
    """``"pyautoattack 0.2.0"``: the package and version that ran (recorded on every card record)."""
    return f"pyautoattack {importlib.metadata.version('pyautoattack')}"


def supports(norm: str | None) -> bool:
    """Whether the reference AutoAttack exists for this threat model: ℓ∞, ℓ2 and ℓ1."""
    return norm in _REFERENCE_NORMS


def restarts(norm: str) -> int:
    """APGD-CE restarts of the reference's standard version at ``norm``."""
    return 5 if norm == "l1" else 1


def target_classes(norm: str) -> int:
    return 5 if norm == "l1" else 9


def attack_name(norm: str, eps: float) -> str:
    """What ran, in words (the card's ``attack`` field)."""
    large = ", APGD large-ε schedule" if norm == "l1" else ""
    return (
        f"AutoAttack {REFERENCE.version} ({implementation()}: APGD-CE x{restarts(norm)} restarts, APGD-T "
        f"{target_classes(norm)} targets, FAB-T 9 targets, {REFERENCE.n_iter} iterations each{large}, then Square 5000 "
        f"queries), {norm} ε={eps}, seed {REFERENCE.seed} (each chunk: SeedSequence of it and its first index)"
    )


def figure_key(norm: str, eps: float) -> str:
    return f"autoattack_{norm}_{eps}"


def per_image_name(model: str, norm: str, eps: float) -> str:
    """The per-image file's name, beside the model's card: ``<model>.autoattack-<norm>-<eps>.npz``."""
    return f"{model}.autoattack-{norm}-{eps}.npz"


def is_reference(record: dict[str, Any]) -> bool:
    """Whether a card's AutoAttack record comes from the reference implementation (else: older torchattacks)."""
    return str(record.get("implementation", "")).startswith("pyautoattack")


def record_label(record: dict[str, Any]) -> str:
    """How tables name the implementation of a record: ``"pyautoattack 0.2.0"`` or ``"torchattacks, 10 steps"``."""
    return str(record["implementation"]) if is_reference(record) else LEGACY_LABEL


class ReferenceComponent(Attack):
    """One attack of the reference AutoAttack (``apgd-ce``, ``apgd-t``, ``fab-t`` or ``square``), configured as
    the reference's standard version configures it, through the attack base (projection, re-classification)."""

    def __init__(self, adversary: Any, name: str, *, norm: str, eps: float) -> None:
        super().__init__(norm=norm, eps=eps)
        self.adversary = adversary
        self.name = name

    def propose(self, model: nn.Module, images: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        adversary, seed = self.adversary, self.adversary.get_seed()
        if self.name == "apgd-ce":
            adversary.apgd.loss = "ce"
            adversary.apgd.seed = seed
            return adversary.apgd.perturb(images, labels)  # type: ignore[no-any-return]
        if self.name == "apgd-t":
            adversary.apgd_targeted.seed = seed
            return adversary.apgd_targeted.perturb(images, labels)  # type: ignore[no-any-return]
        if self.name == "fab-t":
            adversary.fab.targeted = True
            adversary.fab.n_restarts = 1
            adversary.fab.seed = seed
            return adversary.fab.perturb(images, labels)  # type: ignore[no-any-return]
        if self.name == "square":
            adversary.square.seed = seed
            return adversary.square.perturb(images, labels)  # type: ignore[no-any-return]
        raise ValueError(f"unknown AutoAttack component {self.name!r}")


@dataclass(frozen=True)
class Outcome:
    """Per image of a batch: ``robust`` (N,) bool, ``attack`` (N,) uint8 code (:data:`ATTACK_CODES`) and the
    ``adversarial`` (N, 1, 28, 28) that broke it (the image itself where none did)."""

    robust: torch.Tensor
    attack: torch.Tensor
    adversarial: torch.Tensor


def reference_autoattack(
    model: nn.Module, images: torch.Tensor, labels: torch.Tensor, *, norm: str, eps: float, seed: int
) -> Outcome:
    """The reference AutoAttack (standard) on one batch, each attack on the images still robust.

    ``images`` (N, 1, 28, 28) float in [0, 1] on the model's device, ``labels`` (N,) int64.
    """
    from pyautoattack import AutoAttack

    if not supports(norm):
        raise ModelError(f"AutoAttack has no {norm} version (only {', '.join(_REFERENCE_NORMS)})")
    adversary = AutoAttack(
        model, norm=_REFERENCE_NORMS[norm], eps=eps, seed=seed, version=REFERENCE.version, device=images.device
    )  # type: ignore[arg-type]
    with torch.no_grad():
        robust = model(images).argmax(1) == labels
    codes = torch.where(robust, 0, 1).to(torch.uint8)
    adversarial = images.detach().clone()
    for name in adversary.attacks_to_run:
        todo = robust.nonzero().squeeze(1)
        if len(todo) == 0:
            break
        result = ReferenceComponent(adversary, name, norm=norm, eps=eps)(model, images[todo], labels[todo])
        broken = todo[result.success]
        robust[broken] = False
        codes[broken] = ATTACK_CODES.index(name)
        adversarial[broken] = result.adversarial[result.success]
    return Outcome(robust.cpu(), codes.cpu(), adversarial)


class ReferenceAutoAttack(Attack):
    """:func:`reference_autoattack` as an :class:`Attack` (``success``: not robust, misclassified included)."""

    def __init__(self, *, norm: str, eps: float, seed: int = REFERENCE.seed) -> None:
        super().__init__(norm=norm, eps=eps)
        self.seed = seed

    def propose(self, model: nn.Module, images: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return reference_autoattack(model, images, labels, norm=self.norm, eps=self.eps, seed=self.seed).adversarial


# ----------------------------------------------------------------------------------------------- sharded runs


@dataclass(frozen=True)
class EvalSpec:
    """What one chunk job measures (picklable: it travels to pool and Dask workers)."""

    model: str
    norm: str
    eps: float
    device: str = "cpu"
    pgd: bool = True
    certify: bool = False


@functools.lru_cache(maxsize=4)
def _worker_model(name: str, device: str) -> nn.Module:
    from core.zoo import load

    return load(name, device)


@functools.lru_cache(maxsize=1)
def _test_set() -> tuple[torch.Tensor, torch.Tensor]:
    images_u8, labels = load_mnist("test")
    return torch.from_numpy(to_float(images_u8)).unsqueeze(1), torch.from_numpy(labels).long()


def evaluate_chunk(spec: EvalSpec, chunk: Chunk) -> dict[str, Any]:
    """The per-image results of one chunk (a job for :func:`core.sharding.run_chunks`): ``robust``, ``attack``
    and, when asked, ``pgd_robust`` and ``certified``; ``seconds`` of work and the worker's ``cpu_seconds``."""
    started, cpu_started = time.perf_counter(), time.process_time()
    device = resolve_device(spec.device)
    model = _worker_model(spec.model, str(device))
    images, labels = _test_set()
    index = torch.tensor(chunk.indices, dtype=torch.long)
    x, y = images[index].to(device), labels[index].to(device)
    outcome = reference_autoattack(model, x, y, norm=spec.norm, eps=spec.eps, seed=chunk.seed)
    result: dict[str, Any] = {"robust": outcome.robust.numpy(), "attack": outcome.attack.numpy()}
    if spec.pgd:
        attack = PGD(
            norm=spec.norm,
            eps=spec.eps,
            steps=REFERENCE.pgd_steps,
            restarts=REFERENCE.pgd_restarts,
            generator=torch.Generator(device=device).manual_seed(chunk.seed),
            early_stop=True,
        )
        result["pgd_robust"] = (~attack(model, x, y).success).cpu().numpy()
    if spec.certify:
        from core.certify import certified

        with torch.no_grad():
            clean = model(x).argmax(1) == y
            result["certified"] = (certified(model, x, y, spec.eps) & clean).cpu().numpy()
    result["seconds"] = round(time.perf_counter() - started, 3)
    result["cpu_seconds"] = round(time.process_time() - cpu_started, 3)
    return result


@dataclass
class AutoAttackRun:
    """A finished run on the first ``n`` test images (arrays of length ``n``, in index order)."""

    model: str
    norm: str
    eps: float
    n: int
    chunk_size: int
    robust: np.ndarray
    attack: np.ndarray
    pgd_robust: np.ndarray | None
    certified: np.ndarray | None
    seconds: float
    """Wall time of this invocation (reused chunks cost nothing)."""
    work_seconds: float
    """Sum of the chunks' own times (reused ones included): the run's cost on one worker."""
    cpu_seconds: float
    """Sum of the chunks' CPU times (reused ones included; 0 for chunks stored before this was recorded)."""
    reused: int
    chunks: int
    warnings: list[str] = field(default_factory=list)

    @property
    def value(self) -> float:
        return float(self.robust.mean())

    @property
    def pgd_value(self) -> float | None:
        return None if self.pgd_robust is None else float(self.pgd_robust.mean())

    def broken_by(self) -> dict[str, int]:
        counts = np.bincount(self.attack, minlength=len(ATTACK_CODES))
        return {name: int(count) for name, count in zip(ATTACK_CODES, counts, strict=False) if count}


def chunk_store(spec: EvalSpec, *, chunk_size: int, seed: int = REFERENCE.seed, root: Path | None = None) -> ChunkStore:
    """Where the chunks of this evaluation are kept: ``core.paths.chunks_dir()/<job key>`` (outside the work tree).

    The key holds everything that determines a chunk's result: the model's name and weights' sha256, the
    implementation and its settings, norm, ε, seed, chunk size and device type. ``n`` is not part of it: a run
    on 10,000 images reuses the chunks of a run on the first 1,000.
    """
    from core.zoo import load_card

    card = load_card(spec.model)
    key = job_key(
        f"autoattack-{spec.model}-{spec.norm}-{spec.eps}",
        model=spec.model,
        sha256=card.checkpoint_sha256,
        implementation=implementation(),
        version=REFERENCE.version,
        norm=spec.norm,
        eps=spec.eps,
        seed=seed,
        chunk_size=chunk_size,
        device=resolve_device(spec.device).type,
        pgd=spec.pgd,
        certify=spec.certify,
    )
    return ChunkStore(root or chunks_dir(), key)


def default_chunk_size(device: str | None) -> int:
    return CUDA_CHUNK_SIZE if resolve_device(device).type == "cuda" else CHUNK_SIZE


def run_autoattack(
    spec: EvalSpec,
    n: int,
    *,
    workers: int = 1,
    dask: str | None = None,
    chunk_size: int | None = None,
    store_root: Path | None = None,
    progress: str | None = "AutoAttack",
    report: Callable[[str], None] | None = None,
) -> AutoAttackRun:
    """The reference AutoAttack on the first ``n`` test images, sharded, resumable, checked.

    Raises :class:`ModelError` when an IBP-certified image is broken (a bug in the projection, the model wrapper
    or the certificate); records a warning when AutoAttack leaves more than one image robust that PGD breaks.
    """
    if not supports(spec.norm):
        raise ModelError(f"{spec.model}: AutoAttack has no {spec.norm} version (only linf, l2 and l1)")
    get_norm(spec.norm).validate_eps(spec.eps, positive=True)
    size = chunk_size or default_chunk_size(spec.device)
    chunks = make_chunks(range(n), size, REFERENCE.seed)
    store = chunk_store(spec, chunk_size=size, root=store_root)
    reused = reusable(store, chunks)
    if report is not None:
        report(f"{spec.model}: reused {reused} of {len(chunks)} chunks ({store.folder})")
    started = time.monotonic()
    results: Sequence[dict[str, Any]] = run_chunks(
        functools.partial(evaluate_chunk, spec), chunks, workers=workers, dask=dask, store=store, progress=progress
    )
    seconds = time.monotonic() - started

    def merged(name: str) -> np.ndarray | None:
        if name not in results[0]:
            return None
        return np.concatenate([np.asarray(result[name]) for result in results])

    robust, attack = merged("robust"), merged("attack")
    assert robust is not None and attack is not None
    run = AutoAttackRun(
        model=spec.model,
        norm=spec.norm,
        eps=spec.eps,
        n=n,
        chunk_size=size,
        robust=robust.astype(bool),
        attack=attack.astype(np.uint8),
        pgd_robust=None if (pgd := merged("pgd_robust")) is None else pgd.astype(bool),
        certified=None if (cert := merged("certified")) is None else cert.astype(bool),
        seconds=seconds,
        work_seconds=float(sum(float(result.get("seconds", 0.0)) for result in results)),
        cpu_seconds=float(sum(float(result.get("cpu_seconds", 0.0)) for result in results)),
        reused=reused,
        chunks=len(chunks),
    )
    check(run)
    return run


def check(run: AutoAttackRun) -> None:
    """The sanity checks on the same images (see the module doc): raise on a broken certificate, else record
    a warning on ``run`` when PGD is stronger on more than one image."""
    if run.certified is not None:
        broken = np.flatnonzero(run.certified & ~run.robust)
        if len(broken):
            raise ModelError(
                f"{run.model}: AutoAttack broke {len(broken)} IBP-certified image(s) at {run.norm} ε={run.eps} "
                f"(test indices {', '.join(map(str, broken[:5]))}): AutoAttack accuracy "
                f"{run.value:.4f} < certified {float(run.certified.mean()):.4f} is a bug in the projection, the model "
                "wrapper or the certificate; nothing was written"
            )
    if run.pgd_robust is not None:
        stronger = np.flatnonzero(run.robust & ~run.pgd_robust)
        if len(stronger) > 1:
            run.warnings.append(
                f"weak attack run? AutoAttack left {len(stronger)} images robust that our {REFERENCE.pgd_label} "
                f"breaks (test indices {', '.join(map(str, stronger[:10]))})"
            )


def write_per_image(run: AutoAttackRun, folder: Path) -> Path:
    """Write the per-image file (:func:`per_image_name`) atomically into ``folder``; returns its path."""
    arrays: dict[str, np.ndarray] = {
        "format_version": np.array(PER_IMAGE_FORMAT, dtype=np.uint8),
        "n": np.array(run.n, dtype=np.int64),
        "robust": np.packbits(run.robust),
        "attack": run.attack.astype(np.uint8),
        "attack_codes": np.array(ATTACK_CODES),
    }
    if run.pgd_robust is not None:
        arrays["pgd_robust"] = np.packbits(run.pgd_robust)
    if run.certified is not None:
        arrays["certified"] = np.packbits(run.certified)
    path = folder / per_image_name(run.model, run.norm, run.eps)
    with atomic_output(path) as temporary, open(temporary, "wb") as handle:
        np.savez_compressed(handle, **arrays)
    return path


def read_per_image(path: Path) -> dict[str, np.ndarray]:
    """The per-image arrays of ``path``, unpacked: ``robust`` (and ``pgd_robust``, ``certified``) as bool (n,),
    ``attack`` uint8 (n,), ``attack_codes`` the names of the codes."""
    try:
        with np.load(path, allow_pickle=False) as archive:
            data = {name: archive[name] for name in archive.files}
    except (OSError, ValueError) as error:
        raise ModelError(f"{path}: unreadable per-image AutoAttack file ({error})") from error
    if int(data.get("format_version", -1)) != PER_IMAGE_FORMAT:
        raise ModelError(f"{path}: unsupported per-image format_version")
    n = int(data["n"])
    for name in ("robust", "pgd_robust", "certified"):
        if name in data:
            data[name] = np.unpackbits(data[name], count=n).astype(bool)
    return data


def card_record(run: AutoAttackRun, *, command: str, workers: int, engine: str, device: str) -> dict[str, Any]:
    """The card's record of a run: what ran (implementation, version, iterations, restarts, norm, ε, seed), on
    how many images, the per-image file, the time and the sanity checks."""
    record: dict[str, Any] = {
        "value": round(run.value, 4),
        "n": run.n,
        "implementation": implementation(),
        "version": REFERENCE.version,
        "attacks": list(ATTACK_CODES[2:]),
        "n_iter": REFERENCE.n_iter,
        "n_restarts": restarts(run.norm),
        "norm": run.norm,
        "eps": run.eps,
        "seed": REFERENCE.seed,
        "seeds": "per chunk: SeedSequence([seed, first index])",
        "chunk_size": run.chunk_size,
        "per_image": per_image_name(run.model, run.norm, run.eps),
        "attack": attack_name(run.norm, run.eps),
        "broken_by": run.broken_by(),
        "seconds": round(run.seconds, 1),
        "work_seconds": round(run.work_seconds, 1),
        "workers": workers,
        "engine": engine,
        "device": device,
        "command": command,
    }
    if run.n > FIRST_N:
        record[f"value_first_{FIRST_N}"] = round(float(run.robust[:FIRST_N].mean()), 4)
    if run.pgd_robust is not None:
        record["pgd_same_images"] = {
            "value": round(float(run.pgd_robust.mean()), 4),
            "attack": f"{REFERENCE.pgd_label} restarts, stop at first success",
            "robust_to_autoattack_broken_by_pgd": int((run.robust & ~run.pgd_robust).sum()),
        }
    if run.certified is not None:
        record["certified_same_images"] = round(float(run.certified.mean()), 4)
    record["warnings"] = list(run.warnings)
    return record


def previous_of(record: dict[str, Any] | None) -> dict[str, Any] | None:
    """The figure a new record replaces, kept on it as ``previous`` (an older torchattacks record, or the
    previous record's own ``previous``)."""
    if not isinstance(record, dict) or "value" not in record:
        return None
    if is_reference(record):
        previous = record.get("previous")
        return previous if isinstance(previous, dict) else None
    return {
        "value": record["value"],
        "n": record.get("n"),
        "implementation": LEGACY_LABEL,
        "attack": record.get("attack"),
        "command": record.get("command"),
    }


def difference_points(record: dict[str, Any]) -> float | None:
    """Reference minus previous figure, in percentage points (``None`` without a previous figure)."""
    previous = record.get("previous")
    if not is_reference(record) or not isinstance(previous, dict) or previous.get("value") is None:
        return None
    return round((float(record["value"]) - float(previous["value"])) * 100, 1)
