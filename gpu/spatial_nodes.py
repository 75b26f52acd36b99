"""Graph nodes that move or replace pixels: affine and perspective warps, random erasing, grid masks, padding.

The host computes every per-sample number with the core's functions — the draws of
:mod:`dataio.ops.draws` and the matrices and rectangles of :mod:`dataio.ops.warps`, the CPU
kernels' own — and feeds them as one float32 vector per sample; the graph only executes.

Warps follow Pillow's convention (continuous coordinates, pixel ``i`` covering ``[i, i + 1)``,
output pixel centres mapped through the inverse matrix) and its border rule (fill outside the
source, the filter window clamped inside it; :func:`pillow_warp`), so they match the CPU
kernels but for float rounding (the matrix reaches DALI in float32): a sample landing on a whole
level can truncate one level apart, and a source point within rounding of the image's edge can
fall on the other side of it (that pixel takes the fill, or the edge pixel).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from dataio.ops import spatial as S
from dataio.ops._base import TensorSpec
from dataio.ops.draws import draw_erasing as _draw_erasing_values
from dataio.ops.draws import draw_grid_mask as _draw_grid_mask_values
from dataio.ops.draws import draw_perspective as _draw_perspective_values
from dataio.ops.draws import draw_random_affine as _draw_random_affine_values
from dataio.ops.geometry import SampleContext
from dataio.ops.warps import affine_matrix, erasing_window, fill_value, grid_mask_grid, perspective_coefficients, \
    perspective_endpoints

if TYPE_CHECKING:
    from dataio.gpu.nodes import NodeInput

_INTERP = {"nearest": "INTERP_NN", "bilinear": "INTERP_LINEAR"}


def _image_axes(spec: TensorSpec) -> list[int]:
    return [0, 1] if spec.layout == "hwc" else [1, 2]


def _fill(op_value: float, spec: TensorSpec) -> float:
    """The fill converted to the image's dtype as ``cast`` does (the CPU kernels' :func:`fill_value`)."""
    return float(fill_value(op_value, np.dtype(spec.dtype)))


def _dtype_known(spec: TensorSpec) -> bool:
    return spec.layout in ("hwc", "chw") and spec.dtype is not None and spec.shape is not None \
        and len(spec.shape) == 3


# -- random erasing -------------------------------------------------------------------------------

def erasing_accepts(op: S.RandomErasing, spec: TensorSpec) -> bool:
    """An ``HWC`` or ``CHW`` image of a known dtype (uint8 before the normalisation, float32 after)."""
    return _dtype_known(spec)


def draw_erasing(op: S.RandomErasing, ctx: SampleContext, hw: tuple[int, int]) -> np.ndarray:
    """``[y, x, h, w]`` of the rectangle (``h = w = 0``: nothing erased)."""
    coin, draws = _draw_erasing_values(ctx.rng)
    box = erasing_window(op, coin, draws, *hw)
    return np.array(box if box is not None else (0, 0, 0, 0), dtype=np.float32)


def random_erasing(node: NodeInput, image: Any, op: S.RandomErasing) -> Any:
    args = node.args
    return node.fn.erase(image, anchor=args[0:2], shape=args[2:4], axes=_image_axes(node.spec),
                         fill_value=_fill(op.value, node.spec))


# -- padding -----------------------------------------------------------------------------------------

def pad_accepts(op: S.Pad, spec: TensorSpec) -> bool:
    """Constant padding (the mirror modes stay on the CPU kernels) of an ``HWC``/``CHW`` image."""
    return op.mode == "constant" and _dtype_known(spec)


def draw_pad(op: S.Pad, ctx: SampleContext, hw: tuple[int, int]) -> np.ndarray:
    """``[−top, −left, height, width]`` of the padded window (``col(...)`` pads resolved from the record)."""
    top, bottom, left, right = (ctx.arg(op, side) for side in ("top", "bottom", "left", "right"))
    return np.array([-top, -left, hw[0] + top + bottom, hw[1] + left + right], dtype=np.float32)


def padded_hw(op: S.Pad, hw: tuple[int, int], args: np.ndarray) -> tuple[int, int]:
    return int(args[2]), int(args[3])


def pad(node: NodeInput, image: Any, op: S.Pad) -> Any:
    fn, types = node.fn, node.types
    window = fn.cast(node.args, dtype=types.INT32)
    return fn.slice(image, start=window[0:2], shape=window[2:4], axes=_image_axes(node.spec),
                    out_of_bounds_policy="pad", fill_values=_fill(op.value, node.spec))


# -- grid mask ----------------------------------------------------------------------------------------

_NO_GRID = np.array([1, 0, 0, 0, 0], dtype=np.float32)  # ratio 0: no square


def draw_grid(op: S.GridMask, ctx: SampleContext, hw: tuple[int, int]) -> np.ndarray:
    """``[tile, ratio, angle, shift_x, shift_y]`` for DALI's ``grid_mask`` that zeroes the CPU kernel's squares.

    DALI zeroes pixel ``(x, y)`` where ``frac(fx) < ratio`` and ``frac(fy) < ratio`` for
    ``fx = (x·cos θ − y·sin θ − shift_x) / tile``, ``fy = (x·sin θ + y·cos θ − shift_y) / tile``.
    The CPU kernel zeroes it where ``(floor(u) − ox) mod d < side`` (likewise for ``v``, ``oy``),
    ``(u, v)`` the pixel turned by ``angle`` about the image centre — the same test with
    ``θ = −angle``, ``tile = d``, ``ratio = side / d`` and the shifts below. Unrotated, ``u`` is
    a whole number and the shifts move it half a pixel in, so float rounding cannot flip an
    edge; rotated, edge pixels follow float rounding, as on the CPU.
    """
    grid = grid_mask_grid(op, _draw_grid_mask_values(ctx.rng))
    if grid is None:
        return _NO_GRID
    d, oy, ox, angle, side = grid
    h, w = hw
    cx, cy = (w - 1) / 2, (h - 1) / 2
    cos, sin = math.cos(angle), math.sin(angle)
    half = 0.5 if angle == 0 else 0.0
    shift_x = ox - (cx - cos * cx - sin * cy) - half
    shift_y = oy - (cy + sin * cx - cos * cy) - half
    return np.array([d, side / d, -angle, shift_x, shift_y], dtype=np.float32)


def grid_mask(node: NodeInput, image: Any, op: S.GridMask) -> Any:
    args = node.args
    return node.fn.grid_mask(image, tile=node.fn.cast(args[0], dtype=node.types.INT32), ratio=args[1],
                             angle=args[2], shift_x=args[3], shift_y=args[4])


# -- warps -------------------------------------------------------------------------------------------

def warp_accepts(op: Any, spec: TensorSpec) -> bool:
    """``HWC uint8`` with nearest or bilinear sampling (DALI's warp has no bicubic)."""
    return spec.layout == "hwc" and spec.dtype == "uint8" and op.interp in _INTERP


def draw_affine(op: S.Affine, ctx: SampleContext, hw: tuple[int, int]) -> np.ndarray:
    """The fixed affine's inverse matrix for this size (no draws)."""
    return np.array(affine_matrix(*hw, op.angle_deg, op.tx, op.ty, op.scale, op.shear_deg), dtype=np.float32)


def draw_random_affine(op: S.RandomAffine, ctx: SampleContext, hw: tuple[int, int]) -> np.ndarray:
    """The kernel's five draws, as the inverse matrix for this size."""
    drawn = _draw_random_affine_values(ctx.rng, op)
    tx, ty = drawn.translation(op, *hw)
    return np.array(affine_matrix(*hw, drawn.angle, tx, ty, drawn.scale, drawn.shear), dtype=np.float32)


def affine(node: NodeInput, image: Any, op: S.Affine | S.RandomAffine) -> Any:
    return pillow_affine(node, image, node.args, op.interp, float(op.fill))


def pillow_affine(node: NodeInput, image: Any, coefficients: Any, interp: str, fill: float) -> Any:
    """``fn.warp_affine`` with Pillow's six ``AFFINE`` coefficients (output → source, a per-sample vector),
    same size (see :func:`pillow_warp`)."""
    fn, types = node.fn, node.types
    matrix = fn.reshape(coefficients, shape=[2, 3])

    def warp(pixels: Any, interp: str, fill: float | None) -> Any:
        border = {} if fill is None else {"fill_value": fill}
        return fn.warp_affine(pixels, matrix=matrix, inverse_map=True, interp_type=getattr(types, _INTERP[interp]),
                              **border)

    return pillow_warp(node, image, interp, fill, warp)


def pillow_warp(node: NodeInput, image: Any, interp: str, fill: float, warp: Any) -> Any:
    """Pillow's ``Image.transform`` semantics from two DALI warps.

    Pillow fills an output pixel whose source point falls outside the image and otherwise
    samples with the filter window clamped to the edge pixels, truncating to uint8. So: the
    image warped with clamped borders in float (then floored), where a nearest-neighbour warp
    of an all-ones plane with a zero fill says the source point is inside; ``fill`` elsewhere.
    """
    fn, types, math = node.fn, node.types, node.math
    ones = fn.cast(image[:, :, 0:1] * 0 + 1, dtype=types.UINT8)
    inside = warp(ones, "nearest", 0.0)
    pixels = math.floor(warp(fn.cast(image, dtype=types.FLOAT), interp, None))
    return fn.cast(math.clamp(inside * pixels + (1 - inside) * fill, 0, 255), dtype=types.UINT8)


_IDENTITY = np.array([1, 0, 0, 0, 1, 0, 0, 0, 1], dtype=np.float32)


def draw_perspective(op: S.RandomPerspective, ctx: SampleContext, hw: tuple[int, int]) -> np.ndarray:
    """The kernel's nine draws, as the 3 × 3 output → source homography (identity when the coin does not fire)."""
    draws = _draw_perspective_values(ctx.rng)
    if not draws[0] < op.prob:
        return _IDENTITY
    h, w = hw
    end = perspective_endpoints(draws[1:], h, w, op.distortion)
    start = np.array([[0, 0], [w - 1, 0], [w - 1, h - 1], [0, h - 1]])
    return np.array([*perspective_coefficients(start, end), 1.0], dtype=np.float32)


def perspective(node: NodeInput, image: Any, op: S.RandomPerspective) -> Any:
    """``fn.experimental.warp_perspective`` with the host's output → source homography (see :func:`pillow_warp`)."""
    fn, types = node.fn, node.types
    matrix = fn.reshape(node.args, shape=[3, 3])

    def warp(pixels: Any, interp: str, fill: float | None) -> Any:
        border = {"border_mode": "replicate"} if fill is None else {"border_mode": "constant", "fill_value": [fill]}
        return fn.experimental.warp_perspective(pixels, matrix=matrix, pixel_origin="corner",
                                                interp_type=getattr(types, _INTERP[interp]), **border)

    return pillow_warp(node, image, "bilinear", float(op.fill), warp)
