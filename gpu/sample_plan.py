"""Host-side planning of one image sample for the DALI graph: geometry and random draws.

The GPU graph does not draw random numbers or compute sizes itself. For each sample the
host walks the slot's geometric ops on the decoded size (read from the header), using
the same size arithmetic (:mod:`dataio.ops.geometry`) and the same draws from the same
record generator as the CPU kernels, and reduces the chain to one *sample plan*: a
source region, an output size, flips. The graph executes that plan with one
``fn.resize`` (region of interest) or ``fn.slice``, one ``fn.flip``, and a final
normalisation. So both executors cut and flip identically and stay deterministic.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dataio.ops import transforms as T
from dataio.ops.geometry import centered_offset, resized_hw
from dataio.runtime.chain import ChainContext

GEOMETRY_KINDS = ("resample", "window", "flip")
"""Op kinds (``Op.kind``) the host reduces to one sample plan."""


@dataclass(frozen=True, slots=True)
class SamplePlan:
    """What the graph does to one decoded image.

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

    def window(self, y: int, x: int, h: int, w: int) -> None:
        """Cut the window at (y, x) of the current output (flips apply to the final image)."""
        height, width = self.size
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


def plan_sample(ops: tuple[Any, ...], height: int, width: int, ctx: ChainContext) -> SamplePlan | None:
    """Reduce the geometric prefix ``ops`` on a ``height`` × ``width`` image to one :class:`SamplePlan`.

    Draws from ``ctx.rng`` exactly as the CPU kernels do. Returns ``None`` when this sample
    needs more than one resample (the executor then runs the slot on the CPU).
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
            if y + th > h or x + tw > w:
                return None  # the CPU kernel reports the row error with its message
            view.window(y, x, th, tw)
        elif isinstance(op, T.RandomCrop):
            th, tw = ctx.arg(op, "h", minimum=1), ctx.arg(op, "w", minimum=1)
            if th > h or tw > w:
                return None
            y, x = int(ctx.rng.integers(0, h - th + 1)), int(ctx.rng.integers(0, w - tw + 1))
            view.window(y, x, th, tw)
        elif op.kind == "flip":
            if ctx.rng.random() < op.prob:
                view.flip[0 if isinstance(op, T.HFlip) else 1] ^= 1
    y0, x0, y1, x1 = view.region
    return SamplePlan((y0, x0, y1, x1), view.size, view.resample, (view.flip[0], view.flip[1]))
