"""The array module behind a column: numpy for host memory, cupy for device memory.

Batch columns delivered by the GPU executor live in device memory as cupy arrays; the
code that compacts, permutes and rewrites columns (assembly, batch transforms) asks
:func:`namespace` for the module instead of calling numpy directly, so one code path
serves both. cupy is imported only when a cupy array is actually passed in.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any

import numpy as np


def namespace(array: Any) -> ModuleType:
    """``numpy`` for host arrays (and numpy scalars), ``cupy`` for cupy device arrays."""
    if isinstance(array, (np.ndarray, np.generic)):
        return np
    module = type(array).__module__.partition(".")[0]
    if module == "cupy":
        return importlib.import_module("cupy")
    raise TypeError(f"expected a numpy or cupy array; got {type(array).__module__}.{type(array).__name__}")


def take_rows(array: Any, rows: list[int], *, axis: int = 0) -> Any:
    """``array`` indexed by ``rows`` along ``axis``: a view when ``rows`` is ``0..n-1`` on axis 0, else a copy."""
    if axis == 0 and rows == list(range(len(rows))):
        return array[: len(rows)]
    xp = namespace(array)
    return xp.take(array, xp.asarray(rows, dtype=np.int64), axis=axis)
