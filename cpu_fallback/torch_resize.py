"""Bilinear/bicubic resampling of an ``HWC uint8`` view with torch's antialiased interpolate.

torch's uint8 ``interpolate(..., antialias=True)`` computes Pillow's separable filter
(same support, same centres ``scale · (i + 0.5)``, same clamping at the image edges)
with AVX2 integer arithmetic. It resamples a whole image, so a lazy view — a source box
resampled to an output size — is computed as "resize the whole source with the view's
scale, then slice", which is exact when the box starts on an output pixel of that
whole-image resize (true for every resize → crop chain: the crop offsets are integers).
Other views return ``None`` and Pillow's boxed resize runs instead.

A whole source whose size is not a multiple of the scale (a JPEG decoded at reduced
DCT scale has a ceil-rounded size) is resized with an explicit ``scale_factor``, which
torch then uses for the source positions instead of ``in / out``.
"""

from __future__ import annotations

from types import ModuleType

import numpy as np
from PIL import Image

MODES = {Image.Resampling.BILINEAR: "bilinear", Image.Resampling.BICUBIC: "bicubic"}
"""Pillow filters with a torch equivalent."""

_EPS = 1e-6


def resize_view(torch: ModuleType, pixels: np.ndarray, box: tuple[float, float, float, float],
                size: tuple[int, int], resample: int) -> np.ndarray | None:
    """``box`` of ``pixels`` (``HWC uint8``) resampled to ``size`` (w, h), or ``None`` if not expressible.

    Args:
        torch: the torch module.
        pixels: the source, ``HWC uint8`` with 1–4 channels (copied first when read-only or flipped).
        box: ``(x0, y0, x1, y1)`` in source pixels; ``(0, 0)`` or an offset that is a whole
            number of output pixels.
        size: ``(width, height)`` of the result.
        resample: a Pillow filter from :data:`MODES`.
    """
    mode = MODES.get(resample)
    if mode is None:
        return None
    out_w, out_h = size
    x0, y0, x1, y1 = box
    sx, sy = (x1 - x0) / out_w, (y1 - y0) / out_h
    if sx <= 0 or sy <= 0:
        return None
    left, top = _whole(x0 / sx), _whole(y0 / sy)
    if left is None or top is None:
        return None
    if not pixels.flags.writeable or min(pixels.strides) < 0:
        pixels = np.array(pixels)  # torch takes neither read-only arrays nor negative strides (flips)
    src_h, src_w = pixels.shape[:2]
    full_w, full_h = _whole(src_w / sx), _whole(src_h / sy)
    source = torch.from_numpy(pixels).permute(2, 0, 1).unsqueeze(0)
    if full_w is not None and full_h is not None:
        resized = torch.nn.functional.interpolate(source, size=(full_h, full_w), mode=mode, antialias=True,
                                                  align_corners=False)
    else:
        resized = torch.nn.functional.interpolate(source, scale_factor=(1.0 / sy, 1.0 / sx), mode=mode,
                                                  antialias=True, align_corners=False,
                                                  recompute_scale_factor=False)
    if resized.shape[2] < top + out_h or resized.shape[3] < left + out_w:
        return None
    return resized[0, :, top:top + out_h, left:left + out_w].permute(1, 2, 0).numpy()


def _whole(value: float) -> int | None:
    nearest = round(value)
    return nearest if abs(value - nearest) <= _EPS * max(1.0, abs(value)) else None
