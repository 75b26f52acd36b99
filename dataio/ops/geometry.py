"""Sample geometry, shared by every executor: size arithmetic, random draws and the sample plan.

Both executors must cut, scale and flip identically, so everything geometric that does
not touch pixels lives here, once: the output size of a resize, the placement of a
window, the random draws of the geometric ops (from :mod:`dataio.ops.draws`, in a fixed order),
and :func:`plan_batch`, which reduces a chain's geometric ops on a batch's decoded sizes
to one :class:`BatchPlan` (what the GPU graph executes). The size arithmetic takes one
image's ints (a CPU kernel) or a batch's arrays (the planner) with the same float64 steps.

One coordinate convention throughout: positions ``(y, x)`` and sizes ``(height, width)``,
rows before columns, in the pixels of the value the op receives; a region is
``(y0, x0, y1, x1)``. (The CPU fallback converts to Pillow's ``(x0, y0, x1, y1)`` box only
where it calls Pillow.)
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple, Protocol

import numpy as np

from dataio.ops import transforms as T
from dataio.ops.cond import Param
from dataio.ops.draws import draw_coin, draw_offset
from dataio.ops.transforms import FitToBucket, Resize, ResizeLong, ResizeShort

GEOMETRY_KINDS = ("resample", "window", "flip")
"""Op kinds (``Op.kind``) whose effect on a sample is geometry alone: :func:`plan_batch` takes them."""


def round_half_up(value: Any) -> Any:
    """Round to the nearest int, halves away from zero (no banker's rounding); elementwise on arrays."""
    if isinstance(value, np.ndarray):
        return np.floor(value + 0.5).astype(np.int64)
    return int(math.floor(value + 0.5))


def _larger(a: Any, b: Any) -> Any:
    """``max(a, b)``, elementwise when either is an array."""
    return np.maximum(a, b) if isinstance(a, np.ndarray) or isinstance(b, np.ndarray) else max(a, b)


def scaled_side(side: Any, numerator: int, denominator: Any) -> Any:
    """``side * numerator / denominator`` rounded half up, at least 1 (elementwise on arrays)."""
    return _larger(1, round_half_up(side * numerator / denominator))


def resized_hw(op: Resize | ResizeShort | ResizeLong | FitToBucket, height: Any, width: Any,
               target: Sequence[Any] | None = None) -> tuple[Any, Any]:
    """The (height, width) a resize produces from a ``height`` × ``width`` source.

    Works on ints (a CPU kernel's one image) and elementwise on int arrays (a batch's planning),
    with the same float64 arithmetic, so both agree to the pixel.

    Args:
        op: the resize op.
        height: source height(s).
        width: source width(s).
        target: for ops with (possibly per-record) ``h``/``w``: the resolved values.
    """
    if isinstance(op, (ResizeShort, ResizeLong)):
        height_side = height <= width if isinstance(op, ResizeShort) else height >= width
        if isinstance(height_side, np.ndarray):
            return (np.where(height_side, op.size, scaled_side(height, op.size, width)),
                    np.where(height_side, scaled_side(width, op.size, height), op.size))
        if height_side:
            return op.size, scaled_side(width, op.size, height)
        return scaled_side(height, op.size, width), op.size
    assert target is not None
    th, tw = target
    if isinstance(op, FitToBucket):
        scale = _larger(th / height, tw / width)
        return _larger(th, round_half_up(height * scale)), _larger(tw, round_half_up(width * scale))
    return th, tw


def centered_offset(size: Any, window: Any) -> Any:
    """Start of a centred ``window`` in ``size`` (negative when the window is larger: padding)."""
    return (size - window) // 2


def window_inside(y: Any, x: Any, h: Any, w: Any, height: Any, width: Any) -> Any:
    """True when the ``h`` × ``w`` window at (``y``, ``x``) lies inside a ``height`` × ``width`` value
    (elementwise on arrays)."""
    return (h >= 1) & (w >= 1) & (y >= 0) & (x >= 0) & (y + h <= height) & (x + w <= width)


class SampleContext(Protocol):
    """What sample planning reads of a record: its generator and its ``col(...)`` arguments."""

    @property
    def rng(self) -> np.random.Generator: ...

    def arg(self, op: Any, name: str, kind: type = int, *, minimum: int = 0) -> Any: ...


class BatchPlan(NamedTuple):
    """What a chain's geometric ops do to each decoded image of a batch: one row per sample.

    Attributes:
        regions: ``(n, 4)`` float64, per sample ``(y0, x0, y1, x1)`` in decoded pixels (may extend
            outside for padding crops).
        sizes: ``(n, 2)`` int64, per sample the output ``(height, width)``.
        resample: the filter name when the chain resamples its region, else ``None`` (a pure crop).
        flips: ``(n, 2)`` int32, per sample ``(horizontal, vertical)`` as 0/1.
        planned: ``(n,)`` bool; ``False`` for the samples the graph does not take (see
            :func:`plan_batch`): the CPU kernels run them, from their seed.
    """

    regions: np.ndarray
    sizes: np.ndarray
    resample: str | None
    flips: np.ndarray
    planned: np.ndarray

    def take(self, rows: np.ndarray | list[int]) -> BatchPlan:
        """The plan of the samples ``rows`` (indices), in that order."""
        return BatchPlan(self.regions[rows], self.sizes[rows], self.resample, self.flips[rows], self.planned[rows])

    @classmethod
    def whole(cls, sizes: list[tuple[int, int]], out: tuple[int, int], resample: str | None) -> BatchPlan:
        """Each whole image of ``sizes`` resampled to ``out`` (or cut, with no ``resample``), unflipped."""
        n = len(sizes)
        regions = np.zeros((n, 4))
        regions[:, 2:] = sizes
        return cls(regions, np.tile(np.array(out, np.int64), (n, 1)), resample, np.zeros((n, 2), np.int32),
                   np.ones(n, bool))


def record_dependent(op: Any) -> bool:
    """Whether ``op``'s effect on a sample depends on its record: it draws, or reads a ``col(...)`` argument."""
    return op.random or any(isinstance(value, Param) for value in op.params().values())


class _BatchView:
    """The current outputs of a batch as regions of the decoded images (no pixels), with pending flips:
    numpy arrays over the samples, so that a batch's geometry costs a few array operations. Sizes and
    flips stay plain ints while every sample shares them (after a fixed crop, before any flip)."""

    def __init__(self, heights: np.ndarray, widths: np.ndarray, unplanned_on: tuple[type[Exception], ...]) -> None:
        n = len(heights)
        self.unplanned_on = unplanned_on
        self.region = [np.zeros(n), np.zeros(n), heights.astype(np.float64), widths.astype(np.float64)]
        self.height: Any = heights
        self.width: Any = widths
        self.resample: str | None = None
        self.flip: list[Any] = [0, 0]
        self.padded = np.zeros(n, bool)
        """A window reached past the value it cut: its outside is zeros (the CPU kernels' rule)."""
        self.planned = np.ones(n, bool)

    def window(self, y: Any, x: Any, h: Any, w: Any) -> None:
        """Cut the windows at (y, x) of the current outputs (flips apply to the final image)."""
        height, width = self.height, self.width
        self.padded |= np.logical_not(window_inside(y, x, h, w, height, width))
        if isinstance(self.flip[0], np.ndarray):
            x = np.where(self.flip[0], width - x - w, x)
        if isinstance(self.flip[1], np.ndarray):
            y = np.where(self.flip[1], height - y - h, y)
        y0, x0, y1, x1 = self.region
        with np.errstate(divide="ignore", invalid="ignore"):  # empty windows: unplanned samples only
            sy, sx = (y1 - y0) / height, (x1 - x0) / width
        self.region = [y0 + y * sy, x0 + x * sx, y0 + (y + h) * sy, x0 + (x + w) * sx]
        self.height, self.width = h, w

    def resize(self, h: Any, w: Any, interp: str) -> None:
        """Resample to h × w; a second pending resample is not one graph step: no sample is planned."""
        if self.resample is not None:
            self.planned[:] = False
        self.height, self.width = h, w
        self.resample = interp

    def per_row(self, draw: Callable[[int, int, int], Any], columns: int) -> list[np.ndarray]:
        """``draw(i, height, width)`` for each sample still planned, as ``columns`` int64 arrays (0 elsewhere).

        An exception of a type in ``unplanned_on`` leaves its sample unplanned.
        """
        drawn = [(0,) * columns] * len(self.planned)  # Python rows, made into one array at the end
        for i in np.flatnonzero(self.planned).tolist():
            try:
                drawn[i] = draw(i, _at(self.height, i), _at(self.width, i))
            except self.unplanned_on:
                self.planned[i] = False
        return list(np.array(drawn, np.int64).reshape(-1, columns).T)

    def plan(self) -> BatchPlan:
        """The plan of the ops seen so far."""
        n = len(self.planned)
        if self.resample is not None:
            self.planned &= ~self.padded
        sizes = np.empty((n, 2), np.int64)
        sizes[:, 0], sizes[:, 1] = self.height, self.width
        flips = np.zeros((n, 2), np.int32)
        flips[:, 0], flips[:, 1] = self.flip
        return BatchPlan(np.stack(self.region, axis=1), sizes, self.resample, flips, self.planned)


def plan_batch(ops: tuple[Any, ...], heights: np.ndarray, widths: np.ndarray,
               contexts: Sequence[SampleContext] | None = None,
               unplanned_on: tuple[type[Exception], ...] = ()) -> BatchPlan:
    """Reduce the geometric ops ``ops`` on each ``heights[i]`` × ``widths[i]`` image to one :class:`BatchPlan`.

    The arithmetic runs on whole arrays; only what a record decides runs per sample: the
    draws, from ``contexts[i].rng`` with the same functions, in the same order per sample, as
    the CPU kernels, and ``col(...)`` arguments. ``contexts`` may be ``None`` when no op is
    :func:`record_dependent`. A sample is left unplanned — the CPU kernels then run it — when
    the chain needs more than one resample, when a fixed window falls outside the image (the
    kernel reports the row error), or when a window reaching past the image's edge meets a
    resample: the CPU kernels resample the zero-padded window, while a region resize clamps
    at the edge (repeats edge pixels). A padded window with no resample is one ``fn.slice``
    with zero fill, as on the CPU. So is a sample whose context raises one of ``unplanned_on``
    (the executor's row failure, for a bad ``col(...)`` value): the CPU kernels then run it and
    report the failure with the op's own message.
    """
    view = _BatchView(np.asarray(heights, np.int64), np.asarray(widths, np.int64), unplanned_on)

    def args(op: Any, *names: str, minimum: int = 0) -> list[Any]:
        if not any(isinstance(getattr(op, name), Param) for name in names):
            return [getattr(op, name) for name in names]
        assert contexts is not None
        return view.per_row(lambda i, _h, _w: [contexts[i].arg(op, n, minimum=minimum) for n in names], len(names))

    for op in ops:
        if isinstance(op, T.RandomResizedCrop):
            assert contexts is not None
            def crop_window(i: int, h: int, w: int, op: Any = op) -> Any:
                return op.sample_window(contexts[i].rng, h, w)

            view.window(*view.per_row(crop_window, 4))
            view.resize(op.h, op.w, op.interp)
        elif isinstance(op, T.FitToBucket):
            th, tw = args(op, "h", "w", minimum=1)
            nh, nw = resized_hw(op, view.height, view.width, (th, tw))
            view.resize(nh, nw, op.interp)
            view.window(centered_offset(nh, th), centered_offset(nw, tw), th, tw)
        elif op.kind == "resample":
            target = None if isinstance(op, (T.ResizeShort, T.ResizeLong)) else args(op, "h", "w", minimum=1)
            view.resize(*resized_hw(op, view.height, view.width, target), op.interp)
        elif isinstance(op, T.CenterCrop):
            th, tw = args(op, "h", "w", minimum=1)
            view.window(centered_offset(view.height, th), centered_offset(view.width, tw), th, tw)
        elif isinstance(op, T.Crop):
            y, x = args(op, "y", "x")
            th, tw = args(op, "h", "w", minimum=1)
            view.planned &= window_inside(y, x, th, tw, view.height, view.width)
            view.window(y, x, th, tw)
        elif isinstance(op, T.RandomCrop):
            th, tw = args(op, "h", "w", minimum=1)
            view.planned &= (th <= view.height) & (tw <= view.width)
            assert contexts is not None
            def offsets(i: int, h: int, w: int, th: Any = th, tw: Any = tw) -> Any:
                return draw_offset(contexts[i].rng, h, _at(th, i)), draw_offset(contexts[i].rng, w, _at(tw, i))

            y, x = view.per_row(offsets, 2)
            view.window(y, x, th, tw)
        elif op.kind == "flip":
            assert contexts is not None
            def coin_toss(i: int, _h: int, _w: int, op: Any = op) -> Any:
                return [draw_coin(contexts[i].rng, op.prob)]

            (coin,) = view.per_row(coin_toss, 1)
            axis = 0 if isinstance(op, T.HFlip) else 1
            view.flip[axis] = view.flip[axis] ^ coin.astype(np.int32)
        else:
            raise TypeError(f"plan_batch: {op.qualname} is not a geometric op")
    return view.plan()


def _at(value: Any, i: int) -> int:
    """Sample ``i``'s value of a parameter that is one int for the batch or an array of them."""
    return int(value[i]) if isinstance(value, np.ndarray) else value
