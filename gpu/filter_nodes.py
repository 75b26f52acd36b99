"""Graph nodes that filter: Gaussian blur and unsharp masking on DALI's ``fn.gaussian_blur``, and a 3 × 3
median as a min/max network (DALI's own median blur is GPU-only, so CI could not check it).

DALI builds the same normalised Gaussian taps as the CPU kernels (``exp(−x²/2σ²)`` over the
window) and mirrors borders without repeating the edge pixel (reflect-101, numpy's
``"reflect"``); it rounds to nearest where the CPU kernels use ``numpy.rint`` (ties to even),
so a value can differ by one level on an exact tie.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from dataio.ops import photometric as P
from dataio.ops.draws import draw_uniform
from dataio.ops.geometry import SampleContext

if TYPE_CHECKING:
    from dataio.gpu.nodes import NodeInput


def draw_sigma(op: P.GaussianBlur, ctx: SampleContext, hw: tuple[int, int]) -> np.ndarray:
    """The blur's one draw: sigma ~ U[sigma_lo, sigma_hi]."""
    return np.array([draw_uniform(ctx.rng, op.sigma_lo, op.sigma_hi)], dtype=np.float32)


def gaussian_blur(node: NodeInput, image: Any, op: P.GaussianBlur) -> Any:
    return node.fn.gaussian_blur(image, sigma=node.args[0:1], window_size=op.kernel_size)


def sharpen(node: NodeInput, image: Any, op: P.Sharpen) -> Any:
    """``x + amount · (x − blur(x))`` in float32, rounded and clipped (the CPU kernel's formula)."""
    fn, types = node.fn, node.types
    size = 2 * math.ceil(3 * op.sigma) + 1
    blurred = fn.gaussian_blur(image, sigma=op.sigma, window_size=size, dtype=types.FLOAT)
    x = fn.cast(image, dtype=types.FLOAT)
    return fn.cast(node.math.clamp(x + op.amount * (x - blurred), 0, 255), dtype=types.UINT8)


def median_accepts(op: P.MedianBlur, spec: Any) -> bool:
    """A 3 × 3 window (radius 1) on ``HWC uint8``; wider windows stay on the CPU kernel (the network grows)."""
    return op.radius == 1 and spec.layout == "hwc" and spec.dtype == "uint8"


_MEDIAN_OF_9 = ((1, 2), (4, 5), (7, 8), (0, 1), (3, 4), (6, 7), (1, 2), (4, 5), (7, 8), (0, 3), (5, 8), (4, 7),
                (3, 6), (1, 4), (2, 5), (4, 7), (4, 2), (6, 4), (4, 2))
"""A 19-comparator selection network whose position 4 ends up holding the median of 9 values."""


def median_blur(node: NodeInput, image: Any, op: P.MedianBlur) -> Any:
    """Per-channel median of each 3 × 3 window, borders edge-replicated (the CPU kernel's), as a min/max network
    over the nine shifted views of the edge-padded image: exact, and the same operators on CPU and GPU."""
    fn, math = node.fn, node.math
    rows = fn.cat(image[0:1], image, image[-1:], axis=0)  # edge rows repeated
    padded = fn.cat(rows[:, 0:1], rows, rows[:, -1:], axis=1)  # then edge columns
    ends = {0: -2, 1: -1, 2: None}
    values = [padded[dy:ends[dy], dx:ends[dx]] for dy in range(3) for dx in range(3)]
    for a, b in _MEDIAN_OF_9:
        values[a], values[b] = math.min(values[a], values[b]), math.max(values[a], values[b])
    return values[4]
