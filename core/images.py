"""The one conversion between the library's float images and the uint8 pixels of files and screens.

Float images are in [0, 1] (see DESIGN.md); uint8 appears only at I/O boundaries.
"""

from __future__ import annotations

import numpy as np


def to_uint8(image: np.ndarray) -> np.ndarray:
    """Float pixels in [0, 1] (any shape) -> uint8 in [0, 255], rounded to nearest and clipped.

    A uint8 array is returned unchanged (as a copy-free view), so callers need not check the dtype first.
    """
    array = np.asarray(image)
    if array.dtype == np.uint8:
        return array
    return np.clip(np.rint(array.astype(np.float64) * 255.0), 0, 255).astype(np.uint8)


def to_float(pixels: np.ndarray) -> np.ndarray:
    """uint8 pixels (any shape) -> float32 in [0, 1] (``k / 255``), the library's image convention."""
    return np.asarray(pixels, dtype=np.float32) / np.float32(255.0)
