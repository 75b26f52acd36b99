"""A decoded image whose pending geometry is applied in one Pillow call.

Chains such as ``resize_short(256) → center_crop(224)`` are not run op by op: each
geometric op only updates the *view* (source box, output size, filter), and the
first op that needs pixels materialises it with one ``Image.resize(size, box=...)``,
which computes only the kept pixels. Pillow evaluates output pixel ``x`` of a boxed
resize at source position ``box0 + (x + 0.5) · scale`` — the same position as
resizing the whole image and cropping — so fusing does not change the result
beyond float rounding of the filter weights.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

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
    """An ``HWC uint8`` value: ``image`` cut to ``box`` and resampled to ``size``.

    Attributes:
        image: the decoded Pillow image (possibly decoded at reduced DCT scale).
        box: ``(x0, y0, x1, y1)`` region of ``image`` the value covers (floats allowed).
        size: ``(width, height)`` of the value.
        resample: the pending Pillow filter, or ``None`` when ``box`` maps 1:1 onto ``size``.
    """

    __slots__ = ("image", "box", "size", "resample", "is_draft")

    def __init__(self, image: Image.Image, box: tuple[float, float, float, float],
                 size: tuple[int, int], resample: int | None, *, is_draft: bool = False) -> None:
        self.image = image
        self.box = box
        self.size = size
        self.resample = resample
        self.is_draft = is_draft
        """True for the decoder's view of a JPEG decoded at reduced DCT scale (``box`` maps it to full size)."""

    @classmethod
    def of(cls, image: Image.Image) -> LazyImage:
        """The whole of ``image``, nothing pending."""
        w, h = image.size
        return cls(image, (0, 0, w, h), (w, h), None)

    @classmethod
    def from_array(cls, array: np.ndarray) -> LazyImage:
        """Wrap an ``HWC uint8`` array with 1–4 channels (no copy of pixels beyond Pillow's own)."""
        return cls.of(to_pil(array))

    @property
    def height(self) -> int:
        return self.size[1]

    @property
    def width(self) -> int:
        return self.size[0]

    @property
    def channels(self) -> int:
        return len(self.image.getbands())

    @property
    def shape(self) -> tuple[int, int, int]:
        """``(height, width, channels)`` of the value."""
        return self.size[1], self.size[0], self.channels

    def resized(self, width: int, height: int, resample: int) -> LazyImage:
        """The same region resampled to ``width`` × ``height``.

        The whole image, or its JPEG-draft view (decoded at reduced DCT scale), is resized in
        one step from the pixels at hand. A pending crop or resize is applied first, so the
        result equals running the ops one by one (a boxed resize would read pixels outside a
        cropped window near its edges).
        """
        base = self if self.is_whole or self.is_draft else LazyImage.of(self.materialise_image())
        return LazyImage(base.image, base.box, (width, height), resample)

    @property
    def is_whole(self) -> bool:
        """True when the value is exactly the decoded image."""
        w, h = self.image.size
        return self.resample is None and self.box == (0, 0, w, h)

    def cropped(self, x: int, y: int, width: int, height: int) -> LazyImage:
        """The window at (``x``, ``y``) of the value; the window must lie inside it."""
        x0, y0, x1, y1 = self.box
        sx = (x1 - x0) / self.size[0]
        sy = (y1 - y0) / self.size[1]
        box = (x0 + x * sx, y0 + y * sy, x0 + (x + width) * sx, y0 + (y + height) * sy)
        if self.resample is None:
            box = tuple(int(round(v)) for v in box)  # type: ignore[assignment]
        return LazyImage(self.image, box, (width, height), self.resample)

    def materialise_image(self) -> Image.Image:
        """The value as a Pillow image (one resize or crop, or the image itself)."""
        w, h = self.image.size
        if self.resample is None:
            if self.box == (0, 0, w, h):
                return self.image
            return self.image.crop(tuple(int(v) for v in self.box))
        if self.image.mode in _ALPHA_MODES and self.resample != Image.Resampling.NEAREST:
            # Pillow resamples RGBA/LA through premultiplied alpha, which rewrites colours under low
            # alpha; channels are independent data here (and on the GPU path), so resample per band.
            bands = [band.resize(self.size, self.resample, box=self.box) for band in self.image.split()]
            return Image.merge(self.image.mode, bands)
        return self.image.resize(self.size, self.resample, box=self.box)

    def materialise(self) -> np.ndarray:
        """The value as an ``HWC uint8`` array."""
        return to_hwc(self.materialise_image())
