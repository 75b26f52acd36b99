"""Sample geometry, shared by every executor: size arithmetic, random draws and the sample plan.

Both executors must cut, scale and flip identically, so everything geometric that does
not touch pixels lives here, once: the output size of a resize, the placement of a
window, the random draws of the geometric ops (from :mod:`dataio.ops.draws`, in a fixed order),
and :func:`plan_sample`, which reduces a chain's geometric ops on a decoded size
to one :class:`SamplePlan` (what the GPU graph executes).

One coordinate convention throughout: positions ``(y, x)`` and sizes ``(height, width)``,
rows before columns, in the pixels of the value the op receives; a region is
``(y0, x0, y1, x1)``. (The CPU fallback converts to Pillow's ``(x0, y0, x1, y1)`` box only
where it calls Pillow.)
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple, Protocol

import numpy as np

from dataio.ops import transforms as T
from dataio.ops.draws import draw_coin, draw_offset
from dataio.ops.transforms import FitToBucket, Resize, ResizeLong, ResizeShort

GEOMETRY_KINDS = ("resample", "window", "flip")
"""Op kinds (``Op.kind``) whose effect on a sample is geometry alone: :func:`plan_sample` takes them."""


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


def window_inside(y: int, x: int, h: int, w: int, height: int, width: int) -> bool:
    """True when the ``h`` × ``w`` window at (``y``, ``x``) lies inside a ``height`` × ``width`` value."""
    return h >= 1 and w >= 1 and y >= 0 and x >= 0 and y + h <= height and x + w <= width


class SampleContext(Protocol):
    """What sample planning reads of a record: its generator and its ``col(...)`` arguments."""

    @property
    def rng(self) -> np.random.Generator: ...

    def arg(self, op: Any, name: str, kind: type = int, *, minimum: int = 0) -> Any: ...


class SamplePlan(NamedTuple):
    """What a chain's geometric ops do to one decoded image (a named tuple: one per row on the GPU host path,
    cheap to make).

    Attributes:
        region: ``(y0, x0, y1, x1)`` in decoded pixels (may extend outside for padding crops).
        size: ``(height, width)`` of the output.
        resample: the filter name when the region is resampled, else ``None`` (a pure crop).
        flip: ``(horizontal, vertical)`` as 0/1.
    """

    region: tuple[float, float, float, float]
    size: tuple[int, int]
    resample: str | None
    flip: tuple[int, int]


class _View:
    """The current output as a region of the decoded image (no pixels), with pending flips."""

    def __init__(self, height: int, width: int) -> None:
        self.region = [0.0, 0.0, float(height), float(width)]
        self.size = (height, width)
        self.resample: str | None = None
        self.flip = [0, 0]
        self.padded = False
        """A window reached past the value it cut: its outside is zeros (the CPU kernels' rule)."""

    def window(self, y: int, x: int, h: int, w: int) -> None:
        """Cut the window at (y, x) of the current output (flips apply to the final image)."""
        height, width = self.size
        self.padded = self.padded or not window_inside(y, x, h, w, height, width)
        if self.flip[0]:
            x = width - x - w
        if self.flip[1]:
            y = height - y - h
        y0, x0, y1, x1 = self.region
        sy, sx = (y1 - y0) / height, (x1 - x0) / width
        self.region = [y0 + y * sy, x0 + x * sx, y0 + (y + h) * sy, x0 + (x + w) * sx]
        self.size = (h, w)

    def resize(self, h: int, w: int, interp: str) -> bool:
        """Resample to h × w; ``False`` when a resample is already pending (not one graph step)."""
        if self.resample is not None:
            return False
        self.size = (h, w)
        self.resample = interp
        return True


def plan_sample(ops: tuple[Any, ...], height: int, width: int, ctx: SampleContext) -> SamplePlan | None:
    """Reduce the geometric ops ``ops`` on a ``height`` × ``width`` image to one :class:`SamplePlan`.

    Draws from ``ctx.rng`` with the same functions, in the same order, as the CPU kernels.
    Returns ``None`` — the CPU kernels then run the sample — when it needs more than one
    resample, when a fixed window falls outside the image (the kernel reports the row error),
    or when a window reaching past the image's edge meets a resample: the CPU kernels resample
    the zero-padded window, while a region resize clamps at the edge (repeats edge pixels). A
    padded window with no resample is one ``fn.slice`` with zero fill, as on the CPU.
    """
    view = _View(height, width)
    for op in ops:
        h, w = view.size
        if isinstance(op, T.RandomResizedCrop):
            y, x, ch, cw = op.sample_window(ctx.rng, h, w)
            view.window(y, x, ch, cw)
            if not view.resize(op.h, op.w, op.interp):
                return None
        elif isinstance(op, T.FitToBucket):
            th, tw = ctx.arg(op, "h", minimum=1), ctx.arg(op, "w", minimum=1)
            nh, nw = resized_hw(op, h, w, (th, tw))
            if not view.resize(nh, nw, op.interp):
                return None
            view.window(centered_offset(nh, th), centered_offset(nw, tw), th, tw)
        elif op.kind == "resample":
            target = None if isinstance(op, (T.ResizeShort, T.ResizeLong)) else (
                ctx.arg(op, "h", minimum=1), ctx.arg(op, "w", minimum=1))
            if not view.resize(*resized_hw(op, h, w, target), op.interp):
                return None
        elif isinstance(op, T.CenterCrop):
            th, tw = ctx.arg(op, "h", minimum=1), ctx.arg(op, "w", minimum=1)
            view.window(centered_offset(h, th), centered_offset(w, tw), th, tw)
        elif isinstance(op, T.Crop):
            y, x = ctx.arg(op, "y"), ctx.arg(op, "x")
            th, tw = ctx.arg(op, "h", minimum=1), ctx.arg(op, "w", minimum=1)
            if not window_inside(y, x, th, tw, h, w):
                return None
            view.window(y, x, th, tw)
        elif isinstance(op, T.RandomCrop):
            th, tw = ctx.arg(op, "h", minimum=1), ctx.arg(op, "w", minimum=1)
            if th > h or tw > w:
                return None
            y = draw_offset(ctx.rng, h, th)
            view.window(y, draw_offset(ctx.rng, w, tw), th, tw)
        elif op.kind == "flip":
            if draw_coin(ctx.rng, op.prob):
                view.flip[0 if isinstance(op, T.HFlip) else 1] ^= 1
        else:
            raise TypeError(f"plan_sample: {op.qualname} is not a geometric op")
    if view.padded and view.resample is not None:
        return None
    y0, x0, y1, x1 = view.region
    return SamplePlan((y0, x0, y1, x1), view.size, view.resample, (view.flip[0], view.flip[1]))
