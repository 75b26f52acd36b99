"""Integer knobs read from ``DATAIO_*`` environment variables, shared by every layer (pools, object stores)."""

from __future__ import annotations

import os
import warnings


def worker_count(variable: str, default: int) -> int:
    """The integer (>= 1) in ``variable``, or ``default`` (warning once on an invalid value)."""
    raw = os.environ.get(variable)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value < 1:
        warnings.warn(
            f"{variable}={raw!r} is not an integer >= 1; using the default {default}",
            RuntimeWarning,
            stacklevel=3,
        )
        return default
    return value
