"""Layout kernels with numpy semantics: permute, reshape, flatten, squeeze, unsqueeze, patchify, pad_axis.

Rank or size mismatches found at run time are row errors (stage ``"transform"``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.lib.array_utils import normalize_axis_index

from dataio.ops import transforms as T
from dataio.ops._base import TensorSpec
from dataio.runtime.chain import ChainContext
from dataio.runtime.rows import RowFailure, describe_value

from dataio.cpu_fallback.lazy_image import LazyImage


def _array(value: Any, op_name: str) -> np.ndarray:
    if isinstance(value, LazyImage):
        return value.materialise()
    if not isinstance(value, np.ndarray):
        raise RowFailure("transform", op_name, f"expects an array; got {describe_value(value)}")
    return value


def _numpy(op_name: str, call: Any, array: np.ndarray) -> np.ndarray:
    try:
        return call(array)
    except (ValueError, np.exceptions.AxisError) as exc:
        raise RowFailure("transform", op_name, f"input of shape {list(array.shape)}: {exc}") from None


def permute_kernel(op: T.Permute, value: Any, spec: TensorSpec, ctx: ChainContext, out: Any) -> np.ndarray:
    """``numpy.transpose(x, axes)``."""
    array = _array(value, op.qualname)
    if array.ndim != len(op.axes):
        raise RowFailure("transform", op.qualname, f"{len(op.axes)} axes for a rank-{array.ndim} input")
    return array.transpose(op.axes)


def reshape_kernel(op: T.Reshape, value: Any, spec: TensorSpec, ctx: ChainContext, out: Any) -> np.ndarray:
    """``numpy.reshape(x, shape)``."""
    return _numpy(op.qualname, lambda a: a.reshape(op.shape), _array(value, op.qualname))


def flatten_kernel(op: T.Flatten, value: Any, spec: TensorSpec, ctx: ChainContext, out: Any) -> np.ndarray:
    """Merge axes ``start_axis..end_axis``."""
    array = _array(value, op.qualname)

    def flatten(a: np.ndarray) -> np.ndarray:
        lo, hi = normalize_axis_index(op.start_axis, a.ndim), normalize_axis_index(op.end_axis, a.ndim)
        if lo > hi:
            raise ValueError(f"start_axis {op.start_axis} comes after end_axis {op.end_axis}")
        return a.reshape(a.shape[:lo] + (-1,) + a.shape[hi + 1:])

    return _numpy(op.qualname, flatten, array)


def squeeze_kernel(op: T.Squeeze, value: Any, spec: TensorSpec, ctx: ChainContext, out: Any) -> np.ndarray:
    """Drop size-1 axes (or the given one, which must have size 1)."""
    return _numpy(op.qualname, lambda a: np.squeeze(a, axis=op.axis), _array(value, op.qualname))


def unsqueeze_kernel(op: T.Unsqueeze, value: Any, spec: TensorSpec, ctx: ChainContext, out: Any) -> np.ndarray:
    """Insert a size-1 axis."""
    return _numpy(op.qualname, lambda a: np.expand_dims(a, op.axis), _array(value, op.qualname))


def patchify_kernel(op: T.Patchify, value: Any, spec: TensorSpec, ctx: ChainContext, out: Any) -> np.ndarray:
    """``CHW`` → ``[num_patches, C·p·p]``, patches in row-major order, each flattened as (C, p, p)."""
    array = _array(value, op.qualname)
    p = op.patch_size
    if array.ndim != 3 or array.shape[1] % p or array.shape[2] % p:
        raise RowFailure("transform", op.qualname,
                         f"expects CHW with H and W multiples of {p}; got shape {list(array.shape)}")
    c, h, w = array.shape
    patches = array.reshape(c, h // p, p, w // p, p).transpose(1, 3, 0, 2, 4)
    return patches.reshape((h // p) * (w // p), c * p * p)


def pad_axis_kernel(op: T.PadAxis, value: Any, spec: TensorSpec, ctx: ChainContext, out: Any) -> np.ndarray:
    """Pad one axis at its end up to ``target`` with ``value``."""
    array = _array(value, op.qualname)
    if not -array.ndim <= op.axis < array.ndim:
        raise RowFailure("transform", op.qualname, f"axis {op.axis} is out of range for rank {array.ndim}")
    axis = op.axis % array.ndim
    size = array.shape[axis]
    if size > op.target:
        raise RowFailure("transform", op.qualname, f"axis {op.axis} has size {size} > target {op.target}")
    widths = [(0, 0)] * array.ndim
    widths[axis] = (0, op.target - size)
    return np.pad(array, widths, constant_values=np.asarray(op.value).astype(array.dtype))
