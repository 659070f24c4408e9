"""Labels of zoo and user models on images: what items store as ``predictions`` (exports' ``pred_<model>``)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from core.device import resolve_device


def predict(model: nn.Module, images: np.ndarray, device: torch.device, *, batch_size: int = 256) -> np.ndarray:
    """Argmax labels int64 (N,) of ``model`` on float32 images (N, 28, 28) in [0, 1], in batches, no grad."""
    out = np.empty(len(images), dtype=np.int64)
    with torch.inference_mode():
        for start in range(0, len(images), batch_size):
            batch = torch.as_tensor(images[start : start + batch_size], dtype=torch.float32, device=device)
            logits = model(batch.unsqueeze(1))
            out[start : start + len(batch)] = logits.argmax(dim=1).cpu().numpy()
    return out


def predict_all(
    images: np.ndarray, models: Sequence[str] | None = None, device: str | torch.device | None = None
) -> dict[str, np.ndarray]:
    """``{model: labels (N,)}`` for every model in ``models`` (default: :func:`core.zoo.available`, the trained
    zoo models and the user's), on float32 images (N, 28, 28) in [0, 1] (uint8 is scaled by 1/255)."""
    from core.zoo import available, load

    chosen = resolve_device(device)
    array = np.asarray(images)
    floats = array.astype(np.float32) / 255.0 if array.dtype == np.uint8 else array.astype(np.float32)
    names = list(available() if models is None else models)
    return {name: predict(load(name, chosen), floats, chosen) for name in names}


__all__ = ["predict", "predict_all"]
