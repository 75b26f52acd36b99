"""Geometric kernels: resizes, crops and flips on ``LazyImage`` views or numpy arrays.

Sizes, window placement and random draws come from the core's sample geometry
(:mod:`dataio.ops.geometry`), the same functions the GPU executor's sample planner calls,
so both executors cut and flip identically by construction. Only pixels are handled here.

Resampling ops take ``HWC uint8``; crops and flips take any layout (``CHW`` cuts axes
1–2, everything else axes 0–1). On a :class:`LazyImage` they only move the view; the
pixels are computed once, by the op that needs them.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from dataio.ops import transforms as T
from dataio.ops._base import TensorSpec, image_axes
from dataio.ops.draws import draw_coin, draw_offset
from dataio.ops.geometry import centered_offset, resized_hw, window_inside
from dataio.runtime.chain import ChainContext
from dataio.runtime.rows import RowFailure, describe_value

from dataio.cpu_fallback.lazy_image import FILTERS, LazyImage


def as_lazy(value: Any, op_name: str) -> LazyImage:
    """``value`` as a :class:`LazyImage`; a row error unless it is an ``HWC uint8`` image."""
    if isinstance(value, LazyImage):
        return value
    if isinstance(value, np.ndarray) and value.dtype == np.uint8 and value.ndim == 3 and 1 <= value.shape[2] <= 4:
        return LazyImage.from_array(value)
    raise RowFailure("transform", op_name, f"expects an HWC uint8 image with 1-4 channels; got {describe_value(value)}")


def hw_of(value: Any, spec: TensorSpec, op_name: str) -> tuple[int, int]:
    """(height, width) of an image-like value."""
    if isinstance(value, LazyImage):
        return value.height, value.width
    if not isinstance(value, np.ndarray) or value.ndim < 2:
        raise RowFailure("transform", op_name, f"expects an array of rank >= 2; got {describe_value(value)}")
    ha, wa = image_axes(spec)
    if value.ndim <= max(ha, wa):
        raise RowFailure("transform", op_name, f"expects a {spec.layout or 'HW'} array; got {describe_value(value)}")
    return value.shape[ha], value.shape[wa]


def _target(op: Any, ctx: ChainContext) -> tuple[int, int]:
    return ctx.arg(op, "h", minimum=1), ctx.arg(op, "w", minimum=1)


def resize_kernel(op: T.Resize | T.ResizeShort | T.ResizeLong, value: Any, spec: TensorSpec,
                  ctx: ChainContext, out: np.ndarray | None) -> LazyImage:
    """``resize``, ``resize_short``, ``resize_long``: one resample of the current view."""
    image = as_lazy(value, op.qualname)
    target = None if isinstance(op, (T.ResizeShort, T.ResizeLong)) else _target(op, ctx)
    h, w = resized_hw(op, image.height, image.width, target)
    return image.resized(h, w, FILTERS[op.interp])


def draft_target(op: Any, ctx: ChainContext) -> Any:
    """For a resize right after the image decoder: the output size per source size (JPEG draft)."""
    if isinstance(op, (T.ResizeShort, T.ResizeLong)):
        return lambda height, width: resized_hw(op, height, width)
    if isinstance(op, (T.Resize, T.FitToBucket)):
        target = _target(op, ctx)
        return lambda height, width: resized_hw(op, height, width, target)
    return None


def fit_to_bucket_kernel(op: T.FitToBucket, value: Any, spec: TensorSpec, ctx: ChainContext,
                         out: np.ndarray | None) -> LazyImage:
    """Scale to cover ``h`` × ``w``, then take the centred window (fused into one resample)."""
    image = as_lazy(value, op.qualname)
    th, tw = _target(op, ctx)
    h, w = resized_hw(op, image.height, image.width, (th, tw))
    scaled = image.resized(h, w, FILTERS[op.interp])
    return scaled.cropped(centered_offset(h, th), centered_offset(w, tw), th, tw)


def random_resized_crop_kernel(op: T.RandomResizedCrop, value: Any, spec: TensorSpec, ctx: ChainContext,
                               out: np.ndarray | None) -> LazyImage:
    """Crop the sampled window, then resample it to ``h`` × ``w``."""
    image = as_lazy(value, op.qualname)
    y, x, h, w = op.sample_window(ctx.rng, image.height, image.width)
    return image.cropped(y, x, h, w).resized(op.h, op.w, FILTERS[op.interp])


def _window(value: Any, spec: TensorSpec, op_name: str, y: int, x: int, h: int, w: int) -> Any:
    """The ``h`` × ``w`` window at (``y``, ``x``); parts outside the value are zero."""
    height, width = hw_of(value, spec, op_name)
    inside = window_inside(y, x, h, w, height, width)
    if isinstance(value, LazyImage):
        if inside:
            return value.cropped(y, x, h, w)
        value = value.materialise()
    ha, wa = image_axes(spec)
    if inside:
        index = [slice(None)] * value.ndim
        index[ha], index[wa] = slice(y, y + h), slice(x, x + w)
        return value[tuple(index)]
    shape = list(value.shape)
    shape[ha], shape[wa] = h, w
    padded = np.zeros(shape, dtype=value.dtype)
    src = [slice(None)] * value.ndim
    dst = [slice(None)] * value.ndim
    for axis, start, size, extent in ((ha, y, h, height), (wa, x, w, width)):
        lo, hi = max(start, 0), min(start + size, extent)
        src[axis], dst[axis] = slice(lo, hi), slice(lo - start, hi - start)
    padded[tuple(dst)] = value[tuple(src)]
    return padded


def center_crop_kernel(op: T.CenterCrop, value: Any, spec: TensorSpec, ctx: ChainContext,
                       out: np.ndarray | None) -> Any:
    """Centred window (offsets floor((size − window) / 2)); zero padding where it exceeds the value."""
    h, w = _target(op, ctx)
    height, width = hw_of(value, spec, op.qualname)
    return _window(value, spec, op.qualname, centered_offset(height, h), centered_offset(width, w), h, w)


def crop_kernel(op: T.Crop, value: Any, spec: TensorSpec, ctx: ChainContext, out: np.ndarray | None) -> Any:
    """The window at (``y``, ``x``); a window outside the value is a row error."""
    y, x, h, w = ctx.arg(op, "y"), ctx.arg(op, "x"), *_target(op, ctx)
    height, width = hw_of(value, spec, op.qualname)
    if not window_inside(y, x, h, w, height, width):
        raise RowFailure("transform", op.qualname,
                         f"window y={y}, x={x}, h={h}, w={w} is outside the {height}x{width} input")
    return _window(value, spec, op.qualname, y, x, h, w)


def random_crop_kernel(op: T.RandomCrop, value: Any, spec: TensorSpec, ctx: ChainContext,
                       out: np.ndarray | None) -> Any:
    """A uniformly placed window; a window larger than the value is a row error."""
    h, w = _target(op, ctx)
    height, width = hw_of(value, spec, op.qualname)
    if h > height or w > width:
        raise RowFailure("transform", op.qualname, f"window {h}x{w} is larger than the {height}x{width} input")
    y = draw_offset(ctx.rng, height, h)
    x = draw_offset(ctx.rng, width, w)
    return _window(value, spec, op.qualname, y, x, h, w)


def flip_kernel(op: T.HFlip | T.VFlip, value: Any, spec: TensorSpec, ctx: ChainContext,
                out: np.ndarray | None) -> Any:
    """Mirror with probability ``prob``; always draws one value so sibling slots stay in step."""
    flip = draw_coin(ctx.rng, op.prob)
    hw_of(value, spec, op.qualname)
    if not flip:
        return value
    array = value.materialise() if isinstance(value, LazyImage) else value
    ha, wa = image_axes(spec)
    return np.flip(array, axis=wa if isinstance(op, T.HFlip) else ha)
