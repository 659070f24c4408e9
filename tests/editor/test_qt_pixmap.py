"""The one grey pixmap builder: exact grey levels (core.images.to_uint8), nearest-neighbour scaling."""

from __future__ import annotations

import numpy as np
import pytest
from PyQt6.QtGui import QImage
from PyQt6.QtWidgets import QApplication

from core.images import to_uint8
from editor.widgets.collection import FRAME, THUMB, thumbnail
from editor.widgets.pixmap import grey_pixmap


def grey_levels(image: QImage) -> np.ndarray:
    """The red channel (= grey) of every pixel of ``image``, (H, W) uint8."""
    return np.array(
        [[image.pixelColor(x, y).red() for x in range(image.width())] for y in range(image.height())], dtype=np.uint8
    )


@pytest.mark.parametrize("size", [28, 56, 84])
def test_float_and_uint8_give_the_same_grey_levels_scaled_without_smoothing(qapp: QApplication, size: int) -> None:
    rng = np.random.default_rng(0)
    image = rng.random((28, 28), dtype=np.float32)
    image[0, 0], image[0, 1] = -0.2, 1.7  # clipped
    expected = np.kron(to_uint8(image), np.ones((size // 28, size // 28), dtype=np.uint8))
    for source in (image, to_uint8(image)):
        pixmap = grey_pixmap(source, size)
        assert (pixmap.width(), pixmap.height()) == (size, size)
        np.testing.assert_array_equal(grey_levels(pixmap.toImage()), expected)


def test_a_collection_thumbnail_frames_the_grey_pixmap(qapp: QApplication) -> None:
    pixels = np.arange(784, dtype=np.int64).reshape(28, 28).astype(np.uint8)
    framed = thumbnail(pixels, None).toImage()
    assert framed.width() == framed.height() == THUMB + 2 * FRAME
    inner = framed.copy(FRAME, FRAME, THUMB, THUMB)
    np.testing.assert_array_equal(grey_levels(inner), grey_levels(grey_pixmap(pixels, THUMB).toImage()))
