"""Run several networks of one architecture as one: a forward pass for all of them at once.

The editor predicts a single image with six or more small CNNs on every stroke. Run one after the other,
each layer is a separate tiny kernel call; stacked, each layer is one call for all models:

- the first convolution sees the same input for every model, so the models' filters are concatenated;
- later convolutions become grouped convolutions (one group per model);
- after ``Flatten`` the activations are laid out (models, N, features) and every ``Linear`` is one batched
  matrix multiply (``torch.baddbmm``) over the models' stacked weights.

Only plain ``nn.Sequential`` stacks of Conv2d / ReLU / Flatten / Linear qualify (the zoo's feed-forward
architectures); :func:`stack_key` says whether, and which networks can go together. The outputs equal the
separate forwards up to float rounding (summation order), see ``tests/core/zoo/test_zoo.py``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

_STACKABLE = (nn.Conv2d, nn.ReLU, nn.Flatten, nn.Linear)


def stack_key(model: nn.Module) -> tuple[object, ...] | None:
    """A hashable description of ``model``'s layers; equal keys stack together. None: it cannot be stacked."""
    if not isinstance(model, nn.Sequential) or len(model) == 0:
        return None
    key: list[object] = []
    flattened = False
    for layer in model:
        if type(layer) not in _STACKABLE:
            return None
        if isinstance(layer, nn.Conv2d):
            if flattened or layer.bias is None or layer.padding_mode != "zeros" or isinstance(layer.padding, str):
                return None
            key.append(("conv", layer.weight.shape, layer.stride, layer.padding, layer.dilation, layer.groups))
        elif isinstance(layer, nn.Linear):
            if not flattened or layer.bias is None:
                return None
            key.append(("linear", layer.weight.shape))
        elif isinstance(layer, nn.Flatten):
            if flattened or layer.start_dim != 1 or layer.end_dim != -1:
                return None
            flattened = True
            key.append("flatten")
        else:
            key.append("relu")
    if not flattened:
        return None
    first = model[0]
    return (str(first.weight.device), first.weight.dtype, *key) if isinstance(first, nn.Conv2d) else None


@dataclass(frozen=True)
class _Step:
    kind: str  # "conv", "linear", "relu" or "flatten"
    index: int = -1  # position in the Sequential: names the weight and bias buffers
    stride: tuple[int, ...] = (1, 1)
    padding: tuple[int, ...] = (0, 0)
    dilation: tuple[int, ...] = (1, 1)
    groups: int = 1


class StackedSequential(nn.Module):
    """``k`` networks with the same :func:`stack_key`, run together: (N, C, H, W) -> logits (k, N, classes).

    The weights are copied at construction; later changes to the source models are not seen.
    """

    def __init__(self, models: Sequence[nn.Module]) -> None:
        super().__init__()
        keys = {stack_key(model) for model in models}
        if not models or None in keys or len(keys) != 1:
            raise ValueError("StackedSequential needs one or more networks with the same stackable architecture")
        self.count = len(models)
        self._plan: list[_Step] = []
        columns = [list(model) for model in models]  # type: ignore[call-overload]
        for position, layer in enumerate(columns[0]):
            same = [column[position] for column in columns]
            if isinstance(layer, nn.Conv2d):
                first = position == 0
                weight = torch.cat([conv.weight.detach() for conv in same])
                bias = torch.cat([conv.bias.detach() for conv in same])
                self.register_buffer(f"weight{position}", weight)  # cat and stack make copies
                self.register_buffer(f"bias{position}", bias)
                groups = layer.groups if first else layer.groups * self.count
                padding = tuple(int(p) for p in layer.padding)  # stack_key refused string paddings
                self._plan.append(_Step("conv", position, tuple(layer.stride), padding, tuple(layer.dilation), groups))
            elif isinstance(layer, nn.Linear):
                weight = torch.stack([linear.weight.detach().t() for linear in same])  # (k, in, out)
                bias = torch.stack([linear.bias.detach() for linear in same])[:, None, :]  # (k, 1, out)
                self.register_buffer(f"weight{position}", weight.contiguous())
                self.register_buffer(f"bias{position}", bias)
                self._plan.append(_Step("linear", position))
            elif isinstance(layer, nn.Flatten):
                self._plan.append(_Step("flatten"))
            else:
                self._plan.append(_Step("relu"))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = x
        for step in self._plan:
            if step.kind == "relu":
                h = F.relu(h)
            elif step.kind == "flatten":  # (N, k·C, H, W) -> (k, N, C·H·W): each model's channels are contiguous
                h = h.reshape(h.shape[0], self.count, -1).transpose(0, 1)
            else:
                weight, bias = getattr(self, f"weight{step.index}"), getattr(self, f"bias{step.index}")
                if step.kind == "conv":
                    h = F.conv2d(h, weight, bias, step.stride, step.padding, step.dilation, step.groups)
                else:
                    h = torch.baddbmm(bias, h, weight)
        return h


def stack_models(models: dict[str, nn.Module]) -> list[tuple[list[str], nn.Module]]:
    """Group ``models`` (name -> network) into runnable units ([names], module), in first-appearance order; run
    them with :func:`run_unit`. Networks that cannot be stacked, or have no partner, stay as they are."""
    groups: dict[object, list[str]] = {}
    for name, model in models.items():
        key = stack_key(model)
        groups.setdefault(key if key is not None else ("alone", name), []).append(name)
    units: list[tuple[list[str], nn.Module]] = []
    for names in groups.values():
        if len(names) == 1:
            units.append((names, models[names[0]]))
        else:
            units.append((names, StackedSequential([models[name] for name in names])))
    return units


def run_unit(names: Sequence[str], module: nn.Module, x: torch.Tensor) -> dict[str, torch.Tensor]:
    """Logits (N, classes) per name for one unit of :func:`stack_models` on ``x``."""
    if isinstance(module, StackedSequential):
        return dict(zip(names, module(x).unbind(0), strict=True))
    return {names[0]: module(x)}
