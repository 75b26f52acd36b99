"""``decoders.image`` on the CPU: Pillow (libjpeg-turbo) with DCT-domain downscaling.

Plain JPEGs go to dataio's libjpeg extension or simplejpeg first when one is selected
(:mod:`dataio.cpu_fallback.plain_jpeg`: same pixels, no Pillow call; the extension decodes
only the region later ops read); everything else, and everything those decline, is
decoded by Pillow here, which also words every error.

The decode is lazy about geometry: it returns a :class:`LazyImage`, so a following
resize/crop is applied in one resampling call. When the next op is a resize to a smaller
size, JPEGs are decoded at the largest DCT scale (1/2, 1/4, 1/8) that keeps every side
at least the target (1/2) or 1.5× the target (1/4, 1/8); the resize then starts from
those pixels. Stated tolerance of that shortcut against a full decode followed by the
same resize: mean absolute difference ≤ 2 levels (of 255) per image (the test suite
checks it; the ImageNet-like benchmark set measures ≤ 1.5, a hard-edged checkerboard ≤ 1.6).

Modes (docs/api.md §3.1): EXIF orientation is applied; palette, CMYK, YCbCr, 16-bit,
float and alpha sources are converted to the requested mode. 16-bit samples map to
8 bits as ``round(x / 257)``. Alpha is dropped, kept (``allow_alpha``) or composited
over ``fill_color``.
"""

from __future__ import annotations

import importlib
import io
from collections.abc import Callable

import numpy as np
from PIL import Image, UnidentifiedImageError

from dataio.cpu_fallback import accel
from dataio.cpu_fallback.lazy_image import LazyImage
from dataio.cpu_fallback.plain_jpeg import decode_jpeg
from dataio.formats.image_header import TRANSPOSE, oriented_hw
from dataio.formats.image_header import orientation as header_orientation
from dataio.ops.decoders import ImageDecoder
from dataio.runtime.rows import RowFailure

DRAFT_GAP = 1.0
"""A JPEG is DCT-downscaled by 1/2 while every side stays >= DRAFT_GAP × the resize target."""

COARSE_DRAFT_MARGIN = 1.5
"""The 1/4 and 1/8 scales need every side >= COARSE_DRAFT_MARGIN × DRAFT_GAP × the target.

libjpeg's 1/2 scale is a good low-pass (a 4×4 IDCT of each 8×8 block's low frequencies),
so the following resize may start from as few as target pixels; the coarser scales
approach block averaging and keep a margin for the resize's own filter."""

_PLUGINS = ("Jpeg", "Mpo", "Png", "WebP", "Bmp", "Ppm", "Tga", "Gif", "Ico", "Qoi", "Tiff")
for _plugin in _PLUGINS:  # register just these (Image.init() would import all ~45 plugins: 2x the time)
    try:
        importlib.import_module(f"PIL.{_plugin}ImagePlugin")
    except ImportError:  # a plugin this Pillow lacks: its formats are left out below
        pass
FORMATS = tuple(f for f in ("JPEG", "MPO", "PNG", "WEBP", "BMP", "DIB", "PPM", "TGA", "GIF", "ICO", "QOI", "TIFF")
                if f in Image.OPEN)
"""Formats the decoder accepts; Pillow's other plugins (e.g. EPS, which runs Ghostscript) are refused."""

_OP = "decoders.image"
_SIXTEEN_BIT = ("I;16", "I;16B", "I;16L", "I;16N", "I")
_ALPHA_MODES = ("RGBA", "LA", "PA", "RGBa", "La")
_TARGET_MODE = {"rgb": "RGB", "rgba": "RGBA", "gray": "L", "grayscale": "L", "luma": "L"}

DraftTarget = Callable[[int, int], tuple[int, int] | None]
"""``(height, width) of the oriented source -> (height, width) the next resize makes``, or ``None``."""


def decode_image(op: ImageDecoder, data: bytes | memoryview, label: str,
                 draft_target: DraftTarget | None = None) -> LazyImage:
    """Decode ``data`` into an ``HWC uint8`` :class:`LazyImage` in ``op.mode``.

    Args:
        op: the decoder (mode, caps, alpha handling).
        data: the encoded payload.
        label: how errors name the payload (path/URI).
        draft_target: when the next op is a downscaling resize, its output size for a
            given source size (enables JPEG DCT-domain downscaling).

    Raises:
        RowFailure: undecodable or truncated data, an unsupported mode, a cap exceeded.
    """
    kernels = accel.selection()
    if kernels.libjpeg is not None or kernels.simplejpeg is not None:
        fast = decode_jpeg(kernels, op, data, label, draft_target, stored_draft_scale, pillow_jpeg_at)
        if fast is not None:
            return fast
    image = _open(data, label)
    orientation = header_orientation(image)
    height, width = oriented_hw(image.size, orientation)
    violation = op.cap_violation(height, width, _output_channels(op, image))
    if violation is not None:
        raise RowFailure("decode", _OP, f"{label}: {violation}")
    scale = 1
    if draft_target is not None and image.format in ("JPEG", "MPO"):
        scale = _draft(image, orientation, draft_target(height, width))
    return LazyImage.decoded(_pillow_pixels(image, orientation, op, label), width, height, scale)


def _open(data: bytes | memoryview, label: str) -> Image.Image:
    """Pillow's lazily decoding image of ``data``; undecodable data is the row's error."""
    try:
        return Image.open(io.BytesIO(data), formats=FORMATS)
    except UnidentifiedImageError:
        raise RowFailure("decode", _OP, f"{label}: not a decodable image (supported: "
                                        f"{', '.join(FORMATS)})") from None
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        raise RowFailure("decode", _OP, f"{label}: {exc}") from None


def pillow_jpeg_at(op: ImageDecoder, data: bytes | memoryview, label: str, scale: int) -> Image.Image:
    """An upright plain JPEG decoded by Pillow at DCT scale 1/``scale``, in the decoder's mode.

    The region decoder's fallback: it has already checked the header, orientation and caps.
    """
    image = _open(data, label)
    applied = _draft_at(image, scale)
    if applied != scale:  # the view's geometry assumes 1/scale: never hand back other pixels
        raise RowFailure("decode", _OP, f"{label}: Pillow decodes this JPEG at DCT scale 1/{applied}, "
                                        f"not the 1/{scale} its header allows")
    return _pillow_pixels(image, 1, op, label)


def _pillow_pixels(image: Image.Image, orientation: int, op: ImageDecoder, label: str) -> Image.Image:
    """Decode with Pillow, upright and in the decoder's mode."""
    try:
        image.load()
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
        raise RowFailure("decode", _OP, f"{label}: corrupt or truncated {image.format} data: {exc}") from None
    if orientation in TRANSPOSE and header_orientation(image) == 1:
        orientation = 1  # the decoder turned it upright while loading and dropped the tag (Pillow does, for TIFF)
    if orientation in TRANSPOSE:
        image = image.transpose(TRANSPOSE[orientation])
    try:
        return convert_mode(image, op)
    except (OSError, ValueError) as exc:
        raise RowFailure("decode", _OP, f"{label}: cannot convert {image.mode} to {op.mode}: {exc}") from None


def _output_channels(op: ImageDecoder, image: Image.Image) -> int:
    if op.channels is not None:
        return op.channels
    return 4 if _has_alpha(image) else 3


def _draft(image: Image.Image, orientation: int, target: tuple[int, int] | None) -> int:
    """Have Pillow decode ``image`` at the DCT scale :func:`stored_draft_scale` picks; returns its denominator."""
    width, height = image.size
    return _draft_at(image, stored_draft_scale(width, height, orientation, target))


def _draft_at(image: Image.Image, scale: int) -> int:
    """Have Pillow decode ``image`` at DCT scale 1/``scale``; returns the denominator it applied."""
    if scale == 1:
        return 1
    width, height = image.size
    drafted = image.draft(None, (width // scale, height // scale))  # Pillow then picks exactly 1/scale
    if drafted is None:
        return 1  # Pillow declined (e.g. a multi-tile image)
    _, box = drafted  # (0, 0, W/s, H/s): the scale Pillow applied
    return round(width / box[2])


def stored_draft_scale(width: int, height: int, orientation: int, target: tuple[int, int] | None) -> int:
    """The DCT scale for a JPEG stored as ``width`` × ``height`` whose upright image is resized to ``target`` (h, w)."""
    if target is None:
        return 1
    th, tw = target
    if orientation in (5, 6, 7, 8):  # the target is upright; the JPEG's pixels are stored turned
        th, tw = tw, th
    return draft_scale(width, height, tw, th)


def draft_scale(width: int, height: int, target_width: int, target_height: int) -> int:
    """The DCT scale denominator (1, 2, 4 or 8) for a ``width`` × ``height`` JPEG resized to the target."""
    for scale in (8, 4, 2):
        gap = DRAFT_GAP if scale == 2 else DRAFT_GAP * COARSE_DRAFT_MARGIN
        if width >= scale * gap * target_width and height >= scale * gap * target_height:
            return scale
    return 1


def _has_alpha(image: Image.Image) -> bool:
    return image.mode in _ALPHA_MODES or "transparency" in image.info


def convert_mode(image: Image.Image, op: ImageDecoder) -> Image.Image:
    """``image`` converted to the decoder's mode (RGB, RGBA or L) per docs/api.md §3.1."""
    if image.mode in _SIXTEEN_BIT or image.mode == "F":
        image = _to_eight_bit(image)
    target = _TARGET_MODE[op.mode]
    alpha = _has_alpha(image)
    if target == "RGB" and alpha:
        if op.allow_alpha:
            return image if image.mode == "RGBA" else image.convert("RGBA")
        if op.fill_color is not None:
            return _composite(image, op.fill_color)
    if image.mode == target:
        return image
    if image.mode not in ("1", "L", "LA", "P", "PA", "RGB", "RGBA") and target != "RGB":
        image = image.convert("RGB")  # CMYK/YCbCr/LAB/HSV: through RGB
    return image.convert(target)


def _to_eight_bit(image: Image.Image) -> Image.Image:
    """16-bit (or 32-bit int / float) grey as ``round(x / 257)``, clipped to [0, 255]."""
    samples = np.asarray(image)
    if image.mode == "F":
        eight = np.clip(np.rint(samples), 0, 255)
    else:
        eight = np.clip((samples.astype(np.int64) * 2 + 257) // 514, 0, 255)
    return Image.fromarray(eight.astype(np.uint8), "L")


def _composite(image: Image.Image, fill: tuple[int, int, int]) -> Image.Image:
    rgba = image.convert("RGBA")
    background = Image.new("RGBA", rgba.size, (*fill, 255))
    background.alpha_composite(rgba)
    return background.convert("RGB")
