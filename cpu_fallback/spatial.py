"""Kernels of the spatial ops: numpy padding and masks, Pillow warps (``Image.transform``).

Tolerances (tested): pad, translation by whole pixels, 90° rotation of a square image
(nearest), erasing and grid masks are exact; other warps follow Pillow's resampling.
The affine matrix is torchvision's ``_get_inverse_affine_matrix`` with the centre at
``(W/2, H/2)``; ``angle_deg`` is counter-clockwise.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from PIL import Image

from dataio.cpu_fallback.lazy_image import LazyImage
from dataio.cpu_fallback.pixels import hwc_u8
from dataio.executors import Kernel
from dataio.ops import spatial as S
from dataio.ops._base import TensorSpec, image_axes
from dataio.runtime.chain import ChainContext
from dataio.runtime.rows import RowFailure

_RESAMPLE = {"nearest": Image.Resampling.NEAREST, "bilinear": Image.Resampling.BILINEAR,
             "bicubic": Image.Resampling.BICUBIC}


def _array(op: Any, value: Any) -> np.ndarray:
    array = value.materialise() if isinstance(value, LazyImage) else value
    if not isinstance(array, np.ndarray) or array.ndim < 2:
        raise RowFailure("transform", op.qualname, f"expects an array of rank >= 2; got {type(array).__name__}")
    return array


def pad_kernel(op: S.Pad, value: Any, spec: TensorSpec, ctx: ChainContext, out: Any) -> np.ndarray:
    """``numpy.pad`` on the image axes of any layout."""
    array = _array(op, value)
    ha, wa = image_axes(spec)
    widths = [(0, 0)] * array.ndim
    widths[ha] = (ctx.arg(op, "top"), ctx.arg(op, "bottom"))
    widths[wa] = (ctx.arg(op, "left"), ctx.arg(op, "right"))
    if op.mode == "constant":
        return np.pad(array, widths, mode="constant", constant_values=np.asarray(op.value).astype(array.dtype))
    if op.mode == "reflect" and any(max(widths[a]) >= array.shape[a] for a in (ha, wa)):
        raise RowFailure("transform", op.qualname, f"reflect padding {widths} needs an input larger than the pad; "
                                                   f"got shape {list(array.shape)}")
    return np.pad(array, widths, mode=op.mode)


def inverse_affine(center: tuple[float, float], angle: float, translate: tuple[float, float], scale: float,
                   shear: tuple[float, float]) -> list[float]:
    """torchvision's inverse affine matrix (``angle`` clockwise, degrees) for ``Image.transform``."""
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
    image = Image.fromarray(pixels[:, :, 0] if pixels.shape[2] == 1 else pixels)
    fillcolor = fill if pixels.shape[2] == 1 else (fill,) * pixels.shape[2]
    warped = np.asarray(image.transform(image.size, method, data, resample, fillcolor=fillcolor))
    return warped[:, :, None] if warped.ndim == 2 else warped


def _affine(pixels: np.ndarray, angle_ccw: float, tx: float, ty: float, scale: float, shear: float,
            interp: str, fill: int) -> np.ndarray:
    h, w = pixels.shape[:2]
    matrix = inverse_affine((w * 0.5, h * 0.5), -angle_ccw, (tx, ty), scale, (shear, 0.0))
    return _warp(pixels, Image.Transform.AFFINE, matrix, _RESAMPLE[interp], fill)


def affine_kernel(op: S.Affine, value: Any, spec: Any, ctx: ChainContext, out: Any) -> np.ndarray:
    """The fixed affine warp."""
    pixels = hwc_u8(value, op.qualname)
    return _affine(pixels, op.angle_deg, op.tx, op.ty, op.scale, op.shear_deg, op.interp, op.fill)


def random_affine_kernel(op: S.RandomAffine, value: Any, spec: Any, ctx: ChainContext, out: Any) -> np.ndarray:
    """Angle, translation, scale and shear drawn per record (five draws, always)."""
    pixels = hwc_u8(value, op.qualname)
    h, w = pixels.shape[:2]
    rng = ctx.rng
    angle = rng.uniform(-op.degrees, op.degrees)
    tx = round(rng.uniform(-op.translate[0] * w, op.translate[0] * w))
    ty = round(rng.uniform(-op.translate[1] * h, op.translate[1] * h))
    scale = rng.uniform(*op.scale_range)
    shear = rng.uniform(-op.shear_deg, op.shear_deg)
    return _affine(pixels, angle, tx, ty, scale, shear, op.interp, op.fill)


def perspective_coefficients(start: list[list[int]], end: list[list[int]]) -> list[float]:
    """The 8 coefficients mapping output points ``end`` back to source points ``start`` (Pillow's convention)."""
    rows, rhs = [], []
    for (x, y), (u, v) in zip(end, start, strict=True):
        rows.append([x, y, 1, 0, 0, 0, -u * x, -u * y])
        rows.append([0, 0, 0, x, y, 1, -v * x, -v * y])
        rhs += [u, v]
    return np.linalg.lstsq(np.asarray(rows, dtype=np.float64), np.asarray(rhs, dtype=np.float64), rcond=None)[0].tolist()


def random_perspective_kernel(op: S.RandomPerspective, value: Any, spec: Any, ctx: ChainContext,
                              out: Any) -> np.ndarray:
    """torchvision ``RandomPerspective``: a coin, then eight corner draws (always drawn)."""
    pixels = hwc_u8(value, op.qualname)
    h, w = pixels.shape[:2]
    rng = ctx.rng
    fire = rng.random() < op.prob
    dw, dh = int(op.distortion * (w // 2)), int(op.distortion * (h // 2))
    top_left = [int(rng.integers(0, dw + 1)), int(rng.integers(0, dh + 1))]
    top_right = [int(rng.integers(w - dw - 1, w)), int(rng.integers(0, dh + 1))]
    bottom_right = [int(rng.integers(w - dw - 1, w)), int(rng.integers(h - dh - 1, h))]
    bottom_left = [int(rng.integers(0, dw + 1)), int(rng.integers(h - dh - 1, h))]
    if not fire:
        return pixels
    start = [[0, 0], [w - 1, 0], [w - 1, h - 1], [0, h - 1]]
    coefficients = perspective_coefficients(start, [top_left, top_right, bottom_right, bottom_left])
    return _warp(pixels, Image.Transform.PERSPECTIVE, coefficients, Image.Resampling.BILINEAR, op.fill)


def random_erasing_kernel(op: S.RandomErasing, value: Any, spec: TensorSpec, ctx: ChainContext,
                          out: Any) -> np.ndarray:
    """torchvision ``RandomErasing``: up to 10 draws for a rectangle that fits."""
    array = _array(op, value)
    rng = ctx.rng
    if rng.random() >= op.prob:
        return array
    ha, wa = image_axes(spec)
    height, width = array.shape[ha], array.shape[wa]
    log_lo, log_hi = math.log(op.ratio[0]), math.log(op.ratio[1])
    for _ in range(10):
        area = height * width * rng.uniform(*op.scale)
        aspect = math.exp(rng.uniform(log_lo, log_hi))
        h = int(round(math.sqrt(area * aspect)))
        w = int(round(math.sqrt(area / aspect)))
        if not (h < height and w < width):
            continue
        y, x = int(rng.integers(0, height - h + 1)), int(rng.integers(0, width - w + 1))
        erased = array.copy()
        index = [slice(None)] * array.ndim
        index[ha], index[wa] = slice(y, y + h), slice(x, x + w)
        erased[tuple(index)] = np.asarray(op.value).astype(array.dtype)
        return erased
    return array


def grid_mask_kernel(op: S.GridMask, value: Any, spec: Any, ctx: ChainContext, out: Any) -> np.ndarray:
    """Zero the squares of a (possibly rotated) grid; five draws, always."""
    pixels = hwc_u8(value, op.qualname)
    rng = ctx.rng
    fire = rng.random() < op.prob
    d = int(rng.integers(op.d_min, op.d_max + 1))
    oy, ox = int(rng.integers(d)), int(rng.integers(d))
    angle = math.radians(rng.uniform(-op.rotate_deg, op.rotate_deg))
    if not fire:
        return pixels
    h, w = pixels.shape[:2]
    side = max(1, int(round(op.ratio * d)))
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    cy, cx = (h - 1) / 2, (w - 1) / 2
    u = np.cos(angle) * (xx - cx) + np.sin(angle) * (yy - cy) + cx
    v = -np.sin(angle) * (xx - cx) + np.cos(angle) * (yy - cy) + cy
    hole = (np.mod(np.floor(u) - ox, d) < side) & (np.mod(np.floor(v) - oy, d) < side)
    return np.where(hole[:, :, None], np.uint8(0), pixels)


KERNELS: dict[str, Kernel] = {
    "transforms.pad": Kernel(pad_kernel, "numpy.pad"),
    "transforms.affine": Kernel(affine_kernel, "Pillow Image.transform(AFFINE)"),
    "transforms.random_affine": Kernel(random_affine_kernel, "Pillow Image.transform(AFFINE)"),
    "transforms.random_perspective": Kernel(random_perspective_kernel, "Pillow Image.transform(PERSPECTIVE)"),
    "transforms.random_erasing": Kernel(random_erasing_kernel, "numpy slice assignment"),
    "transforms.grid_mask": Kernel(grid_mask_kernel, "numpy rotated-grid mask"),
}
