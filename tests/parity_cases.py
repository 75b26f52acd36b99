"""Parity cases: for every op with a GPU graph node, a chain the DALI graph takes and its tolerance.

``PARITY_CASES`` registers each op (by its op-table name) against the chain that checks it;
``tests/test_op_table.py`` fails when an op with a graph node has none. The chains run
through the graph in DALI's CPU mode on CI (``tests/test_gpu_parity_matrix.py``) and on a
device (``tests/gpu/``), compared with the CPU fallback: every chain within 1.5 8-bit levels
of its output range on average per row; chains whose graph front is exact before the op
(a window, no resampling) also bound every value (``EXACT_CHAINS``).
"""

from __future__ import annotations

import io
from typing import Any

import numpy as np
from PIL import Image

import dataio
from dataio._synthetic import synthetic_image
from dataio import transforms as T

LEVELS = 255 * 0.226  # one 8-bit level after ImageNet normalisation (mean std)
IMAGENET_LEVEL, UNIT_LEVEL, SYMMETRIC_LEVEL = 1 / LEVELS, 1 / 255, 2 / 255  # one 8-bit level in each range
GRAPH_CHAINS = {  # name -> (chain, one 8-bit level in its output)
    "resize+normalize": (lambda s: s.resize(h=64, w=80).normalize("imagenet"), IMAGENET_LEVEL),
    "resize_short+center_crop": (lambda s: s.resize_short(96).center_crop(h=80, w=80).normalize("imagenet"),
                                 IMAGENET_LEVEL),
    "resize_long+crop+unit": (lambda s: s.resize_long(120).crop(y=4, x=6, h=60, w=50).apply(T.unit_chw()),
                              UNIT_LEVEL),
    "fit_to_bucket+symmetric": (lambda s: s.fit_to_bucket(h=64, w=96).apply(T.symmetric_chw()), SYMMETRIC_LEVEL),
    "random_resized_crop+hflip": (lambda s: s.random_resized_crop(h=64, w=48).hflip().normalize("imagenet"),
                                  IMAGENET_LEVEL),
    "random_crop+vflip+pack": (lambda s: s.resize_short(96).random_crop(h=80, w=80).vflip(prob=0.5)
                               .apply(T.pack_chw_f32(scale=1 / 255, bias=-0.5)), UNIT_LEVEL),
    "window only": (lambda s: s.center_crop(h=200, w=120).normalize("imagenet"), IMAGENET_LEVEL),
    "rrc+grayscale": (lambda s: s.random_resized_crop(h=48, w=48).grayscale(prob=0.5).normalize("imagenet"),
                      IMAGENET_LEVEL),
    "resize+invert+solarize+posterize": (lambda s: s.resize(h=56, w=72).invert(prob=0.5)
                                         .solarize(threshold=100, prob=0.5).posterize(bits=3, prob=0.5)
                                         .normalize("imagenet"), IMAGENET_LEVEL),
    "rrc+hflip+color_jitter": (lambda s: s.random_resized_crop(h=64, w=64).hflip()
                               .color_jitter(brightness=0.4, contrast=0.4, saturation=0.4, hue=0.1)
                               .normalize("imagenet"), IMAGENET_LEVEL),
    "crop+color_jitter": (lambda s: s.center_crop(h=48, w=40)
                          .color_jitter(brightness=0.4, contrast=0.4, saturation=0.4, hue=0.2), 1.0),
    "crop+blur+sharpen": (lambda s: s.center_crop(h=48, w=40).gaussian_blur(kernel_size=5, sigma_lo=0.1, sigma_hi=2.0)
                          .sharpen(sigma=1.0, amount=1.5), 1.0),
    "crop+pad+erasing": (lambda s: s.center_crop(h=48, w=40).pad(top=3, left=5, bottom=2, right=1, value=7)
                         .random_erasing(prob=0.7, value=300), 1.0),
    "normalize+erasing": (lambda s: s.center_crop(h=48, w=40).normalize("imagenet")
                          .random_erasing(prob=0.7, value=0.5), IMAGENET_LEVEL),
    "crop+affine": (lambda s: s.center_crop(h=48, w=40).affine(angle_deg=30, tx=3, ty=-2, scale=1.1, shear_deg=5), 1.0),
    "crop+random_affine": (lambda s: s.center_crop(h=48, w=48).random_affine(
        degrees=20, translate=(0.1, 0.1), scale_range=(0.9, 1.1), shear_deg=5), 1.0),
    "crop+random_perspective": (lambda s: s.center_crop(h=48, w=40).random_perspective(prob=0.7, fill=9), 1.0),
    "crop+median_blur": (lambda s: s.center_crop(h=48, w=40).median_blur(radius=1), 1.0),
    "crop+equalize": (lambda s: s.center_crop(h=48, w=40).equalize(prob=0.7), 1.0),
    "normalize+gaussian_noise": (lambda s: s.center_crop(h=48, w=40).normalize("imagenet").gaussian_noise(std=0.3),
                                 IMAGENET_LEVEL),
    "crop+grid_mask": (lambda s: s.center_crop(h=48, w=40).grid_mask(d_min=8, d_max=16, ratio=0.5, prob=0.7), 1.0),
    "crop+rotated grid_mask": (lambda s: s.center_crop(h=48, w=40).grid_mask(d_min=8, d_max=16, ratio=0.5,
                                                                              rotate_deg=30, prob=0.7), 1.0),
    "decoder normalize": (None, SYMMETRIC_LEVEL),
    "grey: crop+blur+sharpen": (lambda s: s.center_crop(h=48, w=40).gaussian_blur(kernel_size=5, sigma_lo=0.1,
                                                                                   sigma_hi=2.0).sharpen(), 1.0),
    "crop+trivial_augment_wide": (lambda s: s.center_crop(h=48, w=40).trivial_augment_wide(), 1.0),
    "crop+rand_augment": (lambda s: s.center_crop(h=48, w=40).rand_augment(n=2, m=9), 1.0),
    "crop+auto_augment": (lambda s: s.center_crop(h=48, w=40).auto_augment(), 1.0),
    "unit decode+normalize": (lambda s: s.apply(T.normalize(mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225))),
                              IMAGENET_LEVEL),
    "decoder normalize+erasing+pad": (lambda s: s.random_erasing(prob=0.7, value=0.5)
                                      .pad(top=2, left=3, bottom=1, right=0, value=0.25), UNIT_LEVEL),
}

DECODER_OPTIONS = {  # chains whose decoder is not the default RGB HWC uint8
    "decoder normalize": {"normalize": "symmetric", "layout": "chw"},
    "decoder normalize+erasing+pad": {"normalize": "unit", "layout": "chw"},
    "unit decode+normalize": {"normalize": "unit", "layout": "chw"},
    "grey: crop+blur+sharpen": {"mode": "gray"},  # Pillow's luma of the RGB decode, as the CPU fallback's
}

WARP_EDGE = 0.002
"""Warps: the share of pixels that may differ by more than the bound. The graph gets its matrix in float32,
Pillow works in double: a source point within rounding of the image's edge can fall on the other side, and
that pixel takes the fill instead of the edge pixel (or the reverse)."""

NEAREST_WARP = 0.01
"""Nearest-neighbour warps (the policies' shear, translate, rotate): Pillow steps its source coordinates in 16.16
fixed point, the graph computes them in float, so a pixel near a sampling boundary can take its neighbour's value
(up to 0.5 % of pixels seen in a randomised run)."""

EXACT_CHAINS = {  # name -> the largest difference of any value, in levels, or (that, share allowed beyond it)
    "crop+color_jitter": 0,  # Pillow's blends and uint8 HSV, replayed step by step
    "crop+blur+sharpen": 1,  # DALI rounds ties away from zero, numpy.rint to even
    "crop+pad+erasing": 0,
    "normalize+erasing": 0,
    "crop+affine": (1, WARP_EDGE),  # Pillow samples in double precision, the graph in float: a truncation can flip
    "crop+random_affine": (1, WARP_EDGE),
    "crop+random_perspective": (1, WARP_EDGE),
    "crop+grid_mask": 0,
    "crop+median_blur": 0,
    "crop+equalize": 0,  # DALI's CPU operator and the kernel: the same float32 table
    "normalize+gaussian_noise": 0,  # the same integers; float32 log/cos differ in the last bits only (< 1e-3 level)
    "decoder normalize+erasing+pad": 0,
    "unit decode+normalize": 0,
    "crop+trivial_augment_wide": (0, NEAREST_WARP),
    "crop+rand_augment": (0, NEAREST_WARP),
    "crop+auto_augment": (0, NEAREST_WARP),
    "grey: crop+blur+sharpen": 1,
}

PARITY_CASES = {  # op qualname -> the chain in GRAPH_CHAINS that checks it
    "decoders.image": "decoder normalize",
    "transforms.resize": "resize+normalize",
    "transforms.resize_short": "resize_short+center_crop",
    "transforms.resize_long": "resize_long+crop+unit",
    "transforms.fit_to_bucket": "fit_to_bucket+symmetric",
    "transforms.random_resized_crop": "random_resized_crop+hflip",
    "transforms.center_crop": "window only",
    "transforms.crop": "resize_long+crop+unit",
    "transforms.random_crop": "random_crop+vflip+pack",
    "transforms.hflip": "random_resized_crop+hflip",
    "transforms.vflip": "random_crop+vflip+pack",
    "transforms.normalize_chw_from_hwc_u8": "resize+normalize",
    "transforms.symmetric_chw": "fit_to_bucket+symmetric",
    "transforms.unit_chw": "resize_long+crop+unit",
    "transforms.pack_chw_f32": "random_crop+vflip+pack",
    "transforms.grayscale": "rrc+grayscale",
    "transforms.invert": "resize+invert+solarize+posterize",
    "transforms.solarize": "resize+invert+solarize+posterize",
    "transforms.posterize": "resize+invert+solarize+posterize",
    "transforms.color_jitter": "crop+color_jitter",
    "transforms.gaussian_blur": "crop+blur+sharpen",
    "transforms.sharpen": "crop+blur+sharpen",
    "transforms.pad": "crop+pad+erasing",
    "transforms.random_erasing": "crop+pad+erasing",
    "transforms.affine": "crop+affine",
    "transforms.random_affine": "crop+random_affine",
    "transforms.random_perspective": "crop+random_perspective",
    "transforms.grid_mask": "crop+grid_mask",
    "transforms.median_blur": "crop+median_blur",
    "transforms.equalize": "crop+equalize",
    "transforms.gaussian_noise": "normalize+gaussian_noise",
    "transforms.normalize": "unit decode+normalize",
    "transforms.trivial_augment_wide": "crop+trivial_augment_wide",
    "transforms.rand_augment": "crop+rand_augment",
    "transforms.auto_augment": "crop+auto_augment",
}


def graph_chain_pipeline(name: str) -> dataio.Pipeline:
    chain, _ = GRAPH_CHAINS[name]
    slot = dataio.slot("image").decode_image(**DECODER_OPTIONS.get(name, {}))
    if chain is not None:  # None: the decoder's own normalize + CHW, no transforms (rows keep their sizes)
        slot = chain(slot)
    return dataio.pipeline(slot, dataio.batch(8))


def _encoded(image: Image.Image, fmt: str = "JPEG", **options: Any) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def _exif(turn: int) -> Image.Exif:
    exif = Image.Exif()
    exif[0x0112] = turn
    return exif


def edge_image_records() -> list[dict[str, Any]]:
    """Records of the images that catch edge cases: tiny, odd-sized, tall, grey, EXIF-rotated, progressive, CMYK,
    and PNG (RGB, RGBA, 16-bit), WebP."""
    rng = np.random.default_rng(11)
    odd = synthetic_image(rng, 97, 131)
    pixels = np.asarray(odd)
    alpha = (np.arange(pixels.shape[1])[None, :] * 3 % 256).repeat(pixels.shape[0], 0).astype(np.uint8)
    return [
        {"key": "tiny", "image": _encoded(synthetic_image(rng, 5, 7), quality=95)},
        {"key": "odd", "image": _encoded(odd, quality=92)},
        {"key": "tall", "image": _encoded(synthetic_image(rng, 301, 53), quality=90)},
        {"key": "grey", "image": _encoded(odd.convert("L"), quality=92)},
        {"key": "exif-6", "image": _encoded(odd, quality=95, exif=_exif(6))},
        {"key": "exif-3", "image": _encoded(odd, quality=95, exif=_exif(3))},
        {"key": "progressive", "image": _encoded(odd, quality=90, progressive=True)},
        {"key": "png", "image": _encoded(odd, "PNG")},
        {"key": "cmyk", "image": _encoded(odd.convert("CMYK"), quality=95)},
        {"key": "rgba-png", "image": _encoded(Image.fromarray(np.dstack([pixels, alpha]), "RGBA"), "PNG")},
        {"key": "png16", "image": _encoded(Image.fromarray(pixels[:, :, 1].astype(np.uint16) * 257), "PNG")},
        {"key": "webp", "image": _encoded(odd, "WEBP", lossless=True)},
    ]
