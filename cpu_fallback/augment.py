"""Kernels of the augmentation policies, on Pillow (torchvision's PIL semantics but for Equalize).

Each policy draws, from the record generator: the operation(s), the magnitude bin
where the policy samples one, and a sign for signed operations. Operations act on a
Pillow image: affine shear/translate and rotation use nearest-neighbour sampling and
zero fill, photometric ones ``ImageEnhance``/``ImageOps``. Equalize is dataio's own
``equalize`` (DALI's and OpenCV's mapping), which torchvision's PIL-based one is not.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from PIL import Image, ImageEnhance, ImageOps

from dataio.cpu_fallback.lazy_image import to_hwc, to_pil
from dataio.cpu_fallback.photometric import equalized
from dataio.cpu_fallback.pixels import hwc_u8
from dataio.ops import augment as A
from dataio.ops.draws import draw_policy
from dataio.ops.warps import inverse_affine
from dataio.runtime.chain import ChainContext
from dataio.runtime.rows import RowFailure

def _affine(image: Image.Image, *, shear_x: float = 0.0, shear_y: float = 0.0, tx: float = 0.0,
            ty: float = 0.0, center: tuple[float, float] = (0.0, 0.0)) -> Image.Image:
    """torchvision's inverse affine matrix for shear (degrees) and translation, then ``Image.transform``."""
    matrix = inverse_affine(center, 0.0, (tx, ty), 1.0, (shear_x, shear_y))
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
        return ImageOps.solarize(image, magnitude)  # type: ignore[arg-type] # a float threshold, as torchvision
    if name == "AutoContrast":
        return ImageOps.autocontrast(image)
    if name == "Equalize":
        return _equalize(image)
    if name == "Invert":
        return ImageOps.invert(image)
    return image  # Identity


def _equalize(image: Image.Image) -> Image.Image:
    """dataio's ``equalize`` (DALI's and OpenCV's mapping, :func:`~dataio.cpu_fallback.photometric.equalized`) on
    an ``L`` or ``RGB`` image — not Pillow's ``ImageOps.equalize``, so that the graph replays it exactly."""
    pixels = np.asarray(image)
    if pixels.ndim == 2:
        return Image.fromarray(equalized(pixels[:, :, None])[:, :, 0])
    return Image.fromarray(equalized(pixels))


def _image(op: Any, value: Any) -> Image.Image:
    pixels = hwc_u8(value, op.qualname)
    if pixels.shape[2] not in (1, 3):
        raise RowFailure("transform", op.qualname, f"expects 1 or 3 channels; got {pixels.shape[2]}")
    return to_pil(pixels)


def policy_kernel(op: A.RandAugment | A.TrivialAugmentWide | A.AutoAugment, value: Any, spec: Any, ctx: ChainContext,
                  out: Any) -> np.ndarray:
    """The operations the policy draws for this image (:func:`dataio.ops.draws.draw_policy`), applied in order."""
    image = _image(op, value)
    for name, magnitude in draw_policy(ctx.rng, op, image.height, image.width):
        image = apply_op(image, name, magnitude)
    return to_hwc(image)
