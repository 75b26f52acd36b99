"""Pixel-value kernels: the fused ``HWC uint8 → CHW float32`` affine, ``normalize``, ``cast``.

The affine family (``normalize(...)`` shorthands, ``unit_chw``, ``symmetric_chw``,
``pack_chw_f32``, ``normalize_chw_from_hwc_u8``) runs as one table lookup per
channel: a 256-entry float32 table holds ``x · scale[c] + bias[c]`` for every byte
value, and ``numpy.take`` writes the plane straight into the batch buffer. That is
the layout change, the conversion and the normalisation in a single pass, with no
temporary arrays.
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np

from dataio.ops import transforms as T
from dataio.ops._base import TensorSpec
from dataio.runtime.chain import ChainContext
from dataio.runtime.rows import RowFailure, describe_value

from dataio.cpu_fallback.lazy_image import LazyImage

_BYTE_VALUES = np.arange(256, dtype=np.float64)
_tables: dict[tuple[Any, int], np.ndarray] = {}
_tables_lock = threading.Lock()


def affine_tables(op: T.ChannelAffine, channels: int) -> np.ndarray:
    """``[channels, 256]`` float32: the output value of every byte value, per channel (cached)."""
    key = (op, channels)
    table = _tables.get(key)
    if table is None:
        scale, bias = op.channel_affine(channels)
        table = (_BYTE_VALUES[None, :] * scale[:, None] + bias[:, None]).astype(np.float32)
        with _tables_lock:
            _tables[key] = table
    return table


def hwc_u8(value: Any, op_name: str) -> np.ndarray:
    """``value`` as an ``HWC uint8`` array (materialising a lazy view)."""
    if isinstance(value, LazyImage):
        return value.materialise()
    if isinstance(value, np.ndarray) and value.dtype == np.uint8 and value.ndim == 3:
        return value
    raise RowFailure("transform", op_name, f"expects an HWC uint8 image; got {describe_value(value)}")


def lut_to_chw(pixels: np.ndarray, tables: np.ndarray, out: np.ndarray | None) -> np.ndarray:
    """Map ``HWC uint8`` through per-channel tables into a ``CHW float32`` array (``out`` if given)."""
    h, w, c = pixels.shape
    if out is None or out.shape != (c, h, w) or out.dtype != np.float32:
        out = np.empty((c, h, w), dtype=np.float32)
    for channel in range(c):
        np.take(tables[channel], pixels[:, :, channel], out=out[channel])
    return out


def channel_affine_kernel(op: T.ChannelAffine, value: Any, spec: TensorSpec, ctx: ChainContext,
                          out: np.ndarray | None) -> np.ndarray:
    """``HWC uint8`` → ``CHW float32`` as ``x · scale[c] + bias[c]``, written into ``out``."""
    pixels = hwc_u8(value, op.qualname)
    channels = pixels.shape[2]
    expected = op.fixed_channels()
    if expected is not None and expected != channels:
        raise RowFailure("transform", op.qualname, f"{expected} mean/std values for a {channels}-channel image")
    return lut_to_chw(pixels, affine_tables(op, channels), out)


def normalize_kernel(op: T.Normalize, value: Any, spec: TensorSpec, ctx: ChainContext,
                     out: np.ndarray | None) -> np.ndarray:
    """``(x − mean[c]) / std[c]`` on a ``CHW float32`` array."""
    if not isinstance(value, np.ndarray) or value.dtype != np.float32 or value.ndim != 3:
        raise RowFailure("transform", op.qualname, f"expects a CHW float32 array; got {describe_value(value)}")
    if value.shape[0] != len(op.mean):
        raise RowFailure("transform", op.qualname,
                         f"{len(op.mean)} mean/std values for a {value.shape[0]}-channel input")
    mean = np.asarray(op.mean, dtype=np.float32)[:, None, None]
    inv_std = (1.0 / np.asarray(op.std, dtype=np.float64)).astype(np.float32)[:, None, None]
    target = out if out is not None and out.shape == value.shape and out.dtype == np.float32 else None
    result = np.subtract(value, mean, out=target)
    return np.multiply(result, inv_std, out=result)


def cast_kernel(op: T.Cast, value: Any, spec: TensorSpec, ctx: ChainContext, out: np.ndarray | None) -> np.ndarray:
    """Convert dtype; float → int truncates toward zero and saturates at the type's bounds."""
    array = value.materialise() if isinstance(value, LazyImage) else value
    if not isinstance(array, np.ndarray):
        raise RowFailure("transform", op.qualname, f"expects an array; got {describe_value(array)}")
    dtype = np.dtype(op.dtype)
    if array.dtype.kind == "f" and dtype.kind in "iu":
        info = np.iinfo(dtype)
        # the largest float64 not above the type's max (2**63 - 1 itself rounds up and overflows)
        high = min(float(info.max), np.nextafter(float(info.max) + 1.0, 0.0))
        # clip in float64: float32 cannot hold 2**31 - 1 or 2**32 - 1 and would round the bounds up
        array = np.clip(np.trunc(np.nan_to_num(array.astype(np.float64), nan=0.0)), float(info.min), high)
    return array.astype(dtype, copy=False)

