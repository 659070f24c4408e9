"""The canvas: original, edited and difference views of a 28×28 digit, painted with the mouse.

Each view is a pyqtgraph ViewBox (aspect locked, y inverted so row 0 is on top, mouse pan/zoom off) showing
the image row-major with nearest-neighbour rendering and a thin pixel grid; the views scale with the window.
Only the edited view takes strokes. Every stroke event goes to
:meth:`editor.state.editing.EditorState.extend_stroke`, which projects onto the budget; pixels the budget held back
flash yellow for half a second.

The canvas keeps no editing state of its own: tool, brush size and value, view mode and zoom level are the
state's (:class:`editor.state.editing.EditorState`), and the canvas redraws when the state announces a change.
View modes: ``"side"`` (the large edited view, with the original and the difference smaller beside it) and
``"overlay"`` (edited with the difference on top: red = ink added, blue = ink removed). The target guide, when
the state has one and shows it, is laid over the edited view in translucent cyan. The edited view zooms
(:meth:`EditorState.zoom`) around the pixel last under the cursor.
"""

from __future__ import annotations

import logging
from typing import Final

import numpy as np
import pyqtgraph as pg
from PyQt6.QtCore import QEvent, QObject, QPoint, QPointF, QRectF, Qt, QTimer, pyqtSignal
from PyQt6.QtGui import QColor, QImage, QMouseEvent, QPainter, QPainterPath, QPen
from PyQt6.QtWidgets import QGraphicsObject, QGraphicsPathItem, QHBoxLayout, QVBoxLayout, QWidget

from core.images import to_uint8
from editor.state.editing import ZOOM_LEVELS, EditorState
from editor.state.tools import stroke_mask

log = logging.getLogger(__name__)

FLASH_MS: Final = 500
_FLASH_STEP_MS: Final = 100
FLASH_COLOR: Final = (255, 215, 0)
GUIDE_COLOR: Final = (0, 200, 255)
GUIDE_OPACITY: Final = 0.45
SIZE: Final = 28
SIDE_VIEW: Final = 88
"""Width of the original and difference views beside the edited one (about 3 screen px per MNIST px)."""


class PixelImageItem(QGraphicsObject):
    """A (H, W) image drawn as H×W unit squares, nearest-neighbour, from opaque RGB uint8 (H, W, 3).

    Lighter than ``pg.ImageItem`` for this job: the pixels are converted once to Qt's native 32-bit format,
    so painting is one unconverted, unsmoothed ``drawImage`` (the canvas repaints on every stroke event).
    """

    def __init__(self, height: int = SIZE, width: int = SIZE) -> None:
        super().__init__()
        self._rect = QRectF(0, 0, width, height)
        self._bytes = b""
        self._image = QImage(width, height, QImage.Format.Format_RGB32)
        self._image.fill(0)
        self.pixels = np.zeros((height, width, 3), dtype=np.uint8)

    def set_rgb(self, rgb: np.ndarray) -> None:
        """Show uint8 (H, W, 3) ``rgb`` (row-major, row 0 on top)."""
        height, width = rgb.shape[:2]
        self.pixels = np.ascontiguousarray(rgb, dtype=np.uint8)
        bgrx = np.empty((height, width, 4), dtype=np.uint8)
        bgrx[..., 0], bgrx[..., 1], bgrx[..., 2] = rgb[..., 2], rgb[..., 1], rgb[..., 0]
        bgrx[..., 3] = 255
        self._bytes = bgrx.tobytes()  # QImage does not copy: keep the buffer alive
        self._image = QImage(self._bytes, width, height, 4 * width, QImage.Format.Format_RGB32)
        self.update()

    def boundingRect(self) -> QRectF:
        return self._rect

    def paint(self, painter: QPainter | None, option: object = None, widget: QWidget | None = None) -> None:
        if painter is not None:
            painter.drawImage(self._rect, self._image)


def grey_rgb(image: np.ndarray) -> np.ndarray:
    """float (H, W) in [0, 1] -> uint8 (H, W, 3) grey."""
    return np.repeat(to_uint8(image)[..., None], 3, axis=2)


def blend(rgb: np.ndarray, color: tuple[int, int, int], alpha: np.ndarray) -> np.ndarray:
    """``rgb`` uint8 (H, W, 3) with ``color`` laid over it at per-pixel opacity ``alpha`` float (H, W) in [0, 1]."""
    weight = np.clip(alpha, 0.0, 1.0)[..., None]
    mixed = rgb.astype(np.float32) * (1.0 - weight) + np.asarray(color, dtype=np.float32) * weight
    return np.rint(mixed).astype(np.uint8)


class PixelView(pg.GraphicsLayoutWidget):
    """One titled, aspect-locked 28×28 view with a pixel grid."""

    def __init__(self, title: str, parent: QWidget | None = None, minimum: int = 140) -> None:
        super().__init__(parent=parent)
        self.setBackground("#202124")
        self.ci.setContentsMargins(2, 2, 2, 2)
        self.title = self.addLabel(title, row=0, col=0, color="#dddddd", size="9pt")
        self.view_box = self.addViewBox(row=1, col=0, lockAspect=True, enableMouse=False, enableMenu=False)
        self.view_box.invertY(True)
        self.view_box.setRange(xRange=(0, SIZE), yRange=(0, SIZE), padding=0.004)
        self.view_box.disableAutoRange()
        self.image_item = PixelImageItem()
        self.view_box.addItem(self.image_item)
        self.grid = QGraphicsPathItem(_grid_path())
        pen = QPen(QColor(120, 120, 120, 70))
        pen.setCosmetic(True)
        pen.setWidth(0)
        self.grid.setPen(pen)
        self.grid.setZValue(10)
        self.view_box.addItem(self.grid)
        self.setMinimumSize(minimum, minimum + 10)

    def set_title(self, text: str) -> None:
        self.title.setText(text, color="#dddddd", size="9pt")


def _grid_path() -> QPainterPath:
    path = QPainterPath()
    for k in range(SIZE + 1):
        path.moveTo(k, 0)
        path.lineTo(k, SIZE)
        path.moveTo(0, k)
        path.lineTo(SIZE, k)
    return path


def difference_rgba(original: np.ndarray, edited: np.ndarray, alpha_scale: float | None = None) -> np.ndarray:
    """uint8 (28, 28, 4): red where ink was added, blue where removed; opaque, or alpha ∝ |change| when
    ``alpha_scale`` is given (for drawing over the edited image)."""
    delta = np.asarray(edited, dtype=np.float32) - np.asarray(original, dtype=np.float32)
    rgba = np.zeros((*delta.shape, 4), dtype=np.float32)
    rgba[..., 0] = np.clip(delta, 0.0, 1.0)
    rgba[..., 2] = np.clip(-delta, 0.0, 1.0)
    if alpha_scale is None:
        rgba[..., 3] = 1.0
        strength = np.maximum(rgba[..., 0], rgba[..., 2])
        visible = strength > 0
        # Lift small changes so that a 1/255 change is still visible next to a full one.
        rgba[..., 0] = np.where(visible & (delta > 0), 0.25 + 0.75 * rgba[..., 0], rgba[..., 0])
        rgba[..., 2] = np.where(visible & (delta < 0), 0.25 + 0.75 * rgba[..., 2], rgba[..., 2])
    else:
        rgba[..., 0] = np.where(delta > 0, 1.0, 0.0)
        rgba[..., 2] = np.where(delta < 0, 1.0, 0.0)
        rgba[..., 3] = np.clip(np.abs(delta) * alpha_scale, 0.0, 0.85) + (np.abs(delta) > 0) * 0.15
    return to_uint8(rgba)


class DigitCanvas(QWidget):
    """Original, edited and difference views over an :class:`EditorState`; paints on the edited view.

    Signals:
        sigHover(row, col): pixel under the cursor in any view ((-1, -1) when none).
        sigStrokeApplied(object): after each stroke event was projected; the bool (28, 28) held-back mask.
    """

    sigHover = pyqtSignal(int, int)
    sigStrokeApplied = pyqtSignal(object)

    def __init__(self, state: EditorState, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self._last_cell: tuple[int, int] | None = None
        self._hover_cell = (SIZE // 2, SIZE // 2)

        self.original_view = PixelView("Original", minimum=SIDE_VIEW)
        self.edited_view = PixelView("Edited — paint here", minimum=280)
        self.difference_view = PixelView("Difference", minimum=SIDE_VIEW)
        self.difference_view.setToolTip("Difference: red = ink added, blue = ink removed")
        self.paint_item = self.edited_view.image_item
        self._flash_mask = np.zeros((SIZE, SIZE), dtype=bool)
        self._flash_left_ms = 0
        self._flash_timer = QTimer(self)
        self._flash_timer.setInterval(_FLASH_STEP_MS)
        self._flash_timer.timeout.connect(self._fade_flash)

        side = QVBoxLayout()
        side.setSpacing(4)
        side.addWidget(self.original_view)
        side.addWidget(self.difference_view)
        side.addStretch(1)
        for view in (self.original_view, self.difference_view):
            view.setFixedSize(SIDE_VIEW, SIDE_VIEW + 22)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        layout.addWidget(self.edited_view, 1)
        layout.addLayout(side)

        self._viewports: dict[QObject, PixelView] = {}
        for view in (self.original_view, self.edited_view, self.difference_view):
            viewport = view.viewport()
            assert viewport is not None
            viewport.setMouseTracking(True)
            viewport.installEventFilter(self)
            self._viewports[viewport] = view

        state.events.image.connect(self.refresh_edit)
        state.events.digit.connect(self.refresh)
        state.events.guide.connect(self._draw_edited)
        state.events.view.connect(self._show_view_mode)
        state.events.zoom.connect(self._show_zoom)
        self._show_view_mode()
        self.refresh()
        if state.zoom_level:
            self._show_zoom()

    # --------------------------------------------------------------------------------------------- view
    def _show_view_mode(self) -> None:
        """``"side"``: three views; ``"overlay"``: the edited view with the difference drawn over it."""
        side = self.state.view_mode == "side"
        self.original_view.setVisible(side)
        self.difference_view.setVisible(side)
        self.edited_view.set_title("Edited — paint here" if side else "Edited + difference overlay — paint here")
        self.refresh_edit()

    def _show_zoom(self) -> None:
        """Show the state's zoom level on the edited view, centred on the last hovered pixel."""
        half = SIZE / ZOOM_LEVELS[self.state.zoom_level] / 2
        row, col = self._hover_cell
        x0 = float(np.clip(col + 0.5 - half, 0, SIZE - 2 * half))
        y0 = float(np.clip(row + 0.5 - half, 0, SIZE - 2 * half))
        view_box = self.edited_view.view_box
        view_box.setRange(xRange=(x0, x0 + 2 * half), yRange=(y0, y0 + 2 * half), padding=0.004)
        view_box.updateMatrix()  # apply now, so the pixel under a mouse event is right before the next repaint

    def pixels_per_cell(self) -> float:
        """Screen pixels per MNIST pixel in the edited view (horizontal)."""
        left = self.edited_view.mapFromScene(self.paint_item.mapToScene(QPointF(0, 0)))
        right = self.edited_view.mapFromScene(self.paint_item.mapToScene(QPointF(SIZE, 0)))
        return (right.x() - left.x()) / SIZE

    # ------------------------------------------------------------------------------------------ drawing
    def refresh(self) -> None:
        """Redraw every view from the state."""
        self.original_view.image_item.set_rgb(grey_rgb(self.state.original))
        self.refresh_edit()

    def refresh_edit(self) -> None:
        """Redraw the edited view (with the overlay and the flash) and the difference view."""
        original, edited = self.state.original, self.state.edited
        if self.state.view_mode == "side":
            self.difference_view.image_item.set_rgb(difference_rgba(original, edited)[..., :3])
        self._draw_edited()

    def _draw_edited(self) -> None:
        original, edited = self.state.original, self.state.edited
        rgb = grey_rgb(edited)
        if self.state.view_mode == "overlay":
            overlay = difference_rgba(original, edited, alpha_scale=1.5)
            rgb = blend(rgb, (255, 0, 0), np.where(edited > original, overlay[..., 3] / 255.0, 0.0))
            rgb = blend(rgb, (0, 0, 255), np.where(edited < original, overlay[..., 3] / 255.0, 0.0))
        state = self.state
        if state.guide is not None and state.guide_visible:
            rgb = blend(rgb, GUIDE_COLOR, state.guide * GUIDE_OPACITY)
        if self._flash_left_ms > 0:
            rgb = blend(rgb, FLASH_COLOR, self._flash_mask * (0.86 * self._flash_left_ms / FLASH_MS))
        self.paint_item.set_rgb(rgb)

    def flash(self, mask: np.ndarray) -> None:
        """Highlight the bool (28, 28) ``mask`` in yellow, fading out over :data:`FLASH_MS`."""
        self._flash_mask = np.asarray(mask, dtype=bool)
        self._flash_left_ms = FLASH_MS
        self._draw_flash()
        self._flash_timer.start()

    @property
    def flashing(self) -> bool:
        return self._flash_left_ms > 0 and bool(self._flash_mask.any())

    def _fade_flash(self) -> None:
        self._flash_left_ms -= _FLASH_STEP_MS
        if self._flash_left_ms <= 0:
            self._flash_left_ms = 0
            self._flash_timer.stop()
        self._draw_flash()

    def _draw_flash(self) -> None:
        self._draw_edited()

    # ---------------------------------------------------------------------------------- mouse geometry
    def cell_center(self, row: int, col: int) -> QPoint:
        """Where pixel (row, col) is, in the edited view's viewport coordinates (for synthetic events)."""
        scene = self.paint_item.mapToScene(QPointF(col + 0.5, row + 0.5))
        return self.edited_view.mapFromScene(scene)

    # ------------------------------------------------------------------------------------ mouse input
    def cell_at(self, view: PixelView, position: QPointF) -> tuple[int, int]:
        """The (row, col) under viewport ``position`` of ``view`` (may lie outside 0..27)."""
        item_pos = view.image_item.mapFromScene(view.mapToScene(position.toPoint()))
        return int(np.floor(item_pos.y())), int(np.floor(item_pos.x()))

    def eventFilter(self, watched: QObject | None, event: QEvent | None) -> bool:
        """Raw mouse events of the three viewports: strokes on the edited view, hover everywhere.

        Every event is handled (no rate limit): the model panel coalesces the predictions instead.
        """
        view = self._viewports.get(watched) if watched is not None else None
        if view is None or event is None:
            return False
        kind = event.type()
        if kind == QEvent.Type.Leave:
            self.sigHover.emit(-1, -1)
            return False
        if not isinstance(event, QMouseEvent):
            return False
        row, col = self.cell_at(view, event.position())
        inside = 0 <= row < SIZE and 0 <= col < SIZE
        painting = view is self.edited_view
        if kind == QEvent.Type.MouseMove:
            if inside and view is self.edited_view:
                self._hover_cell = (row, col)
            self.sigHover.emit(row if inside else -1, col if inside else -1)
            if painting and self._last_cell is not None:
                self._stroke_moved(row, col)
                return True
            return False
        if not painting or event.button() != Qt.MouseButton.LeftButton:
            return False
        if kind in (QEvent.Type.MouseButtonPress, QEvent.Type.MouseButtonDblClick):
            if inside:
                self._stroke_started(row, col)
                return True
            return False
        if kind == QEvent.Type.MouseButtonRelease and self._last_cell is not None:
            if (row, col) != self._last_cell:
                self._stroke_moved(row, col)
            self._stroke_finished()
            return True
        return False

    # --------------------------------------------------------------------------------------- strokes
    def _stroke_started(self, row: int, col: int) -> None:
        self.state.begin_stroke()
        self._last_cell = (row, col)
        self._apply([(row, col)])

    def _stroke_moved(self, row: int, col: int) -> None:
        if self._last_cell is None:
            return
        points = [self._last_cell, (row, col)]
        self._last_cell = (row, col)
        self._apply(points)

    def _stroke_finished(self) -> None:
        self._last_cell = None
        self.state.end_stroke()

    def _apply(self, points: list[tuple[int, int]]) -> None:
        mask = stroke_mask(points, self.state.brush_size)
        if not mask.any():  # the whole segment lies outside the image
            return
        result = self.state.extend_stroke(mask)
        if result.held_back.any():
            self.flash(result.held_back)
        self.sigStrokeApplied.emit(result.held_back)
