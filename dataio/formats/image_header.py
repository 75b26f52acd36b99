"""Image headers: size and EXIF orientation without decoding pixels.

Both executors need the decoded (oriented) size before decoding: the CPU decoder to
pick a JPEG draft scale and check caps, the GPU executor to plan each sample's
geometry on the host and to reject undecodable payloads before the GPU sees them.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

from PIL import Image, UnidentifiedImageError

ORIENTATION_TAG = 0x0112
TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
"""EXIF orientation → the Pillow transpose that displays the image upright."""


@dataclass(frozen=True, slots=True)
class ImageHeader:
    """What a header says.

    Attributes:
        format: Pillow's format name (``"JPEG"``, ``"PNG"``, ...).
        height: displayed height (after EXIF orientation).
        width: displayed width.
        orientation: the EXIF orientation (1 when absent or unreadable).
    """

    format: str
    height: int
    width: int
    orientation: int


def orientation(image: Image.Image) -> int:
    """The EXIF orientation of an opened image; 1 when absent or malformed (as browsers do)."""
    try:
        return int(image.getexif().get(ORIENTATION_TAG, 1))
    except (ValueError, TypeError, OSError, SyntaxError):
        return 1


def oriented_hw(size: tuple[int, int], orientation_value: int) -> tuple[int, int]:
    """``(height, width)`` as displayed, from Pillow's stored ``(width, height)``."""
    width, height = size
    return (width, height) if orientation_value in (5, 6, 7, 8) else (height, width)


def read_header(data: bytes | memoryview, formats: tuple[str, ...] | None = None) -> ImageHeader:
    """Parse an image header.

    Raises:
        ValueError: not an image Pillow can identify among ``formats`` (or any format).
    """
    try:
        with Image.open(io.BytesIO(data), formats=formats) as image:
            turn = orientation(image)
            height, width = oriented_hw(image.size, turn)
            return ImageHeader(image.format or "?", height, width, turn)
    except (UnidentifiedImageError, OSError, SyntaxError, Image.DecompressionBombError) as exc:
        raise ValueError(f"not a decodable image: {exc}") from None
