"""Contact sheets for raters: grids of trial images, each cell the x10 digit with only its trial number above it.

``write_contact_sheets(folder, images)`` writes ``sheet_01.png`` ... (``columns`` x ``rows`` trials per sheet,
5 x 4 by default), white digits on black as in the pack, trial numbers (1-based, in order) in a small grey
3 x 5 bitmap font, nothing else: no labels, no set names. Pure numpy plus :func:`core.collection.png.encode_png`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Final

import numpy as np

from core.errors import InvarianceError
from core.files import atomic_write_bytes
from core.images import to_uint8

UPSCALE: Final = 10
FONT_SCALE: Final = 3
LABEL_HEIGHT: Final = 5 * FONT_SCALE + 8
GAP: Final = 12
LABEL_GREY: Final = 170
FRAME_GREY: Final = 60
_FONT: Final = {
    "0": ("111", "101", "101", "101", "111"),
    "1": ("010", "110", "010", "010", "111"),
    "2": ("111", "001", "111", "100", "111"),
    "3": ("111", "001", "111", "001", "111"),
    "4": ("101", "101", "111", "001", "001"),
    "5": ("111", "100", "111", "001", "111"),
    "6": ("111", "100", "111", "101", "111"),
    "7": ("111", "001", "010", "010", "010"),
    "8": ("111", "101", "111", "101", "111"),
    "9": ("111", "101", "111", "001", "111"),
}
"""3 x 5 glyphs of the ten digits (1 = lit)."""


def render_number(number: int, scale: int = FONT_SCALE) -> np.ndarray:
    """The decimal ``number`` as a uint8 bitmap (5 * scale, (4 * digits - 1) * scale), lit = 255."""
    glyphs = []
    for char in str(int(number)):
        glyph = np.array([[cell == "1" for cell in row] for row in _FONT[char]], dtype=np.uint8) * 255
        glyphs.append(np.pad(glyph, ((0, 0), (0, 1))))
    bitmap = np.concatenate(glyphs, axis=1)[:, :-1]
    return np.kron(bitmap, np.ones((scale, scale), dtype=np.uint8))


def cell_origin(position: int, *, columns: int) -> tuple[int, int]:
    """(row, column) in the sheet of the top-left pixel of the x10 digit in cell ``position`` (row-major)."""
    side = 28 * UPSCALE
    top = GAP + (position // columns) * (side + LABEL_HEIGHT + GAP) + LABEL_HEIGHT
    return top, GAP + (position % columns) * (side + GAP)


def contact_sheet(images: Sequence[np.ndarray], numbers: Sequence[int], columns: int, rows: int) -> np.ndarray:
    """One sheet (uint8 (H, W)) with ``images`` (each (28, 28) in [0, 1]) in row-major cells, numbered."""
    if len(images) != len(numbers) or not 0 < len(images) <= columns * rows:
        raise InvarianceError(f"a sheet holds 1..{columns * rows} images with one number each")
    side = 28 * UPSCALE
    sheet = np.zeros((rows * (side + LABEL_HEIGHT + GAP) + GAP, columns * (side + GAP) + GAP), dtype=np.uint8)
    for position, (image, number) in enumerate(zip(images, numbers, strict=True)):
        y, left = cell_origin(position, columns=columns)
        top = y - LABEL_HEIGHT
        label = render_number(number)
        sheet[top + 2 : top + 2 + label.shape[0], left : left + label.shape[1]] = np.where(label > 0, LABEL_GREY, 0)
        big = np.kron(to_uint8(image), np.ones((UPSCALE, UPSCALE), dtype=np.uint8))
        sheet[y - 1 : y + side + 1, left - 1 : left + side + 1] = FRAME_GREY  # a thin frame marks the cell
        sheet[y : y + side, left : left + side] = big
    return sheet


def write_contact_sheets(
    folder: str | Path, images: Sequence[np.ndarray], *, columns: int = 5, rows: int = 4
) -> list[Path]:
    """``sheet_01.png`` ... in ``folder`` (created, must be empty), trials numbered 1.. in order -> paths."""
    from core.collection.png import encode_png

    folder = Path(folder)
    if folder.exists() and any(folder.iterdir()):
        raise InvarianceError(f"{folder} already exists and is not empty")
    folder.mkdir(parents=True, exist_ok=True)
    per_sheet = columns * rows
    count = (len(images) + per_sheet - 1) // per_sheet
    width = max(2, len(str(count)))
    paths = []
    for sheet_index in range(count):
        start = sheet_index * per_sheet
        chunk = list(images[start : start + per_sheet])
        numbers = list(range(start + 1, start + 1 + len(chunk)))
        path = folder / f"sheet_{sheet_index + 1:0{width}d}.png"
        atomic_write_bytes(path, encode_png(contact_sheet(chunk, numbers, columns, rows)))
        paths.append(path)
    return paths


__all__ = ["cell_origin", "contact_sheet", "render_number", "write_contact_sheets"]
