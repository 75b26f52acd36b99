"""A JPEG decoded when a view needs its pixels, and then only the part the view reads.

A pipeline such as ``resize_short(256) → center_crop(224)`` reads about two thirds of the
decoded image; a random resized crop often much less. With dataio's libjpeg extension
(:mod:`dataio.cpu_fallback._libjpeg`) the decoder returns a :class:`JpegRegions` instead of
pixels; the :class:`~dataio.cpu_fallback.lazy_image.LazyImage` that holds it works out which
source rows and columns its pending resize or crop reads (the filter's reach included) and
asks for just those. libjpeg-turbo then reconstructs only the iMCU columns around them,
entropy-decodes the rows above without reconstructing them, and stops after the last row.

The pixels handed back have the whole image's shape, zero outside the region, so every
resize and crop kernel runs on them unchanged and sees the image size a whole decode gives
(Pillow's resampling depends on it). Inside the region they equal a decode of the whole
image (the extension is asked for a margin of :data:`MARGIN` pixels, beyond the columns
where libjpeg's crop edge changes upsampled chroma; tested against Pillow).

Data the extension refuses or warns about (corrupt, truncated) is decoded by Pillow
instead: the same pixels where Pillow accepts the data, or the row's error in Pillow's words.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from types import ModuleType

import numpy as np
from PIL import Image

MARGIN = 2
"""Extra pixels decoded on every side of a requested region.

libjpeg's fancy upsampling treats a cropped edge as the image's edge, so the column next to
it differs from a whole decode; and a cropped width of two pixels leaves one chroma sample,
for which its first-column code reads one sample past the crop. Two pixels cover both
(found by fuzzing: one is not enough)."""


class JpegRegions:
    """A plain JPEG's pixels at DCT scale 1/``scale``, decoded per region on demand.

    Attributes:
        width, height: size of the decoded image (the stored size divided by ``scale``, rounded up).
        channels: 3 (RGB) or 1 (grey).
        decode_seconds: time spent decoding so far (the executor counts it as decode time).
    """

    __slots__ = ("libjpeg", "data", "scale", "grey", "width", "height", "channels", "fallback", "decode_seconds")

    def __init__(self, libjpeg: ModuleType, data: bytes | memoryview, scale: int, grey: bool, width: int,
                 height: int, fallback: Callable[[int], Image.Image]) -> None:
        """
        Args:
            libjpeg: the extension module.
            data: the JPEG payload (kept until the pixels are decoded).
            scale: DCT scale denominator, 1, 2, 4 or 8.
            grey: decode to one channel instead of RGB.
            width, height: the decoded size libjpeg will produce at ``scale``.
            fallback: Pillow's decode of the payload at a given DCT scale, in the decoder's
                mode, used when the extension fails; raises the row's error when Pillow fails too.
        """
        self.libjpeg = libjpeg
        self.data = data
        self.scale = scale
        self.grey = grey
        self.width = width
        self.height = height
        self.channels = 1 if grey else 3
        self.fallback = fallback
        self.decode_seconds = 0.0

    def pixels(self, x0: int, y0: int, x1: int, y1: int) -> np.ndarray | Image.Image:
        """The image's pixels, valid on ``[x0, x1) × [y0, y1)`` and zero elsewhere (see the module docstring).

        Returns an ``HWC uint8`` array, or Pillow's whole image when the extension failed.
        """
        started = time.perf_counter()
        try:
            try:
                decoded = self.libjpeg.decode(self.data, self.scale, self.grey, max(0, x0 - MARGIN),
                                              max(0, y0 - MARGIN), x1 + MARGIN, y1 + MARGIN)
            except ValueError:
                return self.fallback(self.scale)
            return np.asarray(decoded)
        finally:
            self.decode_seconds += time.perf_counter() - started
