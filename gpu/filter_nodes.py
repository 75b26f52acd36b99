"""Graph nodes that convolve: Gaussian blur and unsharp masking, on DALI's ``fn.gaussian_blur``.

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
