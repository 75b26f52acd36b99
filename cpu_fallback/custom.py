"""Kernel of slot custom ops: call the user's function on the row's array, check its declared output."""

from __future__ import annotations

from typing import Any

import numpy as np

from dataio.cpu_fallback.lazy_image import LazyImage
from dataio.ops.custom import CustomTransform
from dataio.runtime.chain import ChainContext
from dataio.runtime.rows import RowFailure, UserCodeError


def custom_kernel(op: CustomTransform, value: Any, spec: Any, ctx: ChainContext, out: Any) -> Any:
    """``fn(array)``; its exceptions are the user's (fatal), a result off its declaration is a row error."""
    array = value.materialise() if isinstance(value, LazyImage) else value
    try:
        result = op.fn.fn(array)  # type: ignore[misc]
    except Exception as exc:  # handed to the runtime unchanged
        raise UserCodeError(exc) from exc
    declared = op.fn.output
    if declared is None:
        return result
    if not isinstance(result, np.ndarray):
        raise RowFailure("transform", op.label, f"returned a {type(result).__name__}, not a numpy array")
    wrong_dtype = declared.dtype is not None and result.dtype.name != declared.dtype
    wrong_shape = declared.shape is not None and (
        result.ndim != len(declared.shape)
        or any(d is not None and d != r for d, r in zip(declared.shape, result.shape, strict=False)))
    if wrong_dtype or wrong_shape:
        raise RowFailure("transform", op.label, f"returned {result.dtype} {list(result.shape)}, declared "
                                                f"{declared.describe()}")
    return result
