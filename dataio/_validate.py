"""Argument checks shared by the DSL, the ops and the runtime (docs/api.md §1 conventions).

Each check returns the normalised value or raises ``TypeError`` (wrong type) /
:class:`~dataio.PlanError` (right type, invalid value) with a message that names the
function and the parameter, states the rule and shows the offending value:
``resize_short(size=-3): size must be a positive int; got -3``.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Collection
from typing import Any

from dataio._errors import PlanError


def _where(func: str, param: str, value: Any) -> str:
    return f"{func}({param}={value!r})"


def as_int(func: str, param: str, value: Any, *, minimum: int | None = None) -> int:
    """An ``operator.index``-able integer (``bool`` refused), optionally ``>= minimum``."""
    if isinstance(value, bool):
        raise TypeError(f"{_where(func, param, value)}: {param} must be an int, not bool")
    try:
        number = operator.index(value)
    except TypeError:
        raise TypeError(
            f"{_where(func, param, value)}: {param} must be an int; got {type(value).__name__}"
        ) from None
    if minimum is not None and number < minimum:
        rule = "a positive int" if minimum == 1 else f"an int >= {minimum}"
        raise PlanError(f"{_where(func, param, value)}: {param} must be {rule}; got {number}")
    return number


def as_float(
    func: str,
    param: str,
    value: Any,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
    exclusive_minimum: bool = False,
) -> float:
    """A finite real number (``bool`` refused) within the given bounds."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) and not hasattr(value, "__float__"):
        raise TypeError(
            f"{_where(func, param, value)}: {param} must be a number; got {type(value).__name__}"
        )
    number = float(value)
    if not math.isfinite(number):
        raise PlanError(f"{_where(func, param, value)}: {param} must be finite; got {number}")
    if minimum is not None and (number <= minimum if exclusive_minimum else number < minimum):
        op = ">" if exclusive_minimum else ">="
        raise PlanError(f"{_where(func, param, value)}: {param} must be {op} {minimum}; got {number}")
    if maximum is not None and number > maximum:
        raise PlanError(f"{_where(func, param, value)}: {param} must be <= {maximum}; got {number}")
    return number


def as_choice(func: str, param: str, value: Any, choices: Collection[str]) -> str:
    """One of an enumerated set of case-sensitive strings."""
    if not isinstance(value, str):
        raise TypeError(
            f"{_where(func, param, value)}: {param} must be a str; got {type(value).__name__}"
        )
    if value not in choices:
        allowed = ", ".join(repr(c) for c in choices)
        raise PlanError(f"{_where(func, param, value)}: {param} must be one of {allowed}; got {value!r}")
    return value


def as_bool(func: str, param: str, value: Any) -> bool:
    """A real ``bool`` (no truthy stand-ins)."""
    if not isinstance(value, bool):
        raise TypeError(
            f"{_where(func, param, value)}: {param} must be a bool; got {type(value).__name__}"
        )
    return value


def as_seed(func: str, param: str, value: Any) -> int:
    """A seed: an int in ``[0, 2**64)``."""
    seed = as_int(func, param, value)
    if not 0 <= seed < 2**64:
        raise PlanError(f"{_where(func, param, value)}: {param} must be in [0, 2**64); got {seed}")
    return seed


def as_name(func: str, param: str, value: Any) -> str:
    """A non-empty ``str`` name."""
    if not isinstance(value, str):
        raise TypeError(
            f"{_where(func, param, value)}: {param} must be a str; got {type(value).__name__}"
        )
    if not value:
        raise PlanError(f"{_where(func, param, value)}: {param} must be a non-empty str")
    return value


def as_float_tuple(func: str, param: str, value: Any, *, length: int | None = None) -> tuple[float, ...]:
    """A non-empty sequence of finite floats (a ``str`` is refused)."""
    if isinstance(value, (str, bytes)) or not hasattr(value, "__iter__"):
        raise TypeError(
            f"{_where(func, param, value)}: {param} must be a sequence of numbers; "
            f"got {type(value).__name__}"
        )
    numbers = tuple(as_float(func, param, v) for v in value)
    if not numbers:
        raise PlanError(f"{_where(func, param, value)}: {param} must not be empty")
    if length is not None and len(numbers) != length:
        raise PlanError(
            f"{_where(func, param, value)}: {param} must have {length} values; got {len(numbers)}"
        )
    return numbers


def as_float_pair(func: str, param: str, value: Any, *, ordered: bool = True, **bounds: Any) -> tuple[float, float]:
    """Two floats within ``bounds`` (see :func:`as_float`); ``ordered`` requires ``first <= second``."""
    if isinstance(value, (str, bytes)) or not hasattr(value, "__len__") or len(value) != 2:
        raise TypeError(f"{_where(func, param, value)}: {param} must be a pair of numbers")
    first, second = (as_float(func, param, v, **bounds) for v in value)
    if ordered and first > second:
        raise PlanError(f"{_where(func, param, value)}: {param} must be (lo, hi) with lo <= hi; "
                        f"got lo={first}, hi={second}")
    return first, second
