"""The one grey pixmap builder: an image (float in [0, 1] or uint8) as a crisp, square QPixmap."""

from __future__ import annotations

import numpy as np
from PyQt6.QtCore import Qt
from PyQt6.QtGui import QImage, QPixmap

from core.images import to_uint8


def grey_pixmap(image: np.ndarray, size: int) -> QPixmap:
    """A ``size`` × ``size`` pixmap of (H, W) ``image`` (float in [0, 1] or uint8), scaled nearest-neighbour."""
    pixels = np.ascontiguousarray(to_uint8(image))
    height, width = pixels.shape
    data = pixels.tobytes()  # QImage does not copy: keep the buffer alive until the pixmap has its own copy
    qimage = QImage(data, width, height, width, QImage.Format.Format_Grayscale8)
    return QPixmap.fromImage(qimage).scaled(
        size, size, Qt.AspectRatioMode.IgnoreAspectRatio, Qt.TransformationMode.FastTransformation
    )
