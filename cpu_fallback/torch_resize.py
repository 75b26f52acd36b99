"""Bilinear/bicubic resampling of an ``HWC uint8`` view with torch's antialiased interpolate.

torch's uint8 ``interpolate(..., antialias=True)`` computes Pillow's separable filter
(same support, same centres ``scale · (i + 0.5)``, same clamping at the image edges)
with AVX2 integer arithmetic. It resamples a whole image, so a lazy view — a source box
resampled to an output size — is computed as "resize the whole source with the view's
scale, then slice", which is exact when the box starts on an output pixel of that
whole-image resize (true for every resize → crop chain: the crop offsets are integers).
Other views return ``None`` and Pillow's boxed resize runs instead.

Only the source rows and columns the kept window reads are resampled: the source is cut
after the last one (the window's far edge plus the filter's reach), so a centre crop of a
resize skips the trailing part of both passes. The cut source, and a whole source whose
size is not a multiple of the scale (a JPEG decoded at reduced DCT scale has a
ceil-rounded size), are resized with an explicit ``scale_factor``, which torch then uses
for the source positions instead of ``in / out``; what it reads near the cut is unchanged
because every kept pixel's filter window ends before it. torch maps an explicit
``scale_factor`` differently when enlarging, so views that enlarge along either axis are
resized whole, and only when the whole-image size is a whole number of pixels.

The resize writes into a channels-last (``HWC``) output tensor: torch's kernel works on
interleaved pixels, and left to itself it returns planar ``CHW`` and re-packs every pixel
into it (≈ 30 % of the resize). The values are the same as ``interpolate``'s (tested).
"""

from __future__ import annotations

import math
from types import ModuleType
from typing import Any

import numpy as np
from PIL import Image

MODES: dict[int, str] = {Image.Resampling.BILINEAR: "bilinear", Image.Resampling.BICUBIC: "bicubic"}
"""Pillow filters with a torch equivalent."""

_ANTIALIASED_OPS = {"bilinear": "_upsample_bilinear2d_aa", "bicubic": "_upsample_bicubic2d_aa"}
"""The aten ops behind ``interpolate(..., antialias=True)``; they take a preallocated output."""

FILTER_SUPPORT: dict[int, float] = {
    Image.Resampling.NEAREST: 0.5,
    Image.Resampling.BILINEAR: 1.0,
    Image.Resampling.BICUBIC: 2.0,
    Image.Resampling.LANCZOS: 3.0,
}
"""Each filter's radius in output pixels (times the downscale factor when downscaling), as Pillow's and torch's."""

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
    if sx < 1.0 or sy < 1.0:  # torch's explicit scale_factor is not Pillow's mapping when enlarging
        if full_w is None or full_h is None:
            return None
        keep_w, keep_h = src_w, src_h
    else:
        keep_w = min(src_w, math.ceil(filter_span(0.0, (left + out_w) * sx, left + out_w, resample)[1]) + 2)
        keep_h = min(src_h, math.ceil(filter_span(0.0, (top + out_h) * sy, top + out_h, resample)[1]) + 2)
    source = torch.from_numpy(pixels[:keep_h, :keep_w]).permute(2, 0, 1).unsqueeze(0)
    scales: tuple[float | None, float | None]
    if full_w is not None and full_h is not None and (keep_w, keep_h) == (src_w, src_h):
        size, scales = (full_h, full_w), (None, None)
    else:  # interpolate's own output size for an explicit scale_factor (recompute_scale_factor=False)
        scale_y, scale_x = 1.0 / sy, 1.0 / sx
        scales = (scale_y, scale_x)
        size = (math.floor(float(keep_h) * scale_y), math.floor(float(keep_w) * scale_x))
    if size[0] < top + out_h or size[1] < left + out_w:
        return None
    resized = np.empty((*size, pixels.shape[2]), dtype=np.uint8)
    _resample(torch, mode, source, torch.from_numpy(resized).permute(2, 0, 1).unsqueeze(0), scales)
    return resized[top:top + out_h, left:left + out_w]


def _resample(torch: ModuleType, mode: str, source: Any, out: Any,
              scales: tuple[float | None, float | None]) -> Any:
    """``interpolate(source, out's size, mode, antialias=True)`` into ``out``.

    With torch's ``scale_factor`` when given.

    ``out`` is a channels-last ``1CHW`` view; the aten op behind ``interpolate`` fills it
    without the Python wrapper (``torch._C._nn``, which releases the GIL; ``torch.ops.aten``
    on a torch that lacks it).
    """
    name = _ANTIALIASED_OPS[mode]
    op = getattr(torch._C._nn, name, None) or getattr(torch.ops.aten, name)
    return op(source, list(out.shape[2:]), False, scales[0], scales[1], out=out)


def filter_span(start: float, end: float, size: int, resample: int) -> tuple[float, float]:
    """Source span ``(lo, hi)`` that ``size`` outputs resampled from ``[start, end)`` read.

    The first and last output centres, ``start + 0.5·s`` and ``end − 0.5·s`` (``s`` the
    scale), widened by the filter's radius; callers round outwards and add their margin.
    """
    scale = (end - start) / size
    reach = FILTER_SUPPORT[resample] * max(scale, 1.0)
    return start + 0.5 * scale - reach, end - 0.5 * scale + reach


def _whole(value: float) -> int | None:
    nearest = round(value)
    return nearest if abs(value - nearest) <= _EPS * max(1.0, abs(value)) else None
