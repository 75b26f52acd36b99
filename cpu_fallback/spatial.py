"""Kernels of the spatial ops (docs/api.md §3.2): numpy padding and masks, Pillow warps.

Warps go through Pillow's ``Image.transform`` (``AFFINE`` / ``PERSPECTIVE``), which
releases the GIL; padding, erasing and grid masks are numpy, vectorised over pixels
(loops here run over channels, corner points or erasing attempts, never over pixels).
Every kernel states its tolerance against an independent reference in its docstring;
``tests/test_spatial.py`` checks each one against a numpy oracle. Random kernels draw a
fixed number of values from ``ctx.rng`` before looking at the pixels, whether or not they
fire (docs/api.md §4.7).

Draws come from :mod:`dataio.ops.draws` and the matrices and erasing windows from
:mod:`dataio.ops.warps` (torchvision's ``_get_inverse_affine_matrix`` about the centre
``(W/2, H/2)`` in Pillow's continuous coordinates), which the GPU executor's nodes use too.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from PIL import Image

from dataio.ops import spatial as S
from dataio.ops.draws import draw_erasing, draw_grid_mask, draw_perspective, draw_random_affine
from dataio.ops.warps import affine_matrix, erasing_window, fill_value, grid_mask_grid, perspective_coefficients, \
    perspective_endpoints
from dataio.ops._base import TensorSpec, image_axes
from dataio.runtime.chain import ChainContext
from dataio.runtime.rows import RowFailure, describe_value

from dataio.cpu_fallback.lazy_image import LazyImage
from dataio.cpu_fallback.pixels import hwc_u8

_RESAMPLE = {"nearest": Image.Resampling.NEAREST, "bilinear": Image.Resampling.BILINEAR,
             "bicubic": Image.Resampling.BICUBIC}
def _array(op: Any, value: Any, spec: TensorSpec) -> np.ndarray:
    """``value`` as a numpy array with image axes for ``spec``'s layout (a row error otherwise)."""
    array = value.materialise() if isinstance(value, LazyImage) else value
    ha, wa = image_axes(spec)
    if not isinstance(array, np.ndarray) or array.ndim <= max(ha, wa):
        want = f"a {spec.layout.upper()} array" if spec.layout else "an array of rank >= 2"
        raise RowFailure("transform", op.qualname, f"expects {want}; got {describe_value(array)}")
    return array


def pad_kernel(op: S.Pad, value: Any, spec: TensorSpec, ctx: ChainContext, out: Any) -> np.ndarray:
    """``numpy.pad`` on the image axes of any layout and dtype.

    ``constant`` fills with ``value`` converted to the dtype (saturating, like ``cast``);
    ``reflect`` needs each padded axis to be longer than its pads (else a row error).

    Tolerance: exact (bit-identical to ``numpy.pad``).
    """
    array = _array(op, value, spec)
    ha, wa = image_axes(spec)
    widths = [(0, 0)] * array.ndim
    widths[ha] = (ctx.arg(op, "top"), ctx.arg(op, "bottom"))
    widths[wa] = (ctx.arg(op, "left"), ctx.arg(op, "right"))
    if op.mode == "constant":
        return np.pad(array, widths, mode="constant", constant_values=fill_value(op.value, array.dtype))
    if op.mode == "reflect" and any(max(widths[a]) >= array.shape[a] for a in (ha, wa)):
        raise RowFailure("transform", op.qualname,
                         f"reflect padding top/bottom={widths[ha]}, left/right={widths[wa]} needs each side "
                         f"longer than its pads; got {describe_value(array)}")
    return np.pad(array, widths, mode=op.mode)  # type: ignore[call-overload] # numpy's stub: literal modes only


def _warp(pixels: np.ndarray, method: Image.Transform, data: list[float], resample: int, fill: int) -> np.ndarray:
    """``Image.transform`` to the same size; channels other than 1 or 3 are warped plane by plane.

    Pillow premultiplies alpha when it resamples LA/RGBA images; warping planes keeps every
    channel an independent value, as for any other layout.
    """
    h, w, channels = pixels.shape
    if channels == 3:
        image = Image.fromarray(pixels)
        return np.asarray(image.transform((w, h), method, data, resample, fillcolor=(fill,) * 3))
    warped = np.empty_like(pixels)
    for channel in range(channels):
        plane = Image.fromarray(np.ascontiguousarray(pixels[:, :, channel]))
        warped[:, :, channel] = np.asarray(plane.transform((w, h), method, data, resample, fillcolor=fill))
    return warped


def _affine(pixels: np.ndarray, angle_ccw: float, tx: float, ty: float, scale: float, shear: float,
            interp: str, fill: int) -> np.ndarray:
    """The one affine warp of ``affine`` and ``random_affine`` (counter-clockwise angle)."""
    h, w = pixels.shape[:2]
    matrix = affine_matrix(h, w, angle_ccw, tx, ty, scale, shear)
    return _warp(pixels, Image.Transform.AFFINE, matrix, _RESAMPLE[interp], fill)


def affine_kernel(op: S.Affine, value: Any, spec: TensorSpec, ctx: ChainContext, out: Any) -> np.ndarray:
    """The fixed affine warp about the image centre, same size (Pillow ``Image.transform(AFFINE)``).

    Tolerance: exact where the inverse map hits pixel centres with ``nearest`` (whole-pixel
    translations; 90° rotations of a square image, counter-clockwise like ``numpy.rot90``);
    otherwise the source position recovered from a coordinate-encoded image matches the numpy
    reference per pixel within 0.15 px for ``bilinear`` (Pillow truncates to uint8) and 0.3 px
    for ``bicubic``, away from the border, where Pillow clamps the window to the edge pixel.
    """
    pixels = hwc_u8(value, op.qualname)
    return _affine(pixels, op.angle_deg, op.tx, op.ty, op.scale, op.shear_deg, op.interp, op.fill)


def random_affine_kernel(op: S.RandomAffine, value: Any, spec: TensorSpec, ctx: ChainContext,
                         out: Any) -> np.ndarray:
    """torchvision ``RandomAffine``; five draws, always, in this order.

    angle ~ U(−degrees, degrees); tx = round(U(−fx·W, fx·W)), ty = round(U(−fy·H, fy·H));
    scale ~ U(scale_range); horizontal shear ~ U(−shear_deg, shear_deg). Then as ``affine``.

    Tolerance: as ``affine`` for the drawn parameters (exact for a whole-pixel translation
    with ``nearest``).
    """
    drawn = draw_random_affine(ctx.rng, op)
    pixels = hwc_u8(value, op.qualname)
    tx, ty = drawn.translation(op, *pixels.shape[:2])
    return _affine(pixels, drawn.angle, tx, ty, drawn.scale, drawn.shear, op.interp, op.fill)


def random_perspective_kernel(op: S.RandomPerspective, value: Any, spec: TensorSpec, ctx: ChainContext,
                              out: Any) -> np.ndarray:
    """torchvision ``RandomPerspective`` (bilinear, Pillow ``Image.transform(PERSPECTIVE)``).

    Draws nine uniforms, always: the coin, then the eight corner insets. Source corners
    ``(0, 0), (W−1, 0), (W−1, H−1), (0, H−1)`` land on the drawn corners, so the picture
    shrinks inwards and the uncovered border takes ``fill``.

    Tolerance: the source position recovered from a coordinate-encoded image follows the
    homography through the drawn corners within 0.75 px (Pillow's bilinear weights and
    its pixel-centre convention for perspective data).
    """
    draws = draw_perspective(ctx.rng)
    pixels = hwc_u8(value, op.qualname)
    if not draws[0] < op.prob:
        return pixels
    h, w = pixels.shape[:2]
    end = perspective_endpoints(draws[1:], h, w, op.distortion)
    start = np.array([[0, 0], [w - 1, 0], [w - 1, h - 1], [0, h - 1]])
    coefficients = perspective_coefficients(start, end)
    return _warp(pixels, Image.Transform.PERSPECTIVE, coefficients, Image.Resampling.BILINEAR, op.fill)


def random_erasing_kernel(op: S.RandomErasing, value: Any, spec: TensorSpec, ctx: ChainContext,
                          out: Any) -> np.ndarray:
    """torchvision ``RandomErasing``: one rectangle set to ``value`` on the image axes, any layout and dtype.

    Draws 1 + 4 · 10 uniforms, always (the coin, then area, aspect, y and x for each of the
    ten attempts). ``value`` converts to the dtype as ``cast`` does (saturating integers).

    Tolerance: exact (one numpy slice assignment).
    """
    coin, draws = draw_erasing(ctx.rng)
    array = _array(op, value, spec)
    ha, wa = image_axes(spec)
    box = erasing_window(op, coin, draws, array.shape[ha], array.shape[wa])
    if box is None:
        return array
    y, x, h, w = box
    erased = array.copy()
    index = [slice(None)] * array.ndim
    index[ha], index[wa] = slice(y, y + h), slice(x, x + w)
    erased[tuple(index)] = fill_value(op.value, array.dtype)
    return erased


def grid_mask_kernel(op: S.GridMask, value: Any, spec: TensorSpec, ctx: ChainContext, out: Any) -> np.ndarray:
    """GridMask: zero the squares of a (possibly rotated) grid; five uniforms, always.

    Draws: the coin; the period ``d`` (uniform integer in ``[d_min, d_max]``); the offsets
    ``oy, ox`` (uniform integers in ``[0, d)``); the angle ~ U(−rotate_deg, rotate_deg).
    Pixel ``(y, x)`` is zeroed when its position ``(u, v)``, rotated about the image centre,
    has ``(floor(u) − ox) mod d < s`` and ``(floor(v) − oy) mod d < s``, ``s = max(1, round(ratio · d))``.

    Tolerance: exact without rotation (an axis-aligned grid of ``s`` × ``s`` squares);
    rotated, pixels on square edges follow floating-point rounding of the rotation.
    """
    grid = grid_mask_grid(op, draw_grid_mask(ctx.rng))
    pixels = hwc_u8(value, op.qualname)
    if grid is None:
        return pixels
    d, oy, ox, angle, side = grid
    h, w = pixels.shape[:2]
    yy, xx = np.ogrid[0:h, 0:w]
    cy, cx = (h - 1) / 2, (w - 1) / 2
    dy, dx = yy - cy, xx - cx
    u = math.cos(angle) * dx + math.sin(angle) * dy + cx
    v = -math.sin(angle) * dx + math.cos(angle) * dy + cy
    hole = (np.mod(np.floor(u) - ox, d) < side) & (np.mod(np.floor(v) - oy, d) < side)
    return np.where(hole[:, :, None], np.uint8(0), pixels)
