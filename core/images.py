"""The one float -> uint8 conversion, for files and screens (the other way is :func:`core.data.to_float`).

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

