"""``decoders.image`` for plain JPEGs through simplejpeg, with no Pillow call at all.

Taken when simplejpeg is selected (:mod:`dataio.cpu_fallback.accel`), the payload is a
JPEG whose pixels need no conversion (a colour JPEG decoded to RGB, a grey one to L),
and its header and EXIF orientation read cleanly. The header comes from
``simplejpeg.decode_jpeg_header`` and :func:`~dataio.formats.image_header.jpeg_orientation`
(microseconds, where Pillow's ``Image.open`` parses markers in Python with the GIL held);
the pixels from libjpeg-turbo at the same DCT scale Pillow's draft would pick, so they are
identical to the Pillow path's (tested).

Everything else returns ``None`` and the Pillow path decodes it — including caps that are
exceeded and data simplejpeg rejects, so errors keep one wording.
"""

from __future__ import annotations

from types import ModuleType

import numpy as np
from PIL import Image

from dataio.formats.image_header import jpeg_orientation, oriented_hw
from dataio.ops.decoders import ImageDecoder

from dataio.cpu_fallback.lazy_image import LazyImage

_COLOURSPACES = {("rgb", "YCbCr"): "RGB", ("rgb", "RGB"): "RGB", ("gray", "Gray"): "GRAY",
                 ("grayscale", "Gray"): "GRAY", ("luma", "Gray"): "GRAY"}
"""(decoder mode, the JPEG's colour space) → simplejpeg output colour space with Pillow's pixels."""

_ORIENT_ARRAY = {
    2: lambda a: a[:, ::-1],
    3: lambda a: a[::-1, ::-1],
    4: lambda a: a[::-1],
    5: lambda a: a.transpose(1, 0, 2),
    6: lambda a: a.transpose(1, 0, 2)[:, ::-1],
    7: lambda a: a.transpose(1, 0, 2)[::-1, ::-1],
    8: lambda a: a.transpose(1, 0, 2)[::-1],
}
"""EXIF orientation → the array view that displays the image upright (as Pillow's transposes do)."""


def decode_jpeg(simplejpeg: ModuleType, op: ImageDecoder, data: bytes | memoryview,
                draft_target: object, draft_scale: object) -> LazyImage | None:
    """The decoded view of a plain JPEG, or ``None`` to leave it to the Pillow path.

    Args:
        simplejpeg: the simplejpeg module.
        op: the decoder.
        data: the payload.
        draft_target: ``(h, w) -> (h, w)`` of the following resize, or ``None``.
        draft_scale: ``(stored width, stored height, orientation, target (h, w) or None) -> 1|2|4|8``.
    """
    if bytes(data[:2]) != b"\xff\xd8":
        return None
    try:
        stored_h, stored_w, colourspace, _ = simplejpeg.decode_jpeg_header(data)
    except ValueError:
        return None
    output = _COLOURSPACES.get((op.mode, colourspace))
    turn = jpeg_orientation(data)
    bomb_limit = Image.MAX_IMAGE_PIXELS  # above it Pillow warns or refuses: let it
    if output is None or turn is None or (bomb_limit is not None and stored_w * stored_h > bomb_limit):
        return None
    height, width = oriented_hw((stored_w, stored_h), turn)
    channels = op.channels if op.channels is not None else (3 if output == "RGB" else 1)
    if op.cap_violation(height, width, channels) is not None:
        return None
    target = draft_target(height, width) if draft_target is not None else None  # type: ignore[operator]
    scale = draft_scale(stored_w, stored_h, turn, target)  # type: ignore[operator]
    decoded_h, decoded_w = -(-stored_h // scale), -(-stored_w // scale)
    try:
        pixels = simplejpeg.decode_jpeg(data, colorspace=output, min_factor=scale, min_height=decoded_h,
                                        min_width=decoded_w)
    except ValueError:
        return None
    if pixels.shape[:2] != (decoded_h, decoded_w):
        return None
    return LazyImage.decoded(orient_array(pixels, turn), width, height, scale)


def orient_array(pixels: np.ndarray, orientation: int) -> np.ndarray:
    """``HWC`` pixels turned upright for EXIF ``orientation`` (a contiguous copy when turned)."""
    turn = _ORIENT_ARRAY.get(orientation)
    return pixels if turn is None else np.ascontiguousarray(turn(pixels))
