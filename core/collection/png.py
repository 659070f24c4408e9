"""Minimal lossless PNG I/O for 8-bit grayscale images, with numpy and zlib only (no Qt, no Pillow).

``encode_png(u8 (H, W)) -> bytes`` writes an 8-bit grayscale, non-interlaced PNG (filter type 0 on every row).
``decode_png(bytes) -> u8 (H, W)`` reads 8-bit, non-interlaced PNGs of colour type 0 (gray), 4 (gray + alpha),
2 (RGB) or 6 (RGBA) with any row filter; colour images must be gray (R == G == B). Alpha is dropped. Anything
else raises :class:`ValueError` with the reason (callers turn it into a CollectionError naming the file).
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path
from typing import Final

import numpy as np

from core.errors import CollectionError

SIGNATURE: Final = b"\x89PNG\r\n\x1a\n"
MAX_SIDE: Final = 4096
"""Largest width or height accepted when decoding (guards against absurd headers)."""
MAX_DIGIT_FILE_BYTES: Final = 1024 * 1024
"""Largest file :func:`read_digit_png` reads (a 28x28 digit takes well under 2 kB even uncompressed)."""

_CHANNELS: Final = {0: 1, 2: 3, 4: 2, 6: 4}


def encode_png(image: np.ndarray) -> bytes:
    """PNG bytes of ``image``: uint8 array (H, W), row-major, 0 = black."""
    if image.dtype != np.uint8 or image.ndim != 2:
        raise ValueError(f"encode_png needs a uint8 (H, W) array, got {image.dtype} {image.shape}")
    height, width = image.shape
    rows = np.zeros((height, width + 1), dtype=np.uint8)
    rows[:, 1:] = image
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        SIGNATURE + _chunk(b"IHDR", header) + _chunk(b"IDAT", zlib.compress(rows.tobytes(), 9)) + _chunk(b"IEND", b"")
    )


class PngSizeError(ValueError):
    """The PNG's header declares a size other than the one asked for (raised before any pixel is decoded)."""


def decode_png(data: bytes, *, shape: tuple[int, int] | None = None) -> np.ndarray:
    """uint8 (H, W) gray image from PNG ``data``; raises ValueError when the bytes are not a supported PNG.

    With ``shape`` (height, width), a header declaring another size raises :class:`PngSizeError` before decoding.
    """
    if not data.startswith(SIGNATURE):
        raise ValueError("not a PNG file (bad signature)")
    position = len(SIGNATURE)
    header: bytes | None = None
    compressed = bytearray()
    ended = False
    while position < len(data):
        if position + 8 > len(data):
            raise ValueError("truncated chunk header")
        length, kind = struct.unpack(">I4s", data[position : position + 8])
        body = data[position + 8 : position + 8 + length]
        crc_bytes = data[position + 8 + length : position + 12 + length]
        if len(body) != length or len(crc_bytes) != 4:
            raise ValueError(f"truncated {kind!r} chunk")
        if zlib.crc32(kind + body) != struct.unpack(">I", crc_bytes)[0]:
            raise ValueError(f"CRC mismatch in {kind!r} chunk")
        position += 12 + length
        if kind == b"IHDR":
            header = body
        elif kind == b"IDAT":
            compressed += body
        elif kind == b"IEND":
            ended = True
            break
    if header is None or len(header) != 13:
        raise ValueError("missing or malformed IHDR chunk")
    if not ended:
        raise ValueError("missing IEND chunk (truncated file)")
    width, height, depth, colour, method, filtering, interlace = struct.unpack(">IIBBBBB", header)
    if depth != 8 or colour not in _CHANNELS or method != 0 or filtering != 0 or interlace != 0:
        raise ValueError(f"unsupported PNG (bit depth {depth}, colour type {colour}, interlace {interlace})")
    if shape is not None and (height, width) != shape:
        raise PngSizeError(f"image is {width}x{height}, expected {shape[1]}x{shape[0]}")
    if not (0 < width <= MAX_SIDE and 0 < height <= MAX_SIDE):
        raise ValueError(f"unsupported image size {width}x{height}")
    channels = _CHANNELS[colour]
    stride = width * channels
    expected = height * (stride + 1)
    try:
        decompressor = zlib.decompressobj()
        raw = decompressor.decompress(bytes(compressed), expected + 1)
    except zlib.error as error:
        raise ValueError(f"corrupt image data ({error})") from None
    if len(raw) != expected:
        raise ValueError(f"image data has {len(raw)} bytes, expected {expected}")
    pixels = _unfilter(np.frombuffer(raw, dtype=np.uint8).reshape(height, stride + 1), channels)
    pixels = pixels.reshape(height, width, channels)
    if channels >= 3 and not (
        np.array_equal(pixels[..., 0], pixels[..., 1]) and np.array_equal(pixels[..., 0], pixels[..., 2])
    ):
        raise ValueError("colour image (R, G, B differ); expected grayscale")
    return np.ascontiguousarray(pixels[..., 0])


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def _unfilter(rows: np.ndarray, bpp: int) -> np.ndarray:
    """Undo the per-row PNG filters; ``rows`` is (H, 1 + stride) with the filter byte first."""
    height, stride = rows.shape[0], rows.shape[1] - 1
    out = np.zeros((height, stride), dtype=np.int32)
    previous = np.zeros(stride, dtype=np.int32)
    for y in range(height):
        kind = int(rows[y, 0])
        line = rows[y, 1:].astype(np.int32)
        if kind == 0:
            current = line
        elif kind == 2:
            current = (line + previous) & 0xFF
        elif kind in (1, 3, 4):
            current = np.zeros(stride, dtype=np.int32)
            for x in range(stride):
                left = int(current[x - bpp]) if x >= bpp else 0
                up = int(previous[x])
                if kind == 1:
                    predictor = left
                elif kind == 3:
                    predictor = (left + up) // 2
                else:
                    up_left = int(previous[x - bpp]) if x >= bpp else 0
                    predictor = _paeth(left, up, up_left)
                current[x] = (int(line[x]) + predictor) & 0xFF
        else:
            raise ValueError(f"unknown PNG row filter {kind} in row {y}")
        out[y] = current
        previous = current
    return out.astype(np.uint8)


def _paeth(a: int, b: int, c: int) -> int:
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    if pa <= pb and pa <= pc:
        return a
    return b if pb <= pc else c


def read_digit_png(path: Path, where: str = "") -> np.ndarray:
    """Decode a 28x28 grayscale PNG file; every failure is a one-line :class:`CollectionError` naming ``path``.

    ``where`` adds context (e.g. which manifest item refers to the file) to the missing-file message.
    """
    context = f"; {where}" if where else ""
    try:
        if path.is_symlink():
            raise CollectionError(f"{path}: is a symbolic link; links are not followed{context}")
        if path.stat().st_size > MAX_DIGIT_FILE_BYTES:
            raise CollectionError(f"{path}: {path.stat().st_size} bytes is too large for a 28x28 digit")
        pixels = decode_png(path.read_bytes(), shape=(28, 28))
    except FileNotFoundError:
        raise CollectionError(f"{path}: image file missing (file not found{context})") from None
    except OSError as error:
        raise CollectionError(f"{path}: cannot read ({error.strerror or error})") from None
    except PngSizeError as error:
        raise CollectionError(f"{path}: {error}") from None
    except ValueError as error:
        raise CollectionError(f"{path}: corrupt image ({error})") from None
    if pixels.shape != (28, 28):
        raise CollectionError(f"{path}: image is {pixels.shape[1]}x{pixels.shape[0]}, expected 28x28")
    return pixels
