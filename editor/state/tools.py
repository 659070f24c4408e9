"""Painting tools as pure functions on 28×28 float images (no Qt).

Images are float32 arrays (H, W) in [0, 1], row-major (row 0 at the top). A stroke is the union of the
brush footprints it touched; its requested image is a function of the image at the stroke's start, the
original and that union, so dragging over a pixel twice never compounds a lighten/darken step.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator

import numpy as np


class Tool(enum.Enum):
    """What a stroke does to the pixels it touches."""

    BRUSH = "brush"  # set to the brush value
    LIGHTEN = "lighten"  # add the brush value
    DARKEN = "darken"  # subtract the brush value
    ERASER = "eraser"  # restore the original
    TOWARD = "toward target"  # move toward the target guide by the brush value (a fraction of the way)


def brush_mask(row: int, col: int, size: int, shape: tuple[int, int] = (28, 28)) -> np.ndarray:
    """Bool (H, W) disk of "diameter" ``size`` (>= 1) centred on pixel (row, col); size 1 is one pixel.

    A pixel is inside when its squared distance to the centre is at most ``(size / 2) ** 2``:
    size 2 is a plus of 5 pixels, size 3 a 3×3 square. Centres outside the image give a clipped disk.
    """
    if size < 1:
        raise ValueError(f"brush size must be >= 1, got {size}")
    rows, cols = np.ogrid[: shape[0], : shape[1]]
    return (rows - row) ** 2 + (cols - col) ** 2 <= (size / 2.0) ** 2


def line_cells(row0: int, col0: int, row1: int, col1: int) -> Iterator[tuple[int, int]]:
    """Integer cells on the segment from (row0, col0) to (row1, col1), both ends included (Bresenham)."""
    d_row, d_col = abs(row1 - row0), abs(col1 - col0)
    step_row = 1 if row1 >= row0 else -1
    step_col = 1 if col1 >= col0 else -1
    error = d_col - d_row
    row, col = row0, col0
    while True:
        yield row, col
        if row == row1 and col == col1:
            return
        twice = 2 * error
        if twice > -d_row:
            error -= d_row
            col += step_col
        if twice < d_col:
            error += d_col
            row += step_row


def stroke_mask(points: list[tuple[int, int]], size: int, shape: tuple[int, int] = (28, 28)) -> np.ndarray:
    """Bool (H, W) union of brush footprints along the polyline through ``points`` (row, col)."""
    mask = np.zeros(shape, dtype=bool)
    if not points:
        return mask
    previous = points[0]
    for point in points:
        for row, col in line_cells(previous[0], previous[1], point[0], point[1]):
            mask |= brush_mask(row, col, size, shape)
        previous = point
    return mask


def apply_tool(
    base: np.ndarray,
    original: np.ndarray,
    mask: np.ndarray,
    tool: Tool,
    value: float,
    guide: np.ndarray | None = None,
) -> np.ndarray:
    """The image a stroke asks for: ``base`` changed by ``tool`` on ``mask``, clipped to [0, 1].

    base, original: float (H, W) in [0, 1]; mask: bool (H, W); value in [0, 1] (brush value or step);
    guide: float (H, W) in [0, 1], the target the TOWARD tool moves to (no guide: that tool changes nothing).
    """
    if tool is Tool.BRUSH:
        changed = np.full_like(base, value)
    elif tool is Tool.LIGHTEN:
        changed = base + value
    elif tool is Tool.DARKEN:
        changed = base - value
    elif tool is Tool.TOWARD:
        changed = base if guide is None else base + value * (np.asarray(guide, dtype=np.float32) - base)
    else:
        changed = original
    return np.clip(np.where(mask, changed, base), 0.0, 1.0).astype(np.float32)
