"""A decoded image whose pending geometry is applied in one resampling call.

Chains such as ``resize_short(256) → center_crop(224)`` are not run op by op: each
geometric op only updates the *view* (source box, output size, filter), and the
first op that needs pixels materialises it once. Pillow evaluates output pixel ``x``
of a boxed resize at source position ``box0 + (x + 0.5) · scale`` — the same position
as resizing the whole image and cropping — so fusing does not change the result
beyond float rounding of the filter weights.

The source is a Pillow image, an ``HWC uint8`` array (what the simplejpeg decoder
returns), or a JPEG not decoded yet (:class:`~dataio.cpu_fallback.jpeg_regions.JpegRegions`):
then materialising decodes just the source rows and columns the view reads — its box
widened by the pending filter's reach — and computes the view from those. Bilinear/bicubic
views run on torch's uint8 antialiased resize when it is selected
(:mod:`dataio.cpu_fallback.accel`), everything else on Pillow.
"""

from __future__ import annotations

import math

import numpy as np
from PIL import Image

from dataio.cpu_fallback import accel
from dataio.cpu_fallback.jpeg_regions import JpegRegions
from dataio.cpu_fallback.torch_resize import filter_span, resize_view

FILTERS = {
    "nearest": Image.Resampling.NEAREST,
    "bilinear": Image.Resampling.BILINEAR,
    "bicubic": Image.Resampling.BICUBIC,
    "lanczos": Image.Resampling.LANCZOS,
}
_MODE_OF_CHANNELS = {1: "L", 2: "LA", 3: "RGB", 4: "RGBA"}
_ALPHA_MODES = ("RGBA", "LA")


def to_pil(pixels: np.ndarray) -> Image.Image:
    """An ``HWC uint8`` array with 1–4 channels as a Pillow image (L, LA, RGB, RGBA)."""
    channels = pixels.shape[2]
    data = pixels[:, :, 0] if channels == 1 else pixels
    return Image.fromarray(np.ascontiguousarray(data), _MODE_OF_CHANNELS[channels])


def to_hwc(image: Image.Image) -> np.ndarray:
    """A Pillow image as an ``HWC uint8`` array (single-band images get a channel axis)."""
    array = np.asarray(image)
    return array[:, :, None] if array.ndim == 2 else array


class LazyImage:
    """An ``HWC uint8`` value: ``source`` cut to ``box`` and resampled to ``size``.

    Attributes:
        source: the decoded pixels, a Pillow image or an ``HWC uint8`` array (possibly
            decoded at reduced DCT scale), or a :class:`JpegRegions` decoded on materialising.
        box: ``(x0, y0, x1, y1)`` region of ``source`` the value covers (floats allowed).
        size: ``(width, height)`` of the value.
        resample: the pending Pillow filter, or ``None`` when ``box`` maps 1:1 onto ``size``.
    """

    __slots__ = ("source", "box", "size", "resample", "is_draft")

    def __init__(self, source: Image.Image | np.ndarray | JpegRegions, box: tuple[float, float, float, float],
                 size: tuple[int, int], resample: int | None, *, is_draft: bool = False) -> None:
        self.source = source
        self.box = box
        self.size = size
        self.resample = resample
        self.is_draft = is_draft
        """True for the decoder's view of a JPEG decoded at reduced DCT scale (``box`` maps it to full size)."""

    @classmethod
    def of(cls, source: Image.Image | np.ndarray | JpegRegions) -> LazyImage:
        """The whole of ``source``, nothing pending."""
        w, h = _source_size(source)
        return cls(source, (0, 0, w, h), (w, h), None)

    @classmethod
    def decoded(cls, source: Image.Image | np.ndarray | JpegRegions, width: int, height: int, scale: int) -> LazyImage:
        """The decoder's view of ``source``: an image of ``width`` × ``height`` decoded at DCT scale 1/``scale``.

        Decoded at reduced scale s, drafted pixel i covers source pixels [s·i, s·i + s), so the
        full-size view is the box (0, 0, W/s, H/s) of the drafted pixels (not their
        ceil-rounded size), resampled back to full size unless a resize follows.
        """
        if scale == 1:
            return cls.of(source)
        return cls(source, (0, 0, width / scale, height / scale), (width, height), Image.Resampling.BICUBIC,
                   is_draft=True)

    @classmethod
    def from_array(cls, array: np.ndarray) -> LazyImage:
        """Wrap an ``HWC uint8`` array with 1–4 channels (no copy)."""
        return cls.of(array)

    @property
    def height(self) -> int:
        return self.size[1]

    @property
    def width(self) -> int:
        return self.size[0]

    @property
    def channels(self) -> int:
        if isinstance(self.source, np.ndarray):
            return self.source.shape[2]
        if isinstance(self.source, JpegRegions):
            return self.source.channels
        return len(self.source.getbands())

    @property
    def shape(self) -> tuple[int, int, int]:
        """``(height, width, channels)`` of the value."""
        return self.size[1], self.size[0], self.channels

    def resized(self, height: int, width: int, resample: int) -> LazyImage:
        """The same region resampled to ``height`` × ``width``.

        The whole image, or its JPEG-draft view (decoded at reduced DCT scale), is resized in
        one step from the pixels at hand. A pending crop or resize is applied first, so the
        result equals running the ops one by one (a boxed resize would read pixels outside a
        cropped window near its edges).
        """
        base = self if self.is_whole or self.is_draft else LazyImage.of(self.materialise())
        return LazyImage(base.source, base.box, (width, height), resample)

    @property
    def is_whole(self) -> bool:
        """True when the value is exactly the decoded image."""
        w, h = _source_size(self.source)
        return self.resample is None and self.box == (0, 0, w, h)

    def cropped(self, y: int, x: int, height: int, width: int) -> LazyImage:
        """The ``height`` × ``width`` window at (``y``, ``x``) of the value; it must lie inside it.

        Arguments follow the core's convention (:mod:`dataio.ops.geometry`); the view keeps
        Pillow's ``(x0, y0, x1, y1)`` box and ``(width, height)`` size internally, where Pillow,
        torch and the region decoder read them.
        """
        x0, y0, x1, y1 = self.box
        sx = (x1 - x0) / self.size[0]
        sy = (y1 - y0) / self.size[1]
        box = (x0 + x * sx, y0 + y * sy, x0 + (x + width) * sx, y0 + (y + height) * sy)
        if self.resample is None:
            box = tuple(int(round(v)) for v in box)  # type: ignore[assignment]
        return LazyImage(self.source, box, (width, height), self.resample)

    def materialise(self) -> np.ndarray:
        """The value as an ``HWC uint8`` array (one resample or slice, or the source itself)."""
        source = self.source
        if isinstance(source, JpegRegions):
            source = source.pixels(*self._reads())
        if self.resample is None:
            if isinstance(source, np.ndarray):
                x0, y0, x1, y1 = (int(v) for v in self.box)
                return source[y0:y1, x0:x1]
            return to_hwc(self._pillow_view(source))
        torch = accel.selection().torch
        if torch is not None:
            torch = accel.torch_in_this_thread(torch)
            pixels = source if isinstance(source, np.ndarray) else to_hwc(source)
            resized = resize_view(torch, pixels, self.box, self.size, self.resample)
            if resized is not None:
                return resized
        return to_hwc(self._pillow_view(source))

    def _reads(self) -> tuple[int, int, int, int]:
        """``(x0, y0, x1, y1)``: the source pixels the view is computed from.

        The box itself when nothing is resampled; else the box widened by the filter's reach
        (Pillow's and torch's filter windows both lie inside it). An axis the view enlarges is
        read whole: torch computes such views from the whole source (see torch_resize).
        """
        x0, y0, x1, y1 = self.box
        if self.resample is None:
            return math.floor(x0), math.floor(y0), math.ceil(x1), math.ceil(y1)
        (w, h), src_size = self.size, _source_size(self.source)
        left, right = _axis_reads(x0, x1, w, self.resample, src_size[0])
        top, bottom = _axis_reads(y0, y1, h, self.resample, src_size[1])
        return left, top, right, bottom

    def _pillow_view(self, source: Image.Image | np.ndarray) -> Image.Image:
        """The value computed by Pillow (one boxed resize or crop, or the image itself)."""
        image = source if isinstance(source, Image.Image) else to_pil(source)
        w, h = image.size
        if self.resample is None:
            if self.box == (0, 0, w, h):
                return image
            x0, y0, x1, y1 = (int(v) for v in self.box)
            return image.crop((x0, y0, x1, y1))
        if image.mode in _ALPHA_MODES and self.resample != Image.Resampling.NEAREST:
            # Pillow resamples RGBA/LA through premultiplied alpha, which rewrites colours under low
            # alpha; channels are independent data here (and on the GPU path), so resample per band.
            bands = [band.resize(self.size, self.resample, box=self.box) for band in image.split()]
            return Image.merge(image.mode, bands)
        return image.resize(self.size, self.resample, box=self.box)


def _axis_reads(start: float, end: float, size: int, resample: int, extent: int) -> tuple[int, int]:
    """Source range ``[lo, hi)`` that ``size`` outputs resampled from ``[start, end)`` read (whole if enlarging)."""
    if end - start < size:
        return 0, extent
    lo, hi = filter_span(start, end, size, resample)
    return max(0, math.floor(lo)), min(extent, math.ceil(hi) + 1)


def _source_size(source: Image.Image | np.ndarray | JpegRegions) -> tuple[int, int]:
    """``(width, height)`` of a Pillow image, an ``HWC`` array or a JPEG not decoded yet."""
    if isinstance(source, np.ndarray):
        return source.shape[1], source.shape[0]
    if isinstance(source, JpegRegions):
        return source.width, source.height
    return source.size
