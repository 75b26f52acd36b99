"""``decoders.image`` for plain JPEGs without Pillow: libjpeg region decoding or simplejpeg.

Taken when one of the two JPEG kernels is selected (:mod:`dataio.cpu_fallback.accel`), the
payload is a JPEG whose pixels need no conversion (a colour JPEG decoded to RGB, a grey one
to L), and its header and EXIF orientation read cleanly. The header comes from the kernel
library and :func:`~dataio.formats.image_header.jpeg_orientation` (microseconds, where
Pillow's ``Image.open`` parses markers in Python with the GIL held); the pixels from
libjpeg-turbo with Pillow's settings at the DCT scale Pillow's draft would pick, so they are
identical to the Pillow path's (tested).

- **libjpeg** (dataio's extension): an upright image is not decoded here at all — the view
  gets a :class:`~dataio.cpu_fallback.jpeg_regions.JpegRegions` and decodes the region its
  resize or crop reads when it needs pixels. An image with an EXIF turn is decoded whole,
  and so is a payload that does not end with the EOI marker: a region decode stops after
  its last row and would not notice data cut short below it, where Pillow fails the row.
- **simplejpeg**: the whole image, now.

Everything else returns ``None`` and the Pillow path decodes it — including caps that are
exceeded and data the library rejects, so errors keep one wording.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import numpy as np
from PIL import Image

from dataio.formats.image_header import jpeg_orientation, oriented_hw
from dataio.ops.decoders import ImageDecoder

from dataio.cpu_fallback.accel import Selection
from dataio.cpu_fallback.jpeg_regions import JpegRegions
from dataio.cpu_fallback.lazy_image import LazyImage

_COLOURSPACES = {("rgb", "YCbCr"): "RGB", ("rgb", "RGB"): "RGB", ("gray", "Gray"): "GRAY",
                 ("grayscale", "Gray"): "GRAY", ("luma", "Gray"): "GRAY"}
"""(decoder mode, the JPEG's colour space) → output colour space with Pillow's pixels."""

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

_EOI = b"\xff\xd9"

DraftScale = Callable[[int, int, int, tuple[int, int] | None], int]
"""``(stored width, stored height, orientation, target (h, w) or None) -> 1|2|4|8``."""

PillowAtScale = Callable[[ImageDecoder, bytes | memoryview, str, int], Image.Image]
"""``(decoder, payload, label, scale) ->`` Pillow's upright decode at DCT scale 1/``scale``."""


def decode_jpeg(kernels: Selection, op: ImageDecoder, data: bytes | memoryview, label: str,
                draft_target: Callable[[int, int], tuple[int, int] | None] | None, draft_scale: DraftScale,
                pillow_at_scale: PillowAtScale) -> LazyImage | None:
    """The decoded view of a plain JPEG, or ``None`` to leave it to the Pillow path.

    Args:
        kernels: the selected kernels; ``kernels.libjpeg`` or ``kernels.simplejpeg`` is set.
        op: the decoder.
        data: the payload.
        label: how errors name the payload.
        draft_target: ``(h, w) -> (h, w)`` of the following resize, or ``None``.
        draft_scale: picks the DCT scale.
        pillow_at_scale: Pillow's upright decode of a plain JPEG at a given DCT scale, in the
            decoder's mode (the region decoder's fallback for data it refuses).
    """
    if bytes(data[:2]) != b"\xff\xd8":
        return None
    header = _header(kernels, data)
    if header is None:
        return None
    stored_w, stored_h, colourspace = header
    output = _COLOURSPACES.get((op.mode, colourspace))
    turn = jpeg_orientation(data)
    bomb_limit = Image.MAX_IMAGE_PIXELS  # above it Pillow warns or refuses: let it
    if output is None or turn is None or (bomb_limit is not None and stored_w * stored_h > bomb_limit):
        return None
    height, width = oriented_hw((stored_w, stored_h), turn)
    channels = op.channels if op.channels is not None else (3 if output == "RGB" else 1)
    if op.cap_violation(height, width, channels) is not None:
        return None
    target = draft_target(height, width) if draft_target is not None else None
    scale = draft_scale(stored_w, stored_h, turn, target)
    decoded_h, decoded_w = -(-stored_h // scale), -(-stored_w // scale)
    grey = output == "GRAY"
    if kernels.libjpeg is not None and turn == 1 and bytes(data[-2:]) == _EOI:
        regions = JpegRegions(kernels.libjpeg, data, scale, grey, decoded_w, decoded_h,
                              functools.partial(pillow_at_scale, op, data, label))
        return LazyImage.decoded(regions, width, height, scale)
    pixels = _decode_whole(kernels, data, scale, grey, decoded_w, decoded_h)
    if pixels is None or pixels.shape[:2] != (decoded_h, decoded_w):
        return None
    return LazyImage.decoded(orient_array(pixels, turn), width, height, scale)


def _header(kernels: Selection, data: bytes | memoryview) -> tuple[int, int, str] | None:
    """``(stored width, stored height, colour space)``, or ``None`` when the library cannot read it."""
    try:
        if kernels.libjpeg is not None:
            return kernels.libjpeg.header(data)
        stored_h, stored_w, colourspace, _ = kernels.simplejpeg.decode_jpeg_header(data)  # type: ignore[union-attr]
    except ValueError:
        return None
    return stored_w, stored_h, colourspace


def _decode_whole(kernels: Selection, data: bytes | memoryview, scale: int, grey: bool, width: int,
                  height: int) -> np.ndarray | None:
    """The whole image at DCT scale 1/``scale`` as stored (not turned), or ``None`` when the library fails."""
    try:
        if kernels.libjpeg is not None:
            return np.asarray(kernels.libjpeg.decode(data, scale, grey, 0, 0, width, height))
        return kernels.simplejpeg.decode_jpeg(data, colorspace="GRAY" if grey else "RGB",  # type: ignore[union-attr]
                                              min_factor=scale, min_height=height, min_width=width)
    except ValueError:
        return None


def orient_array(pixels: np.ndarray, orientation: int) -> np.ndarray:
    """``HWC`` pixels turned upright for EXIF ``orientation`` (a contiguous copy when turned)."""
    turn = _ORIENT_ARRAY.get(orientation)
    return pixels if turn is None else np.ascontiguousarray(turn(pixels))
