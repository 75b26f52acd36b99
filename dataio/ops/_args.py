"""Normalisers for op parameters that may be per-record (``Dim``/``Float``, docs/api.md §3)."""

from __future__ import annotations

from typing import Any

from dataio._validate import as_float, as_int
from dataio.ops.cond import Param

INTERPOLATIONS = ("nearest", "bilinear", "bicubic", "lanczos")


def dim(func: str, param: str, value: Any, *, minimum: int = 1) -> int | Param:
    """A ``Dim``: an int ``>= minimum``, or a field reference (``col(...)`` or a bare field name)."""
    if isinstance(value, Param):
        return value
    if isinstance(value, str):
        if not value:
            raise ValueError(f"{func}({param}=''): a field name must be non-empty")
        return Param(value)
    return as_int(func, param, value, minimum=minimum)


def static(value: int | Param) -> int | None:
    """The value when it is known at plan time, else ``None``."""
    return None if isinstance(value, Param) else value


def real(func: str, param: str, value: Any, **bounds: Any) -> float | Param:
    """A ``Float``: a finite number within bounds, or a field reference."""
    if isinstance(value, Param):
        return value
    if isinstance(value, str):
        return Param(value)
    return as_float(func, param, value, **bounds)
