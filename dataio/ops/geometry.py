"""Size arithmetic of the geometric ops, shared by every executor.

Both executors must cut and scale identically, so the output size of a resize and
the placement of a window are computed here, once, from the source size.
"""

from __future__ import annotations

import math

from dataio.ops.transforms import FitToBucket, Resize, ResizeLong, ResizeShort


def round_half_up(value: float) -> int:
    """Round to the nearest int, halves away from zero (no banker's rounding)."""
    return int(math.floor(value + 0.5))


def scaled_side(side: int, numerator: int, denominator: int) -> int:
    """``side * numerator / denominator`` rounded half up, at least 1."""
    return max(1, round_half_up(side * numerator / denominator))


def resized_hw(op: Resize | ResizeShort | ResizeLong | FitToBucket, height: int, width: int,
               target: tuple[int, int] | None = None) -> tuple[int, int]:
    """The (height, width) a resize produces from a ``height`` × ``width`` source.

    Args:
        op: the resize op.
        height: source height.
        width: source width.
        target: for ops with (possibly per-record) ``h``/``w``: the resolved values.
    """
    if isinstance(op, ResizeShort):
        if height <= width:
            return op.size, scaled_side(width, op.size, height)
        return scaled_side(height, op.size, width), op.size
    if isinstance(op, ResizeLong):
        if height >= width:
            return op.size, scaled_side(width, op.size, height)
        return scaled_side(height, op.size, width), op.size
    assert target is not None
    th, tw = target
    if isinstance(op, FitToBucket):
        scale = max(th / height, tw / width)
        return max(th, round_half_up(height * scale)), max(tw, round_half_up(width * scale))
    return th, tw


def centered_offset(size: int, window: int) -> int:
    """Start of a centred ``window`` in ``size`` (negative when the window is larger: padding)."""
    return (size - window) // 2
