"""Certified robustness by interval bound propagation (IBP; Gowal et al., 2018).

A network is *certified* at an input ``x`` with label ``y`` and ℓ∞ radius ``eps`` when every image in the box
``{x' : |x' - x|∞ ≤ eps, 0 ≤ x' ≤ 1}`` provably gets the label ``y``. Interval bound propagation pushes the box
through the network layer by layer (affine layers map a box's centre exactly and its radius through ``|W|``;
ReLU is monotone) and yields sound bounds on every output. The last linear layer is *elided*: instead of
subtracting logit intervals, the bounds of ``logit_y - logit_j`` are computed directly through the rows
``W_y - W_j``, which is never looser and usually much tighter.

``method="crown-ibp"`` adds a CROWN linear relaxation computed backwards from the margins (with IBP bounds for
the intermediate ReLUs; Zhang et al., 2020) and keeps, per margin, the better of the two bounds: about ten times
slower, tighter on ordinary networks, about the same on IBP-trained ones.

Supported networks are ``nn.Sequential`` stacks (nested Sequentials are flattened) of ``Conv2d`` (zero
padding), ``Linear``, ``ReLU`` and ``Flatten``; ``BatchNorm1d``/``BatchNorm2d`` directly after a ``Linear``/
``Conv2d`` are folded into it with their running statistics (eval-mode semantics). In training mode
(``model.training``) a BatchNorm instead acts, as in its forward pass, as the per-channel affine map given by the
statistics of the clean batch ``x`` (as in auto_LiRPA and Shi et al., 2021), which is what IBP training needs;
only ``method="ibp"`` supports that. Any other layer raises :class:`~core.errors.ModelError` naming it.

All functions are batched (no Python loop over examples) and run on the device of the model's parameters.
Images are float tensors of shape (N, 1, 28, 28) (any (N, ...) the network accepts) with values in [0, 1].
"""

from __future__ import annotations

import copy
import logging

import torch
import torch.nn.functional as F
from torch import nn

from core.errors import ModelError

log = logging.getLogger(__name__)

_AFFINE = (nn.Conv2d, nn.Linear)
_SUPPORTED = (nn.Conv2d, nn.Linear, nn.ReLU, nn.Flatten)
_BATCHNORM = (nn.BatchNorm1d, nn.BatchNorm2d)

Eps = float | torch.Tensor
METHODS = ("ibp", "crown-ibp")


def _flat_layers(model: nn.Module) -> list[nn.Module]:
    """The leaf layers of a (possibly nested) ``nn.Sequential``; raises ModelError for anything else."""
    if not isinstance(model, nn.Sequential):
        raise ModelError(f"certification needs an nn.Sequential network, got {type(model).__name__}")
    layers: list[nn.Module] = []
    for layer in model:
        if isinstance(layer, nn.Sequential):
            layers.extend(_flat_layers(layer))
        else:
            layers.append(layer)
    return layers


def fold_batchnorm(seq: nn.Sequential) -> nn.Sequential:
    """A copy of ``seq`` with every BatchNorm folded into the Conv2d/Linear right before it.

    Uses the running statistics, so the result equals ``seq`` in eval mode. The input is not modified.
    Raises ModelError when a BatchNorm does not directly follow a Conv2d (BatchNorm2d) or Linear (BatchNorm1d).
    """
    layers = _flat_layers(seq)
    folded: list[nn.Module] = []
    for index, layer in enumerate(layers):
        if not isinstance(layer, _BATCHNORM):
            folded.append(copy.deepcopy(layer))
            continue
        previous = folded[-1] if folded else None
        fits = (isinstance(layer, nn.BatchNorm2d) and isinstance(previous, nn.Conv2d)) or (
            isinstance(layer, nn.BatchNorm1d) and isinstance(previous, nn.Linear)
        )
        if not fits or previous is None:
            raise ModelError(
                f"layer {index} ({type(layer).__name__}) must directly follow a "
                f"{'Conv2d' if isinstance(layer, nn.BatchNorm2d) else 'Linear'} to be folded"
            )
        assert isinstance(previous, _AFFINE)
        folded[-1] = _fold_into(previous, layer)
    return nn.Sequential(*folded)


def _fold_into(affine: nn.Conv2d | nn.Linear, norm: nn.BatchNorm1d | nn.BatchNorm2d) -> nn.Module:
    """``affine`` followed by ``norm`` (eval mode) as one layer of the same type."""
    if norm.running_mean is None or norm.running_var is None:
        raise ModelError(f"{type(norm).__name__} without running statistics cannot be folded")
    with torch.no_grad():
        scale = 1.0 / torch.sqrt(norm.running_var + norm.eps)
        shift = -norm.running_mean * scale
        if norm.affine:
            scale = scale * norm.weight
            shift = shift * norm.weight + norm.bias
        fused = copy.deepcopy(affine)
        view = (-1,) + (1,) * (fused.weight.dim() - 1)
        fused.weight.mul_(scale.reshape(view))
        bias = fused.bias if fused.bias is not None else torch.zeros_like(shift)
        new_bias = bias * scale + shift
        if fused.bias is None:
            fused.bias = nn.Parameter(new_bias)
        else:
            fused.bias.copy_(new_bias)
    return fused


class BatchAffine(nn.Module):
    """A training-mode BatchNorm as the per-channel affine map ``x · scale + shift`` its batch statistics define.

    ``scale`` and ``shift`` are (C,) tensors that keep their autograd history, so bounds through this layer are
    differentiable with respect to the BatchNorm's weights and the statistics.
    """

    def __init__(self, scale: torch.Tensor, shift: torch.Tensor) -> None:
        super().__init__()
        self.scale, self.shift = scale, shift

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        view = (1, -1) + (1,) * (x.dim() - 2)
        return x * self.scale.reshape(view) + self.shift.reshape(view)


def _batch_affine(norm: nn.BatchNorm1d | nn.BatchNorm2d, inputs: torch.Tensor) -> BatchAffine:
    """``norm`` in training mode on the batch ``inputs`` (N, C, ...) as a :class:`BatchAffine`."""
    dims = [0, *range(2, inputs.dim())]
    mean, var = inputs.mean(dims), inputs.var(dims, unbiased=False)
    scale = torch.rsqrt(var + norm.eps)
    shift = -mean * scale
    if norm.affine:
        scale, shift = scale * norm.weight, shift * norm.weight + norm.bias
    return BatchAffine(scale, shift)


def _batchnorm_inputs(layers: list[nn.Module], x: torch.Tensor) -> dict[nn.Module, torch.Tensor]:
    """What each BatchNorm of ``layers`` receives in a training-mode pass of ``x`` (running statistics untouched)."""
    inputs: dict[nn.Module, torch.Tensor] = {}
    h = x
    for layer in layers:
        if isinstance(layer, _BATCHNORM):
            inputs[layer] = h
            h = _batch_affine(layer, h)(h)
        else:
            h = layer(h)
    return inputs


def _prepared_layers(
    model: nn.Module, x: torch.Tensor | None = None, batchnorm_inputs: dict[nn.Module, torch.Tensor] | None = None
) -> list[nn.Module]:
    """Leaf layers ready for bound propagation; ModelError for unsupported layers.

    BatchNorms are folded with their running statistics, or, in training mode, replaced by the affine map of the
    statistics of what they receive from the clean batch ``x`` (``batchnorm_inputs`` when already known).
    """
    layers = _flat_layers(model)
    if any(isinstance(layer, _BATCHNORM) for layer in layers):
        assert isinstance(model, nn.Sequential)
        if model.training:
            if batchnorm_inputs is None:
                if x is None:
                    raise ModelError("bounds of a BatchNorm network in training mode need the clean batch")
                batchnorm_inputs = _batchnorm_inputs(layers, x)
            layers = [
                _batch_affine(layer, batchnorm_inputs[layer]) if isinstance(layer, _BATCHNORM) else layer
                for layer in layers
            ]
        else:
            layers = _flat_layers(fold_batchnorm(model))
    for index, layer in enumerate(layers):
        if not isinstance(layer, (*_SUPPORTED, BatchAffine)):
            raise ModelError(
                f"interval bound propagation does not support layer {index} ({type(layer).__name__}); "
                "supported: Conv2d, Linear, ReLU, Flatten, BatchNorm after Conv2d/Linear"
            )
        if isinstance(layer, nn.Conv2d) and layer.padding_mode != "zeros":
            raise ModelError(
                f"layer {index} (Conv2d) uses padding_mode={layer.padding_mode!r}; only 'zeros' is supported"
            )
    if not layers:
        raise ModelError("cannot certify an empty network")
    return layers


def _propagate(layers: list[nn.Module], lower: torch.Tensor, upper: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Interval bounds after ``layers`` for inputs in the box [lower, upper] (same shape, lower ≤ upper)."""
    for layer in layers:
        if isinstance(layer, nn.ReLU):
            lower, upper = lower.clamp_min(0), upper.clamp_min(0)
        elif isinstance(layer, nn.Flatten):
            lower, upper = layer(lower), layer(upper)
        elif isinstance(layer, nn.Linear):
            centre, radius = (upper + lower) / 2, (upper - lower) / 2
            centre = layer(centre)
            radius = F.linear(radius, layer.weight.abs())
            lower, upper = centre - radius, centre + radius
        elif isinstance(layer, nn.Conv2d):
            centre, radius = (upper + lower) / 2, (upper - lower) / 2
            centre = layer(centre)
            radius = F.conv2d(
                radius, layer.weight.abs(), None, layer.stride, layer.padding, layer.dilation, layer.groups
            )
            lower, upper = centre - radius, centre + radius
        elif isinstance(layer, BatchAffine):
            centre, radius = layer((upper + lower) / 2), (upper - lower) / 2
            radius = radius * layer.scale.abs().reshape((1, -1) + (1,) * (radius.dim() - 2))
            lower, upper = centre - radius, centre + radius
        else:  # pragma: no cover - _prepared_layers rejects everything else
            raise ModelError(f"unsupported layer {type(layer).__name__}")
    return lower, upper


def interval_bounds(model: nn.Module, lower: torch.Tensor, upper: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Sound element-wise bounds on ``model``'s outputs for every input in the box [lower, upper].

    ``lower``/``upper``: (N, ...) input bounds with ``lower <= upper``. Returns ``(lower_logits, upper_logits)``,
    each (N, classes). Differentiable (used by :func:`ibp_loss`).
    """
    if lower.shape != upper.shape:
        raise ModelError(
            f"interval bounds need lower and upper of one shape, got {tuple(lower.shape)} and {tuple(upper.shape)}"
        )
    return _propagate(_prepared_layers(model), lower, upper)


def input_box(x: torch.Tensor, eps: Eps) -> tuple[torch.Tensor, torch.Tensor]:
    """The ℓ∞ ball of radius ``eps`` around ``x`` intersected with [0, 1]: ``(max(x-eps, 0), min(x+eps, 1))``.

    ``x``: (N, ...); ``eps``: a float or an (N,) tensor of per-example radii (must be ≥ 0).
    """
    radius = _eps_tensor(eps, x)
    return (x - radius).clamp_min(0), (x + radius).clamp_max(1)


def _eps_tensor(eps: Eps, x: torch.Tensor) -> torch.Tensor:
    if isinstance(eps, torch.Tensor):
        values = eps.to(device=x.device, dtype=x.dtype)
        if values.dim() == 0:
            values = values.reshape(1)
        if values.dim() != 1 or values.shape[0] not in (1, x.shape[0]):
            raise ModelError(f"eps must be a float or an (N,) tensor with N={x.shape[0]}, got shape {tuple(eps.shape)}")
        if bool((values < 0).any()):
            raise ModelError("eps must be non-negative")
        return values.reshape((-1,) + (1,) * (x.dim() - 1))
    if eps < 0:
        raise ModelError(f"eps must be non-negative, got {eps}")
    return torch.full((1,) * x.dim(), float(eps), device=x.device, dtype=x.dtype)


def margin_lower_bounds(
    model: nn.Module, x: torch.Tensor, y: torch.Tensor, eps: Eps, method: str = "ibp"
) -> torch.Tensor:
    """Lower bounds of ``logit_y - logit_j`` over the ℓ∞ box of radius ``eps`` around ``x`` (clipped to [0, 1]).

    ``x``: (N, 1, 28, 28) in [0, 1]; ``y``: (N,) int labels; ``eps``: float or (N,) tensor. Returns (N, classes);
    column ``y`` is 0. ``method``:

    - ``"ibp"``: interval bounds; when the network ends in a Linear layer its weights are elided into the margins
      (bounds through the rows ``W_y - W_j``), otherwise the logit intervals are subtracted.
    - ``"crown-ibp"``: the element-wise maximum of the IBP bounds and a CROWN linear relaxation computed backwards
      from the margins with IBP bounds for the intermediate ReLUs (Zhang et al., 2020). Both are sound, so the
      maximum is sound and never looser than IBP.

    Differentiable.
    """
    if method not in METHODS:
        raise ModelError(f"unknown certification method {method!r}; known: {', '.join(METHODS)}")
    layers = _prepared_layers(model, x)
    lower, upper = input_box(x, eps)
    y = y.to(device=x.device, dtype=torch.long)
    if method == "crown-ibp":
        if any(isinstance(layer, BatchAffine) for layer in layers):
            raise ModelError("crown-ibp bounds of a BatchNorm network need eval mode (call model.eval())")
        return torch.maximum(_ibp_margins(layers, lower, upper, y), _crown_margins(layers, lower, upper, y))
    return _ibp_margins(layers, lower, upper, y)


def _ibp_margins(layers: list[nn.Module], lower: torch.Tensor, upper: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """IBP margin lower bounds (N, classes) with the last Linear layer elided; column y is 0."""
    last = layers[-1]
    if not isinstance(last, nn.Linear):
        low, high = _propagate(layers, lower, upper)
        margins = low.gather(1, y[:, None]) - high
        return margins.scatter(1, y[:, None], 0.0)
    low, high = _propagate(layers[:-1], lower, upper)
    centre, radius = (high + low) / 2, (high - low) / 2
    weight = last.weight  # (classes, hidden)
    rows = weight[y][:, None, :] - weight[None, :, :]  # (N, classes, hidden)
    margins = torch.einsum("nkh,nh->nk", rows, centre) - torch.einsum("nkh,nh->nk", rows.abs(), radius)
    if last.bias is not None:
        margins = margins + (last.bias[y][:, None] - last.bias[None, :])
    return margins.scatter(1, y[:, None], 0.0)


def _crown_margins(layers: list[nn.Module], lower: torch.Tensor, upper: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """CROWN-IBP margin lower bounds (N, classes); column y is 0.

    Intermediate pre-activation bounds come from IBP; the margins ``e_y - e_j`` are then propagated backwards as
    linear functions ``A·input + c``: through affine layers exactly, through each ReLU with the standard linear
    relaxation (upper line through (l, 0) and (u, u); lower line of slope 0 or 1, whichever is closer), choosing
    per coefficient sign the side that keeps a lower bound. The final linear function is minimised over the box.
    """
    entering: list[tuple[torch.Tensor, torch.Tensor]] = []
    low, high = lower, upper
    for layer in layers:
        entering.append((low, high))
        low, high = _propagate([layer], low, high)
    n, classes = low.shape
    eye = torch.eye(classes, device=low.device, dtype=low.dtype)
    coefficients = eye[y][:, None, :] - eye[None, :, :]  # (N, K, outputs): row j is e_y - e_j
    constant = low.new_zeros(n, classes)
    for layer, (layer_low, layer_high) in zip(reversed(layers), reversed(entering), strict=True):
        if isinstance(layer, nn.Linear):
            if layer.bias is not None:
                constant = constant + coefficients @ layer.bias
            coefficients = coefficients @ layer.weight
        elif isinstance(layer, nn.Conv2d):
            coefficients, constant = _conv_backward(layer, coefficients, constant, layer_low.shape[1:])
        elif isinstance(layer, nn.Flatten):
            coefficients = coefficients.reshape(n, classes, *layer_low.shape[1:])
        else:  # ReLU
            coefficients, constant = _relu_backward(coefficients, constant, layer_low, layer_high)
    centre, radius = (upper + lower) / 2, (upper - lower) / 2
    flat = coefficients.flatten(2)
    margins = (
        torch.einsum("nkd,nd->nk", flat, centre.flatten(1))
        - torch.einsum("nkd,nd->nk", flat.abs(), radius.flatten(1))
        + constant
    )
    return margins.scatter(1, y[:, None], 0.0)


def _relu_backward(
    coefficients: torch.Tensor, constant: torch.Tensor, low: torch.Tensor, high: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Lower-bound linear function of the ReLU's input given one of its output; pre-activation bounds (N, ...)."""
    unstable = (low < 0) & (high > 0)
    width = (high - low).clamp_min(1e-12)
    upper_slope = torch.where(unstable, high / width, (low >= 0).to(low.dtype))
    upper_intercept = torch.where(unstable, -upper_slope * low, torch.zeros_like(low))
    lower_slope = torch.where(unstable, (high > -low).to(low.dtype), (low >= 0).to(low.dtype))
    positive, negative = coefficients.clamp_min(0), coefficients.clamp_max(0)
    constant = constant + (negative * upper_intercept[:, None]).flatten(2).sum(2)
    return positive * lower_slope[:, None] + negative * upper_slope[:, None], constant


def _conv_backward(
    layer: nn.Conv2d, coefficients: torch.Tensor, constant: torch.Tensor, input_shape: torch.Size
) -> tuple[torch.Tensor, torch.Tensor]:
    """Coefficients (N, K, C_out, H, W) on a Conv2d's output -> (N, K, C_in, H_in, W_in) on its input."""
    if isinstance(layer.padding, str):
        raise ModelError(f"crown-ibp needs numeric Conv2d padding, got {layer.padding!r}")
    n, classes = coefficients.shape[:2]
    if layer.bias is not None:
        constant = constant + torch.einsum("nkchw,c->nk", coefficients, layer.bias)
    out_h, out_w = coefficients.shape[-2:]
    output_padding = tuple(
        int(size) - ((out - 1) * stride - 2 * pad + dilation * (kernel - 1) + 1)
        for size, out, stride, pad, dilation, kernel in zip(
            input_shape[-2:],
            (out_h, out_w),
            layer.stride,
            layer.padding,
            layer.dilation,
            layer.kernel_size,
            strict=True,
        )
    )
    flat = coefficients.reshape(n * classes, *coefficients.shape[2:])
    back = F.conv_transpose2d(
        flat, layer.weight, None, layer.stride, layer.padding, output_padding, layer.groups, layer.dilation
    )
    return back.reshape(n, classes, *input_shape), constant


def certified(model: nn.Module, x: torch.Tensor, y: torch.Tensor, eps: Eps, method: str = "ibp") -> torch.Tensor:
    """Bool (N,): True where the bounds prove ``model`` labels the whole ℓ∞ ``eps``-box around ``x`` as ``y``.

    ``x``: (N, 1, 28, 28) in [0, 1]; ``y``: (N,) labels; ``eps``: float or (N,) tensor; ``method``: "ibp" or
    "crown-ibp" (tighter, a few times slower; see :func:`margin_lower_bounds`). Runs without gradients on the
    device of ``x`` (which must match the model's).
    """
    if method not in METHODS:
        raise ModelError(f"unknown certification method {method!r}; known: {', '.join(METHODS)}")
    if x.shape[0] == 0:
        return torch.zeros(0, dtype=torch.bool, device=x.device)
    with torch.no_grad():
        margins = margin_lower_bounds(model, x, y, eps, method)
        others = torch.ones_like(margins, dtype=torch.bool).scatter(1, y.to(x.device, torch.long)[:, None], False)
        return torch.where(others, margins > 0, torch.ones_like(others)).all(dim=1)


def certified_radius(
    model: nn.Module, x: torch.Tensor, y: torch.Tensor, high: float = 0.5, steps: int = 12, method: str = "ibp"
) -> torch.Tensor:
    """Largest ℓ∞ radius in [0, ``high``] that ``method`` certifies, per example, found by bisection; float (N,).

    Every returned radius > 0 is certified. For IBP (monotone in eps) the answer is within ``high / 2**steps``
    below the largest certifiable radius; "crown-ibp" is not guaranteed monotone, so there it is a certified
    radius found by the same bisection. Examples not certified even at eps=0 (misclassified or tied) get 0.
    """
    n = x.shape[0]
    low_eps = torch.zeros(n, device=x.device, dtype=x.dtype)
    high_eps = torch.full((n,), float(high), device=x.device, dtype=x.dtype)
    at_high = certified(model, x, y, high_eps, method)
    for _ in range(steps):
        middle = (low_eps + high_eps) / 2
        ok = certified(model, x, y, middle, method)
        low_eps = torch.where(ok, middle, low_eps)
        high_eps = torch.where(ok, high_eps, middle)
    return torch.where(at_high, torch.full_like(low_eps, float(high)), low_eps)


def ibp_loss(model: nn.Module, x: torch.Tensor, y: torch.Tensor, eps: Eps) -> torch.Tensor:
    """Mean cross-entropy on the worst-case logits ``-margin_lower_bounds`` (Gowal et al., 2018); scalar tensor.

    The worst-case logit of class ``j`` is an upper bound of ``logit_j - logit_y`` over the box (0 for ``j = y``),
    so this loss upper-bounds the cross-entropy of every image in the box. Differentiable w.r.t. the weights.
    """
    worst = -margin_lower_bounds(model, x, y, eps)
    return F.cross_entropy(worst, y.to(device=x.device, dtype=torch.long))


def forward_and_ibp_loss(
    model: nn.Module, x: torch.Tensor, y: torch.Tensor, eps: Eps
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(model(x), ibp_loss(model, x, y, eps))`` with one clean pass: logits (N, classes) and a scalar.

    In training mode the BatchNorms' batch statistics are taken from the forward pass itself (which also updates
    their running statistics once), instead of from a second clean pass inside :func:`ibp_loss`.
    """
    norms = [layer for layer in _flat_layers(model) if isinstance(layer, _BATCHNORM)]
    inputs: dict[nn.Module, torch.Tensor] = {}
    handles = [norm.register_forward_pre_hook(lambda norm, args: inputs.update({norm: args[0]})) for norm in norms]
    try:
        logits = model(x)
    finally:
        for handle in handles:
            handle.remove()
    layers = _prepared_layers(model, x, inputs if model.training else None)
    y = y.to(device=x.device, dtype=torch.long)
    worst = -_ibp_margins(layers, *input_box(x, eps), y)
    return logits, F.cross_entropy(worst, y)
