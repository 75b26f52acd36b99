"""Spatial parameter arithmetic, shared by every executor: affine and perspective matrices, erasing windows.

Pure functions of the drawn values and the image size (no pixels): the CPU kernels hand
their results to Pillow or numpy, the GPU executor feeds them to DALI's warps and erase
as per-sample arguments — so both executors warp and erase with the same numbers.
Coordinates are continuous pixel coordinates (pixel ``i`` covers ``[i, i + 1)``), Pillow's
and torchvision's PIL path's convention; points are ``(x, y)`` as in those libraries.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np


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


def affine_matrix(height: int, width: int, angle_ccw: float, tx: float, ty: float, scale: float,
                  shear: float) -> list[float]:
    """The inverse map (output → source) of ``affine`` and ``random_affine``: about the image centre,
    counter-clockwise ``angle_ccw`` degrees, translation ``(tx, ty)``, zoom, horizontal shear (degrees)."""
    return inverse_affine((width * 0.5, height * 0.5), -angle_ccw, (tx, ty), scale, (shear, 0.0))


def rotation_matrix(height: int, width: int, angle_deg: float) -> list[float]:
    """Pillow's ``Image.rotate(angle_deg)`` inverse map (same size, about the centre): the ``AFFINE`` data it
    hands to ``Image.transform``, with its rounding of the sines to 15 digits.

    (Pillow takes exact transposes for 0, 180 and, on squares, 90 and 270 degrees; with those
    rounded sines the matrix samples the very same pixels.)
    """
    angle = -math.radians(angle_deg % 360.0)
    cos, sin = round(math.cos(angle), 15), round(math.sin(angle), 15)
    cx, cy = width / 2, height / 2
    return [cos, sin, cos * -cx + sin * -cy + cx, -sin, cos, -sin * -cx + cos * -cy + cy]


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


def erasing_window(op: Any, coin: float, draws: np.ndarray, height: int,
                   width: int) -> tuple[int, int, int, int] | None:
    """``random_erasing``'s rectangle ``(y, x, h, w)`` from its draws, or ``None`` (the coin did not fire,
    or no attempt fits)."""
    if not coin < op.prob:
        return None
    return erasing_box(draws, height, width, op.scale, op.ratio)


def fill_value(value: float, dtype: np.dtype) -> Any:
    """``value`` in ``dtype``, as ``cast`` converts: integers truncate toward zero and saturate."""
    if dtype.kind == "b":
        return np.bool_(value != 0)
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        return dtype.type(min(max(math.trunc(value), int(info.min)), int(info.max)))
    return dtype.type(value)


def grid_mask_grid(op: Any, draws: np.ndarray) -> tuple[int, int, int, float, int] | None:
    """``grid_mask``'s grid from its five uniforms: ``(d, oy, ox, angle_rad, side)``, or ``None`` (no fire).

    The period ``d`` is a uniform integer in ``[d_min, d_max]``, the offsets ``oy, ox`` uniform
    integers in ``[0, d)``, the angle uniform in ``±rotate_deg``; squares are
    ``side = max(1, round(ratio · d))`` pixels wide.
    """
    u0, u1, u2, u3, u4 = (float(v) for v in draws)
    if not u0 < op.prob:
        return None
    d = op.d_min + min(int(u1 * (op.d_max - op.d_min + 1)), op.d_max - op.d_min)
    oy, ox = min(int(u2 * d), d - 1), min(int(u3 * d), d - 1)
    return d, oy, ox, math.radians(op.rotate_deg * (2.0 * u4 - 1.0)), max(1, round(op.ratio * d))
