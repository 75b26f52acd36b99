"""Kernels of the spatial ops (docs/api.md §3.2): numpy padding and masks, Pillow warps.

Warps go through Pillow's ``Image.transform`` (``AFFINE`` / ``PERSPECTIVE``), which
releases the GIL; padding, erasing and grid masks are numpy, vectorised over pixels
(loops here run over channels, corner points or erasing attempts, never over pixels).
Every kernel states its tolerance against an independent reference in its docstring;
``tests/test_spatial.py`` checks each one against a numpy oracle. Random kernels draw a
fixed number of values from ``ctx.rng`` before looking at the pixels, whether or not they
fire (docs/api.md §4.7).

The affine matrix is torchvision's ``_get_inverse_affine_matrix`` (:func:`inverse_affine`),
shared by ``affine`` and ``random_affine``, with the centre at ``(W/2, H/2)`` in Pillow's
continuous coordinates (pixel ``i`` covers ``[i, i + 1)``), which is torchvision's PIL path.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from PIL import Image

from dataio.ops import spatial as S
from dataio.ops._base import TensorSpec, image_axes
from dataio.runtime.chain import ChainContext
from dataio.runtime.rows import RowFailure, describe_value

from dataio.cpu_fallback.lazy_image import LazyImage
from dataio.cpu_fallback.pixels import hwc_u8

_RESAMPLE = {"nearest": Image.Resampling.NEAREST, "bilinear": Image.Resampling.BILINEAR,
             "bicubic": Image.Resampling.BICUBIC}
ERASING_ATTEMPTS = 10
"""torchvision ``RandomErasing`` tries this many rectangles before giving up."""


def _array(op: Any, value: Any, spec: TensorSpec) -> np.ndarray:
    """``value`` as a numpy array with image axes for ``spec``'s layout (a row error otherwise)."""
    array = value.materialise() if isinstance(value, LazyImage) else value
    ha, wa = image_axes(spec)
    if not isinstance(array, np.ndarray) or array.ndim <= max(ha, wa):
        want = f"a {spec.layout.upper()} array" if spec.layout else "an array of rank >= 2"
        raise RowFailure("transform", op.qualname, f"expects {want}; got {describe_value(array)}")
    return array


def fill_value(value: float, dtype: np.dtype) -> Any:
    """``value`` in ``dtype``, as ``cast`` converts: integers truncate toward zero and saturate."""
    if dtype.kind == "b":
        return np.bool_(value != 0)
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        return dtype.type(min(max(math.trunc(value), int(info.min)), int(info.max)))
    return dtype.type(value)


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
    return np.pad(array, widths, mode=op.mode)


def inverse_affine(center: tuple[float, float], angle: float, translate: tuple[float, float], scale: float,
                   shear: tuple[float, float]) -> list[float]:
    """torchvision's inverse affine matrix (output → source), the ``data`` of ``Image.transform(AFFINE)``.

    The forward map is ``p' = C + T + scale · R(angle) · SHy(shear[1]) · SHx(shear[0]) · (p − C)``
    with ``R(a) = [[cos a, −sin a], [sin a, cos a]]`` (clockwise on screen, y pointing down)
    and ``SHx(s) = [[1, −tan s], [0, 1]]``.

    Args:
        center: ``(cx, cy)`` in continuous pixel coordinates.
        angle: rotation in degrees, clockwise (torchvision ``F.affine``'s convention).
        translate: ``(tx, ty)`` in pixels.
        scale: zoom factor (> 0).
        shear: ``(sx, sy)`` in degrees.

    Returns:
        The six coefficients ``a, b, c, d, e, f``: source ``(a·x + b·y + c, d·x + e·y + f)``.
    """
    rot, sx, sy = math.radians(angle), math.radians(shear[0]), math.radians(shear[1])
    cx, cy = center
    tx, ty = translate
    a = math.cos(rot - sy) / math.cos(sy)
    b = -math.cos(rot - sy) * math.tan(sx) / math.cos(sy) - math.sin(rot)
    c = math.sin(rot - sy) / math.cos(sy)
    d = -math.sin(rot - sy) * math.tan(sx) / math.cos(sy) + math.cos(rot)
    matrix = [x / scale for x in (d, -b, 0.0, -c, a, 0.0)]
    matrix[2] += matrix[0] * (-cx - tx) + matrix[1] * (-cy - ty) + cx
    matrix[5] += matrix[3] * (-cx - tx) + matrix[4] * (-cy - ty) + cy
    return matrix


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
    matrix = inverse_affine((w * 0.5, h * 0.5), -angle_ccw, (tx, ty), scale, (shear, 0.0))
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
    rng = ctx.rng
    angle = rng.uniform(-op.degrees, op.degrees)
    u_tx, u_ty = rng.uniform(-1.0, 1.0), rng.uniform(-1.0, 1.0)
    scale = rng.uniform(*op.scale_range)
    shear = rng.uniform(-op.shear_deg, op.shear_deg)
    pixels = hwc_u8(value, op.qualname)
    h, w = pixels.shape[:2]
    tx, ty = round(u_tx * op.translate[0] * w), round(u_ty * op.translate[1] * h)
    return _affine(pixels, angle, tx, ty, scale, shear, op.interp, op.fill)


def perspective_coefficients(start: np.ndarray, end: np.ndarray) -> list[float]:
    """The 8 coefficients that map output points ``end`` back to source points ``start``.

    Pillow's ``PERSPECTIVE`` data ``a..h``: output ``(x, y)`` samples the source at
    ``((a·x + b·y + c) / (g·x + h·y + 1), (d·x + e·y + f) / (g·x + h·y + 1))``; solved by least
    squares from the four point pairs, as torchvision's ``_get_perspective_coeffs`` does.
    """
    x, y = end[:, 0].astype(np.float64), end[:, 1].astype(np.float64)
    u, v = start[:, 0].astype(np.float64), start[:, 1].astype(np.float64)
    one, zero = np.ones_like(x), np.zeros_like(x)
    rows_u = np.stack([x, y, one, zero, zero, zero, -u * x, -u * y], axis=1)
    rows_v = np.stack([zero, zero, zero, x, y, one, -v * x, -v * y], axis=1)
    a = np.stack([rows_u, rows_v], axis=1).reshape(-1, 8)
    b = np.stack([u, v], axis=1).reshape(-1)
    return np.linalg.lstsq(a, b, rcond=None)[0].tolist()


def perspective_endpoints(draws: np.ndarray, height: int, width: int, distortion: float) -> np.ndarray:
    """torchvision ``RandomPerspective.get_params`` from eight uniforms in [0, 1): ``[4, 2]`` (x, y) corners.

    Each corner moves inwards by a uniform integer in ``[0, int(distortion · (size // 2))]``;
    the right/bottom corners start at ``size − 1``. Order: top-left, top-right, bottom-right,
    bottom-left.
    """
    dw, dh = int(distortion * (width // 2)), int(distortion * (height // 2))
    spans = np.array([dw, dh] * 4)
    inset = np.minimum(np.floor(draws * (spans + 1)), spans)
    inset = inset.astype(np.int64).reshape(4, 2)
    far = np.array([width - 1, height - 1])
    sign = np.array([[1, 1], [-1, 1], [-1, -1], [1, -1]])  # +: from 0 inwards, −: from size − 1 inwards
    origin = np.where(sign > 0, 0, far)
    return origin + sign * inset


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
    draws = ctx.rng.random(9)
    pixels = hwc_u8(value, op.qualname)
    if not draws[0] < op.prob:
        return pixels
    h, w = pixels.shape[:2]
    end = perspective_endpoints(draws[1:], h, w, op.distortion)
    start = np.array([[0, 0], [w - 1, 0], [w - 1, h - 1], [0, h - 1]])
    coefficients = perspective_coefficients(start, end)
    return _warp(pixels, Image.Transform.PERSPECTIVE, coefficients, Image.Resampling.BILINEAR, op.fill)


def erasing_box(draws: np.ndarray, height: int, width: int, scale: tuple[float, float],
                ratio: tuple[float, float]) -> tuple[int, int, int, int] | None:
    """torchvision ``RandomErasing.get_params`` from ``[ERASING_ATTEMPTS, 4]`` uniforms: ``(y, x, h, w)``.

    Attempt ``i`` takes area ``H·W·U(scale)`` and aspect ``h/w = exp(U(log ratio))``,
    ``h = round(√(area·aspect))``, ``w = round(√(area/aspect))``; the first attempt with
    ``h < H`` and ``w < W`` wins, placed uniformly. ``None`` when no attempt fits.
    """
    area = height * width * (scale[0] + (scale[1] - scale[0]) * draws[:, 0])
    log_lo, log_hi = math.log(ratio[0]), math.log(ratio[1])
    aspect = np.exp(log_lo + (log_hi - log_lo) * draws[:, 1])
    hs = np.rint(np.sqrt(area * aspect)).astype(np.int64)
    ws = np.rint(np.sqrt(area / aspect)).astype(np.int64)
    fits = np.flatnonzero((hs < height) & (ws < width))
    if not fits.size:
        return None
    i = fits[0]
    h, w = int(hs[i]), int(ws[i])
    y = min(int(draws[i, 2] * (height - h + 1)), height - h)
    x = min(int(draws[i, 3] * (width - w + 1)), width - w)
    return y, x, h, w


def random_erasing_kernel(op: S.RandomErasing, value: Any, spec: TensorSpec, ctx: ChainContext,
                          out: Any) -> np.ndarray:
    """torchvision ``RandomErasing``: one rectangle set to ``value`` on the image axes, any layout and dtype.

    Draws 1 + 4 · 10 uniforms, always (the coin, then area, aspect, y and x for each of the
    ten attempts). ``value`` converts to the dtype as ``cast`` does (saturating integers).

    Tolerance: exact (one numpy slice assignment).
    """
    rng = ctx.rng
    coin = rng.random()
    draws = rng.random((ERASING_ATTEMPTS, 4))
    array = _array(op, value, spec)
    if not coin < op.prob:
        return array
    ha, wa = image_axes(spec)
    box = erasing_box(draws, array.shape[ha], array.shape[wa], op.scale, op.ratio)
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
    u0, u1, u2, u3, u4 = ctx.rng.random(5)
    pixels = hwc_u8(value, op.qualname)
    if not u0 < op.prob:
        return pixels
    d = op.d_min + min(int(u1 * (op.d_max - op.d_min + 1)), op.d_max - op.d_min)
    oy, ox = min(int(u2 * d), d - 1), min(int(u3 * d), d - 1)
    angle = math.radians(op.rotate_deg * (2.0 * u4 - 1.0))
    h, w = pixels.shape[:2]
    side = max(1, round(op.ratio * d))
    yy, xx = np.ogrid[0:h, 0:w]
    cy, cx = (h - 1) / 2, (w - 1) / 2
    dy, dx = yy - cy, xx - cx
    u = math.cos(angle) * dx + math.sin(angle) * dy + cx
    v = -math.sin(angle) * dx + math.cos(angle) * dy + cy
    hole = (np.mod(np.floor(u) - ox, d) < side) & (np.mod(np.floor(v) - oy, d) < side)
    return np.where(hole[:, :, None], np.uint8(0), pixels)
