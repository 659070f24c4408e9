"""Label-preserving affine transforms of 28x28 digits: parameters, bounds, grids and warping.

A transform is six numbers (columns of a ``(B, 6)`` tensor, see :data:`PARAM_NAMES`), describing how a
*candidate* training digit is moved onto the query, about the image centre:

- ``angle``  rotation in degrees, positive = counter-clockwise on screen, within ±20°;
- ``scale_x``, ``scale_y``  horizontal / vertical resizing factors, each within [0.5, 1.5] ("up to 50%");
- ``shear``  horizontal shear (slant) x' = x + shear * y, within ±0.2 ("up to 20%");
- ``shift_x``, ``shift_y``  translation in pixels (right, down), each within ±6.

These are the paper's ranges (Appendix A: rotations up to 20°, shifts up to 6 px, shear up to 20%,
re-sizing up to 50%). The forward map on centred pixel coordinates p is ``p' = R(angle) H(shear) S p + t``.
Warping uses bilinear ``grid_sample`` with zero padding (``align_corners=False``), so integer shifts are exact.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Final

import torch
import torch.nn.functional as F

LOWER: Final = (-20.0, 0.5, 0.5, -0.2, -6.0, -6.0)
UPPER: Final = (20.0, 1.5, 1.5, 0.2, 6.0, 6.0)
IDENTITY: Final = (0.0, 1.0, 1.0, 0.0, 0.0, 0.0)
SIZE: Final = 28


@dataclass(frozen=True)
class TransformParams:
    """One transform of a candidate digit, as the search found it (see module docstring for units and ranges;
    :data:`IDENTITY` is the transform that changes nothing)."""

    angle: float
    scale_x: float
    scale_y: float
    shear: float
    shift_x: float
    shift_y: float

    def as_dict(self) -> dict[str, float]:
        return {name: float(getattr(self, name)) for name in PARAM_NAMES}

    @classmethod
    def from_row(cls, row: torch.Tensor) -> TransformParams:
        values = [round(float(v), 4) for v in row.tolist()]
        return cls(*values)


PARAM_NAMES: Final = tuple(field.name for field in fields(TransformParams))
"""The columns of a ``(B, 6)`` parameter tensor, in order."""


def bounds(device: torch.device | str = "cpu") -> tuple[torch.Tensor, torch.Tensor]:
    """(lower, upper) parameter bounds as (6,) float32 tensors."""
    return (
        torch.tensor(LOWER, dtype=torch.float32, device=device),
        torch.tensor(UPPER, dtype=torch.float32, device=device),
    )


def clamp(params: torch.Tensor) -> torch.Tensor:
    """Clamp (B, 6) parameters into the allowed ranges."""
    lower, upper = bounds(params.device)
    return torch.maximum(torch.minimum(params, upper), lower)


def forward_matrix(params: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(A (B, 2, 2), t (B, 2)) of the forward map p' = A p + t in normalised coordinates ([-1, 1])."""
    angle = params[:, 0] * (math.pi / 180.0)
    cos, sin = torch.cos(angle), torch.sin(angle)
    sx, sy, shear = params[:, 1], params[:, 2], params[:, 3]
    # y points down on screen, so a counter-clockwise rotation on screen is [[cos, sin], [-sin, cos]].
    rotation = torch.stack([torch.stack([cos, sin], -1), torch.stack([-sin, cos], -1)], -2)
    zero, one = torch.zeros_like(shear), torch.ones_like(shear)
    shear_m = torch.stack([torch.stack([one, shear], -1), torch.stack([zero, one], -1)], -2)
    scale_m = torch.stack([torch.stack([sx, zero], -1), torch.stack([zero, sy], -1)], -2)
    matrix = rotation @ shear_m @ scale_m
    shift = params[:, 4:6] * (2.0 / SIZE)
    return matrix, shift


def warp(images: torch.Tensor, params: torch.Tensor) -> torch.Tensor:
    """Apply the forward transforms: images (B, 28, 28) in [0, 1], params (B, 6) -> (B, 28, 28)."""
    matrix, shift = forward_matrix(params)
    inverse = torch.linalg.inv(matrix)
    theta = torch.cat([inverse, -(inverse @ shift.unsqueeze(-1))], dim=2)
    return _sample(images, theta)


def warp_inverse(images: torch.Tensor, params: torch.Tensor) -> torch.Tensor:
    """Apply the inverse transforms (used on the query in the coarse pass): (B, 28, 28), (B, 6) -> (B, 28, 28)."""
    matrix, shift = forward_matrix(params)
    theta = torch.cat([matrix, shift.unsqueeze(-1)], dim=2)
    return _sample(images, theta)


def _base_grid(device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    """(784, 3) homogeneous pixel-centre coordinates (x, y, 1) in [-1, 1], as ``affine_grid`` makes them."""
    centres = (2.0 * torch.arange(SIZE, device=device, dtype=dtype) + 1.0) / SIZE - 1.0
    yy, xx = torch.meshgrid(centres, centres, indexing="ij")
    return torch.stack([xx.reshape(-1), yy.reshape(-1), torch.ones(SIZE * SIZE, device=device, dtype=dtype)], 1)


def _sample(images: torch.Tensor, theta: torch.Tensor) -> torch.Tensor:
    batch = images.shape[0]
    # same grid as F.affine_grid(theta, ..., align_corners=False), as one batched (2 x 3) @ (3 x 784) product: on a
    # CPU 20 times faster than (784 x 3) @ (3 x 2) per image, which broadcasting turns into a loop of tiny products
    grid = (theta @ _base_grid(images.device, theta.dtype).T).transpose(1, 2).reshape(batch, SIZE, SIZE, 2)
    out = F.grid_sample(images.unsqueeze(1), grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    return out.squeeze(1).clamp(0.0, 1.0)


def screening_grid(device: torch.device | str = "cpu") -> torch.Tensor:
    """The few transforms every candidate meets first, (7, 6): identity, ±1 px shifts, two sizes."""
    rows = [
        (0.0, 1.0, 1.0, 0.0, 0.0, 0.0),
        (0.0, 1.0, 1.0, 0.0, 1.0, 0.0),
        (0.0, 1.0, 1.0, 0.0, -1.0, 0.0),
        (0.0, 1.0, 1.0, 0.0, 0.0, 1.0),
        (0.0, 1.0, 1.0, 0.0, 0.0, -1.0),
        (0.0, 0.87, 0.87, 0.0, 0.0, 0.0),
        (0.0, 1.15, 1.15, 0.0, 0.0, 0.0),
    ]
    return torch.tensor(rows, dtype=torch.float32, device=device)


def coarse_grid(device: torch.device | str = "cpu") -> torch.Tensor:
    """The first-pass transform grid, (M, 6); see :data:`COARSE_GRID_DOC`."""
    rows: list[tuple[float, ...]] = []
    for angle in (-14.0, -7.0, 0.0, 7.0, 14.0):
        for scale in (0.87, 1.0, 1.15):
            for shear in (-0.14, 0.0, 0.14):
                rows.append((angle, scale, scale, shear, 0.0, 0.0))
    for sx, sy in ((0.8, 1.0), (1.0, 0.8), (1.2, 1.0), (1.0, 1.2), (0.7, 0.7), (1.35, 1.35)):
        rows.append((0.0, sx, sy, 0.0, 0.0, 0.0))
    for dx in range(-2, 3):
        for dy in range(-2, 3):
            if dx or dy:
                rows.append((0.0, 1.0, 1.0, 0.0, float(dx), float(dy)))
    return torch.tensor(rows, dtype=torch.float32, device=device)


COARSE_GRID_DOC: Final = (
    "rotation {-14,-7,0,7,14} deg x isotropic scale {0.87,1,1.15} x shear {-0.14,0,0.14} (45), "
    "6 aspect/size variants, and the 24 integer shifts within ±2 px: 75 transforms. MNIST digits are centred by "
    "their centre of mass, so large shifts are rare; the gradient alignment then searches the full ranges."
)
