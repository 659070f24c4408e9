"""Model inference for the editor: every model predicts on every stroke, the latest request wins.

Nothing here runs model code on the GUI thread. Results come back through Qt signals, which Qt delivers on
the receiver's (GUI) thread.

- :class:`InferenceEngine` (plain Python) loads models from a :class:`~editor.state.sources.ModelSource` and runs
  one :class:`PredictionRequest`: every requested model on the same image in one call, plus certification
  of the ORIGINAL digit for certified models (cached per digit, norm and ε) and of the CURRENT edit (IBP on
  one image, about 2 ms per certified model, so it runs with every request).
- :class:`PredictionChannel` owns one worker thread with its own engine. ``submit`` never queues more than
  one request behind the running one: a newer request replaces the pending one (stale ones are dropped).

Cancellable tasks (GenInv suggestions, study and report jobs) live in :mod:`editor.workers.tasks`.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections import deque
from dataclasses import dataclass, field

import numpy as np
import torch
from PyQt6.QtCore import QObject, QThread, pyqtSignal, pyqtSlot
from torch import nn

from core.errors import InvarianceError
from core.zoo.stacked import run_unit, stack_models
from editor.state.sources import ModelSource

log = logging.getLogger(__name__)

INFERENCE_THREADS = 1
"""torch threads of an inference worker: one image through small CNNs is fastest on one thread, and
several threads spin and wait on each other when the CPUs are busy (measured: 0.5 ms vs 27 ms CPU per call)."""


@dataclass(frozen=True)
class PredictionRequest:
    """One inference job: ``image``/``original`` float32 (28, 28) in [0, 1]; ``names`` the models to run."""

    request_id: int
    image: np.ndarray
    names: tuple[str, ...]
    original: np.ndarray
    original_label: int
    norm: str
    eps: float
    exact: bool = False  # True: must run even when newer requests arrive (e.g. predictions for a save)


@dataclass(frozen=True)
class PredictionResult:
    """Softmax probabilities (10,) per model, certification of the original per model, errors per model.

    ``certified[name]`` is True/False, or None when it does not apply (model not certified, other norm).
    ``edit_certified[name]``: the same for the request's image and the label the model gives it.
    """

    request_id: int
    exact: bool = False
    probabilities: dict[str, np.ndarray] = field(default_factory=dict)
    certified: dict[str, bool | None] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0
    edit_certified: dict[str, bool | None] = field(default_factory=dict)


class InferenceEngine:
    """Loaded models on one device; not thread-safe (one engine per worker thread)."""

    def __init__(self, source: ModelSource, device: torch.device) -> None:
        self.source = source
        self.device = device
        self._models: dict[str, nn.Module] = {}
        self._load_errors: dict[str, str] = {}
        self._units: dict[tuple[str, ...], list[tuple[list[str], nn.Module]]] = {}
        self._certified_cache: dict[tuple[str, str, int, str, float], bool] = {}

    def load(self, names: tuple[str, ...], device: torch.device | None = None) -> dict[str, str]:
        """Load ``names`` (on ``device`` when given, dropping models on another device); name -> error."""
        if device is not None and device != self.device:
            self.device = device
            self._models.clear()
            self._units.clear()
            self._certified_cache.clear()
        self._load_errors.clear()
        for name in names:
            if name in self._models:
                continue
            try:
                self._models[name] = self.source.load(name, self.device)
                self._units.clear()
            except (InvarianceError, OSError, RuntimeError, ValueError) as error:
                log.warning("cannot load model %s: %s", name, error)
                self._load_errors[name] = str(error)
        return dict(self._load_errors)

    @torch.inference_mode()
    def run(self, request: PredictionRequest) -> PredictionResult:
        """Run every model of ``request`` on its image (same-architecture models in one stacked pass, see
        :mod:`core.zoo.stacked`); certification results are cached per digit."""
        started = time.perf_counter()
        result = PredictionResult(request.request_id, request.exact)
        x = torch.from_numpy(np.ascontiguousarray(request.image, dtype=np.float32)).to(self.device)[None, None]
        for name in request.names:
            if name not in self._models:
                result.errors[name] = self._load_errors.get(name, "not loaded")
        for names, module in self._units_for(request.names):
            try:
                logits = run_unit(names, module, x)
                for name in names:
                    result.probabilities[name] = torch.softmax(logits[name].float(), dim=1)[0].cpu().numpy()
                    result.certified[name] = self._certified(name, self._models[name], request)
                    result.edit_certified[name] = self._edit_certified(name, logits[name], x, request)
            except (RuntimeError, ValueError, InvarianceError) as error:
                log.warning("model(s) %s failed: %s", ", ".join(names), error)
                for name in names:
                    result.probabilities.pop(name, None)
                    result.certified.pop(name, None)
                    result.edit_certified.pop(name, None)
                    result.errors[name] = str(error)
        return PredictionResult(
            request.request_id,
            request.exact,
            result.probabilities,
            result.certified,
            result.errors,
            time.perf_counter() - started,
            result.edit_certified,
        )

    def _units_for(self, names: tuple[str, ...]) -> list[tuple[list[str], nn.Module]]:
        """The loaded models among ``names``, stacked where they share an architecture (cached per name list)."""
        if names not in self._units:
            self._units[names] = stack_models({name: self._models[name] for name in names if name in self._models})
        return self._units[names]

    def _certifies(self, name: str, request: PredictionRequest) -> bool:
        info = self.source.info(name)
        return info.certified and (info.norm is None or info.norm == request.norm)

    def _edit_certified(
        self, name: str, logits: torch.Tensor, x: torch.Tensor, request: PredictionRequest
    ) -> bool | None:
        """Is the model's answer on the request's image certified within its ε (IBP, not cached)?"""
        if not self._certifies(name, request):
            return None
        answer = self.source.certify(self._models[name], x, logits.argmax(1), float(request.eps))
        return bool(answer[0])

    def _certified(self, name: str, model: nn.Module, request: PredictionRequest) -> bool | None:
        if not self._certifies(name, request) or request.original_label < 0:
            return None
        digest = hashlib.sha1(np.ascontiguousarray(request.original, dtype=np.float32).tobytes()).hexdigest()
        key = (name, digest, request.original_label, request.norm, float(request.eps))
        if key not in self._certified_cache:
            x = torch.from_numpy(np.ascontiguousarray(request.original, dtype=np.float32)).to(self.device)[None, None]
            y = torch.tensor([request.original_label], device=self.device)
            answer = self.source.certify(model, x, y, float(request.eps))
            self._certified_cache[key] = bool(answer[0])
        return self._certified_cache[key]


class _InferenceWorker(QObject):
    sigResult = pyqtSignal(object)
    sigLoaded = pyqtSignal(object)

    def __init__(self, engine: InferenceEngine, threads: int) -> None:
        super().__init__()
        self.engine = engine
        self.threads = threads
        self._threads_set = False

    def _set_threads(self) -> None:
        # torch's intra-op thread count is per OS thread (OpenMP): this only affects the worker thread.
        if not self._threads_set:
            torch.set_num_threads(self.threads)
            self._threads_set = True

    @pyqtSlot(object)
    def predict(self, request: PredictionRequest) -> None:
        self._set_threads()
        try:
            result = self.engine.run(request)
        except (InvarianceError, RuntimeError, ValueError) as error:  # relay, never kill the thread
            errors = {name: str(error) for name in request.names}
            result = PredictionResult(request.request_id, request.exact, errors=errors)
        self.sigResult.emit(result)

    @pyqtSlot(object, object)
    def load(self, names: tuple[str, ...], device: torch.device | None) -> None:
        self._set_threads()
        self.sigLoaded.emit(self.engine.load(names, device))


class PredictionChannel(QObject):
    """A worker thread running :class:`PredictionRequest` s: at most one running and one pending live request.

    Live requests replace each other while they wait; ``exact`` requests are queued and all run, first.

    Signals:
        sigResult(PredictionResult): a finished request (on the GUI thread).
        sigBusy(bool): True when a request starts running with none before it, False when the queue empties.
        sigLoaded(dict): model name -> load error, after :meth:`load`.
    """

    sigResult = pyqtSignal(object)
    sigBusy = pyqtSignal(bool)
    sigLoaded = pyqtSignal(object)
    _sigPredict = pyqtSignal(object)
    _sigLoad = pyqtSignal(object, object)

    def __init__(
        self, source: ModelSource, device: torch.device, name: str = "inference", threads: int = INFERENCE_THREADS
    ) -> None:
        super().__init__()
        self._thread = QThread()
        self._thread.setObjectName(name)
        self._worker = _InferenceWorker(InferenceEngine(source, device), threads)
        self._worker.moveToThread(self._thread)
        self._sigPredict.connect(self._worker.predict)
        self._sigLoad.connect(self._worker.load)
        self._worker.sigResult.connect(self._on_result)
        self._worker.sigLoaded.connect(self.sigLoaded)
        self._running: PredictionRequest | None = None
        self._pending: PredictionRequest | None = None
        self._exact: deque[PredictionRequest] = deque()
        self.dropped = 0
        self._thread.start()

    def load(self, names: tuple[str, ...], device: torch.device | None = None) -> None:
        """Load models in the worker (runs before any request submitted after this call)."""
        self._sigLoad.emit(tuple(names), device)

    def submit(self, request: PredictionRequest) -> None:
        """Run ``request`` now, or after the running one; a newer submit replaces a still-pending one."""
        if self._running is None:
            self._start(request)
        elif request.exact:
            self._exact.append(request)
        else:
            if self._pending is not None:
                self.dropped += 1
            self._pending = request

    @property
    def busy(self) -> bool:
        return self._running is not None

    @property
    def running(self) -> PredictionRequest | None:
        return self._running

    @property
    def pending(self) -> PredictionRequest | None:
        return self._pending

    def shutdown(self) -> None:
        """Stop the thread after the running request (call before the application quits)."""
        self._pending = None
        self._exact.clear()
        self._thread.quit()
        self._thread.wait()

    def _start(self, request: PredictionRequest) -> None:
        self._running = request
        self.sigBusy.emit(True)
        self._sigPredict.emit(request)

    def _on_result(self, result: PredictionResult) -> None:
        self._running = None
        if self._exact:
            pending: PredictionRequest | None = self._exact.popleft()
        else:
            pending, self._pending = self._pending, None
        if pending is not None:
            self._start(pending)
        else:
            self.sigBusy.emit(False)
        self.sigResult.emit(result)
