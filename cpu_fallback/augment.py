"""Kernels of the augmentation policies, on Pillow (torchvision's PIL semantics).

Each policy draws, from the record generator: the operation(s), the magnitude bin
where the policy samples one, and a sign for signed operations. Operations act on a
Pillow image: affine shear/translate and rotation use nearest-neighbour sampling and
zero fill, photometric ones ``ImageEnhance``/``ImageOps``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from PIL import Image, ImageEnhance, ImageOps

from dataio.cpu_fallback.lazy_image import to_hwc, to_pil
from dataio.cpu_fallback.pixels import hwc_u8
from dataio.ops import augment as A
from dataio.runtime.chain import ChainContext
from dataio.runtime.rows import RowFailure

Space = dict[str, tuple[np.ndarray | None, bool]]


def _space(bins: int, height: int, width: int, *, wide: bool) -> Space:
    """torchvision's operation space: magnitudes per bin (``None``: no magnitude) and signedness."""
    shear, rotate, enhance = (0.99, 135.0, 0.99) if wide else (0.3, 30.0, 0.9)
    tx, ty = (32.0, 32.0) if wide else (150.0 / 331.0 * width, 150.0 / 331.0 * height)
    poster_div = 6 if wide else 4
    return {
        "Identity": (None, False),
        "ShearX": (np.linspace(0.0, shear, bins), True),
        "ShearY": (np.linspace(0.0, shear, bins), True),
        "TranslateX": (np.linspace(0.0, tx, bins), True),
        "TranslateY": (np.linspace(0.0, ty, bins), True),
        "Rotate": (np.linspace(0.0, rotate, bins), True),
        "Brightness": (np.linspace(0.0, enhance, bins), True),
        "Color": (np.linspace(0.0, enhance, bins), True),
        "Contrast": (np.linspace(0.0, enhance, bins), True),
        "Sharpness": (np.linspace(0.0, enhance, bins), True),
        "Posterize": (8 - np.round(np.arange(bins) / ((bins - 1) / poster_div)), False),
        "Solarize": (np.linspace(255.0, 0.0, bins), False),
        "AutoContrast": (None, False),
        "Equalize": (None, False),
    }


def _affine(image: Image.Image, *, shear_x: float = 0.0, shear_y: float = 0.0, tx: float = 0.0,
            ty: float = 0.0, center: tuple[float, float] = (0.0, 0.0)) -> Image.Image:
    """torchvision's inverse affine matrix for shear (degrees) and translation, then ``Image.transform``."""
    sx, sy = math.radians(shear_x), math.radians(shear_y)
    a = math.cos(-sy) / math.cos(sy)
    b = -math.cos(-sy) * math.tan(sx) / math.cos(sy)
    c = math.sin(-sy) / math.cos(sy)
    d = -math.sin(-sy) * math.tan(sx) / math.cos(sy) + 1.0
    matrix = [d, -b, 0.0, -c, a, 0.0]
    cx, cy = center
    matrix[2] += matrix[0] * (-cx - tx) + matrix[1] * (-cy - ty) + cx
    matrix[5] += matrix[3] * (-cx - tx) + matrix[4] * (-cy - ty) + cy
    return image.transform(image.size, Image.Transform.AFFINE, matrix, Image.Resampling.NEAREST, fillcolor=0)


def apply_op(image: Image.Image, name: str, magnitude: float) -> Image.Image:
    """One policy operation at ``magnitude`` (already signed)."""
    if name == "ShearX":
        return _affine(image, shear_x=math.degrees(math.atan(magnitude)))
    if name == "ShearY":
        return _affine(image, shear_y=math.degrees(math.atan(magnitude)))
    if name == "TranslateX":
        return _affine(image, tx=int(magnitude))
    if name == "TranslateY":
        return _affine(image, ty=int(magnitude))
    if name == "Rotate":
        return image.rotate(magnitude, resample=Image.Resampling.NEAREST, fillcolor=0)
    if name in ("Brightness", "Color", "Contrast", "Sharpness"):
        return getattr(ImageEnhance, name)(image).enhance(1.0 + magnitude)
    if name == "Posterize":
        return ImageOps.posterize(image, int(magnitude))
    if name == "Solarize":
        return ImageOps.solarize(image, magnitude)
    if name == "AutoContrast":
        return ImageOps.autocontrast(image)
    if name == "Equalize":
        return ImageOps.equalize(image)
    if name == "Invert":
        return ImageOps.invert(image)
    return image  # Identity


def _image(op: Any, value: Any) -> Image.Image:
    pixels = hwc_u8(value, op.qualname)
    if pixels.shape[2] not in (1, 3):
        raise RowFailure("transform", op.qualname, f"expects 1 or 3 channels; got {pixels.shape[2]}")
    return to_pil(pixels)


def _magnitude(space: Space, name: str, bin_index: int, negative: bool) -> float:
    values, signed = space[name]
    magnitude = float(values[bin_index]) if values is not None else 0.0
    return -magnitude if signed and negative else magnitude


def rand_augment_kernel(op: A.RandAugment, value: Any, spec: Any, ctx: ChainContext, out: Any) -> np.ndarray:
    """``n`` uniformly drawn operations at bin ``m``; signed ones get a random sign."""
    image = _image(op, value)
    space = _space(A.RAND_AUGMENT_BINS, image.height, image.width, wide=False)
    names = list(space)
    for _ in range(op.n):
        name = names[int(ctx.rng.integers(len(names)))]
        negative = bool(ctx.rng.integers(2))
        image = apply_op(image, name, _magnitude(space, name, op.m, negative))
    return to_hwc(image)


def trivial_augment_wide_kernel(op: A.TrivialAugmentWide, value: Any, spec: Any, ctx: ChainContext,
                                out: Any) -> np.ndarray:
    """One operation at a uniformly drawn bin of the wide space."""
    image = _image(op, value)
    space = _space(31, image.height, image.width, wide=True)
    names = list(space)
    name = names[int(ctx.rng.integers(len(names)))]
    bin_index = int(ctx.rng.integers(31))
    negative = bool(ctx.rng.integers(2))
    return to_hwc(apply_op(image, name, _magnitude(space, name, bin_index, negative)))


IMAGENET_POLICY: tuple[tuple[tuple[str, float, int | None], tuple[str, float, int | None]], ...] = (
    (("Posterize", 0.4, 8), ("Rotate", 0.6, 9)), (("Solarize", 0.6, 5), ("AutoContrast", 0.6, None)),
    (("Equalize", 0.8, None), ("Equalize", 0.6, None)), (("Posterize", 0.6, 7), ("Posterize", 0.6, 6)),
    (("Equalize", 0.4, None), ("Solarize", 0.2, 4)), (("Equalize", 0.4, None), ("Rotate", 0.8, 8)),
    (("Solarize", 0.6, 3), ("Equalize", 0.6, None)), (("Posterize", 0.8, 5), ("Equalize", 1.0, None)),
    (("Rotate", 0.2, 3), ("Solarize", 0.6, 8)), (("Equalize", 0.6, None), ("Posterize", 0.4, 6)),
    (("Rotate", 0.8, 8), ("Color", 0.4, 0)), (("Rotate", 0.4, 9), ("Equalize", 0.6, None)),
    (("Equalize", 0.0, None), ("Equalize", 0.8, None)), (("Invert", 0.6, None), ("Equalize", 1.0, None)),
    (("Color", 0.6, 4), ("Contrast", 1.0, 8)), (("Rotate", 0.8, 8), ("Color", 1.0, 2)),
    (("Color", 0.8, 8), ("Solarize", 0.8, 7)), (("Sharpness", 0.4, 7), ("Invert", 0.6, None)),
    (("ShearX", 0.6, 5), ("Equalize", 1.0, None)), (("Color", 0.4, 0), ("Equalize", 0.6, None)),
    (("Equalize", 0.4, None), ("Solarize", 0.2, 4)), (("Solarize", 0.6, 5), ("AutoContrast", 0.6, None)),
    (("Invert", 0.6, None), ("Equalize", 1.0, None)), (("Color", 0.6, 4), ("Contrast", 1.0, 8)),
    (("Equalize", 0.8, None), ("Equalize", 0.6, None)),
)
"""torchvision's ``AutoAugmentPolicy.IMAGENET``: sub-policies of (operation, probability, magnitude bin)."""


def auto_augment_kernel(op: A.AutoAugment, value: Any, spec: Any, ctx: ChainContext, out: Any) -> np.ndarray:
    """One sub-policy; each of its two operations fires with its probability (10 magnitude bins)."""
    image = _image(op, value)
    space = _space(10, image.height, image.width, wide=False)
    space["Invert"] = (None, False)
    policy = IMAGENET_POLICY[int(ctx.rng.integers(len(IMAGENET_POLICY)))]
    probs = ctx.rng.random(2)
    signs = ctx.rng.integers(2, size=2)
    for (name, prob, bin_index), draw, sign in zip(policy, probs, signs, strict=True):
        if draw <= prob:
            image = apply_op(image, name, _magnitude(space, name, bin_index or 0, sign == 0))
    return to_hwc(image)
