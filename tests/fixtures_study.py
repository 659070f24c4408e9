"""Helpers for the study tests: items built from real test digits, stand-in models with known answers."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import torch
from torch import nn

from core.data import load_mnist
from core.images import to_float
from core.study.sets import StudyItem


def make_item(
    index: int,
    *,
    set_name: str = "set",
    norm: str | None = "linf",
    eps: float | None = 0.3,
    change: float = 0.2,
    human_labels: Mapping[str, int] | None = None,
    human_label: int | None = None,
    collection: str = "/coll",
    method: str = "manual",
) -> StudyItem:
    """An item made from MNIST test digit ``index``: its top-left 3x3 corner raised by ``change`` (ℓ∞ = change)."""
    images, labels = load_mnist("test")
    original = to_float(images[index])
    image = original.copy()
    image[:3, :3] = np.clip(image[:3, :3] + change, 0, 1)
    return StudyItem(
        collection=collection,
        item_id=f"item{index}",
        set_name=set_name,
        method=method,
        norm=norm,
        eps=eps,
        source_split="test",
        source_index=index,
        original_label=int(labels[index]),
        image=image,
        original=original,
        human_labels=dict(human_labels or {}),
        human_label=human_label,
    )


class LookupModel(nn.Module):
    """Predicts a fixed label per known image (exact pixel match), else ``default``; logits are one-hot."""

    def __init__(self, images: Sequence[np.ndarray], labels: Sequence[int], default: int = 0) -> None:
        super().__init__()
        self.keys = torch.as_tensor(np.stack(images), dtype=torch.float32).reshape(len(images), -1)
        self.values = torch.as_tensor(list(labels), dtype=torch.long)
        self.default = default
        self.calls = 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        flat = x.reshape(len(x), -1)
        distance = torch.cdist(flat, self.keys)
        nearest = distance.argmin(dim=1)
        exact = distance.gather(1, nearest[:, None])[:, 0] < 1e-4
        labels = torch.where(exact, self.values[nearest], torch.full_like(nearest, self.default))
        return nn.functional.one_hot(labels, 10).float()


def write_answers_json(path: Path, data: dict[str, object]) -> Path:
    import json

    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def make_collection(
    path: Path, indices: Sequence[int], *, set_name: str = "set", norm: str = "linf", eps: float = 0.3, step: int = 51
) -> list[str]:
    """A real collection at ``path``: one item per test index, top-left 3x3 corner raised by ``step``/255.

    Returns the item ids in order.
    """
    from core.collection import Collection

    images, _ = load_mnist("test")
    ids = []
    with Collection.create(path, name=set_name) as collection:
        for index in indices:
            image = images[index].copy()
            image[:3, :3] = np.clip(image[:3, :3].astype(np.int64) + step, 0, 255).astype(np.uint8)
            item = collection.add(
                image,
                source_split="test",
                source_index=int(index),
                norm=norm,
                eps=eps,
                method="manual",
                set_name=set_name,
            )
            ids.append(item.id)
    return ids
