"""Kernels of the photometric ops: numpy and Pillow, vectorised over pixels.

Tolerances (tested against numpy oracles): posterize, solarize, invert, grayscale,
equalize, median_blur and canny are exact; gaussian_blur and sharpen within 1 level
(float rounding); color_jitter follows torchvision's Pillow path exactly (ImageEnhance,
hue shift in HSV with uint8 wrap-around).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from PIL import Image, ImageEnhance, ImageOps

from dataio.cpu_fallback.pixels import hwc_u8
from dataio.executors import Kernel
from dataio.ops import photometric as P
from dataio.runtime.chain import ChainContext
from dataio.runtime.rows import RowFailure, describe_value

_LUMA = np.array([299, 587, 114], dtype=np.int64)


def _pil(pixels: np.ndarray) -> Image.Image:
    return Image.fromarray(pixels[:, :, 0] if pixels.shape[2] == 1 else pixels)


def _hwc(image: Image.Image) -> np.ndarray:
    array = np.asarray(image)
    return array[:, :, None] if array.ndim == 2 else array


def luma(pixels: np.ndarray) -> np.ndarray:
    """ITU-R 601-2 luma of ``HWC uint8`` (Pillow's ``convert("L")`` rounding): ``[H, W] uint8``."""
    if pixels.shape[2] == 1:
        return pixels[:, :, 0]
    return ((pixels[:, :, :3].astype(np.int64) @ _LUMA + 500) // 1000).astype(np.uint8)


def color_jitter_kernel(op: P.ColorJitter, value: Any, spec: Any, ctx: ChainContext, out: Any) -> np.ndarray:
    """torchvision ``ColorJitter``: a random order, then each factor drawn in that order."""
    pixels = hwc_u8(value, op.qualname)
    if pixels.shape[2] != 3:
        raise RowFailure("transform", op.qualname, f"expects 3 channels; got {pixels.shape[2]}")
    rng = ctx.rng
    order = rng.permutation(4)
    factors = [rng.uniform(max(0.0, 1 - v), 1 + v) for v in (op.brightness, op.contrast, op.saturation)]
    hue = rng.uniform(-op.hue, op.hue)
    image = _pil(pixels)
    for index in order:
        if index < 3 and (op.brightness, op.contrast, op.saturation)[index] > 0:
            enhancer = (ImageEnhance.Brightness, ImageEnhance.Contrast, ImageEnhance.Color)[index]
            image = enhancer(image).enhance(factors[index])
        elif index == 3 and op.hue > 0:
            image = _shift_hue(image, hue)
    return _hwc(image)


def _shift_hue(image: Image.Image, shift: float) -> Image.Image:
    h, s, v = image.convert("HSV").split()
    hue = np.asarray(h, dtype=np.uint8) + np.uint8(int(shift * 255) % 256)  # truncated as torchvision; wraps
    return Image.merge("HSV", (Image.fromarray(hue, "L"), s, v)).convert("RGB")


def grayscale_kernel(op: P.Grayscale, value: Any, spec: Any, ctx: ChainContext, out: Any) -> np.ndarray:
    """Luma with probability ``prob``, as 1 or 3 channels."""
    fire = ctx.rng.random() < op.prob
    pixels = hwc_u8(value, op.qualname)
    if not fire:
        return pixels
    gray = luma(pixels)[:, :, None]
    return np.repeat(gray, op.num_output_channels, axis=2)


def gaussian_kernel(size: int, sigma: float) -> np.ndarray:
    """Normalised 1-D Gaussian taps (torchvision's construction)."""
    x = np.linspace(-(size - 1) / 2, (size - 1) / 2, size)
    taps = np.exp(-0.5 * (x / sigma) ** 2)
    return taps / taps.sum()


def separable_filter(pixels: np.ndarray, taps: np.ndarray) -> np.ndarray:
    """Convolve an ``HWC`` image with ``taps`` along H then W (reflect borders), in float32."""
    half = len(taps) // 2
    image = pixels.astype(np.float32)
    for axis in (0, 1):
        width = [(0, 0)] * 3
        width[axis] = (half, half)
        padded = np.pad(image, width, mode="reflect" if image.shape[axis] > half else "edge")
        acc = np.zeros_like(image)
        for k, weight in enumerate(taps.astype(np.float32)):  # one pass per tap, vectorised over pixels
            index = [slice(None)] * 3
            index[axis] = slice(k, k + image.shape[axis])
            acc += weight * padded[tuple(index)]
        image = acc
    return image


def _to_u8(image: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(image), 0, 255).astype(np.uint8)


def gaussian_blur_kernel(op: P.GaussianBlur, value: Any, spec: Any, ctx: ChainContext, out: Any) -> np.ndarray:
    """Separable Gaussian blur with sigma drawn per record."""
    sigma = ctx.rng.uniform(op.sigma_lo, op.sigma_hi)
    pixels = hwc_u8(value, op.qualname)
    return _to_u8(separable_filter(pixels, gaussian_kernel(op.kernel_size, sigma)))


def gaussian_noise_kernel(op: P.GaussianNoise, value: Any, spec: Any, ctx: ChainContext, out: Any) -> np.ndarray:
    """``x + std · N(0, 1)`` on float32 (noise drawn in float64, added in float32)."""
    if not isinstance(value, np.ndarray) or value.dtype != np.float32:
        raise RowFailure("transform", op.qualname, f"expects a float32 tensor; got {describe_value(value)}")
    std = ctx.arg(op, "std", float)
    noise = ctx.rng.standard_normal(value.shape)
    return (value + (std * noise).astype(np.float32)).astype(np.float32)


def _maybe(op: Any, value: Any, ctx: ChainContext) -> tuple[bool, np.ndarray]:
    fire = ctx.rng.random() < op.prob
    return fire, hwc_u8(value, op.qualname)


def invert_kernel(op: P.Invert, value: Any, spec: Any, ctx: ChainContext, out: Any) -> np.ndarray:
    """``255 − x`` with probability ``prob``."""
    fire, pixels = _maybe(op, value, ctx)
    return 255 - pixels if fire else pixels


def solarize_kernel(op: P.Solarize, value: Any, spec: Any, ctx: ChainContext, out: Any) -> np.ndarray:
    """Values ``>= threshold`` inverted, with probability ``prob``."""
    fire, pixels = _maybe(op, value, ctx)
    return np.where(pixels >= op.threshold, 255 - pixels, pixels) if fire else pixels


def posterize_kernel(op: P.Posterize, value: Any, spec: Any, ctx: ChainContext, out: Any) -> np.ndarray:
    """The ``bits`` high bits, with probability ``prob``."""
    fire, pixels = _maybe(op, value, ctx)
    return pixels & np.uint8((0xFF << (8 - op.bits)) & 0xFF) if fire else pixels


def equalize_kernel(op: P.Equalize, value: Any, spec: Any, ctx: ChainContext, out: Any) -> np.ndarray:
    """Pillow's per-channel histogram equalisation, with probability ``prob``."""
    fire, pixels = _maybe(op, value, ctx)
    return _hwc(ImageOps.equalize(_pil(pixels))) if fire and pixels.shape[2] in (1, 3) else pixels


def sharpen_kernel(op: P.Sharpen, value: Any, spec: Any, ctx: ChainContext, out: Any) -> np.ndarray:
    """Unsharp mask with a ±3-sigma Gaussian."""
    pixels = hwc_u8(value, op.qualname)
    size = 2 * math.ceil(3 * op.sigma) + 1
    blurred = separable_filter(pixels, gaussian_kernel(size, op.sigma))
    return _to_u8(pixels + op.amount * (pixels.astype(np.float32) - blurred))


def median_blur_kernel(op: P.MedianBlur, value: Any, spec: Any, ctx: ChainContext, out: Any) -> np.ndarray:
    """Median over each ``(2r + 1)²`` window, edges replicated."""
    pixels = hwc_u8(value, op.qualname)
    r = op.radius
    padded = np.pad(pixels, ((r, r), (r, r), (0, 0)), mode="edge")
    windows = sliding_window_view(padded, (2 * r + 1, 2 * r + 1), axis=(0, 1))  # [H, W, C, k, k]
    flat = windows.reshape(*windows.shape[:3], -1)
    middle = flat.shape[-1] // 2
    return np.partition(flat, middle, axis=-1)[..., middle].astype(np.uint8)


def canny_kernel(op: P.Canny, value: Any, spec: Any, ctx: ChainContext, out: Any) -> np.ndarray:
    """Sobel, non-maximum suppression, hysteresis; ``[H, W, 1]`` with 255 on edges."""
    gray = luma(hwc_u8(value, op.qualname)).astype(np.float64)
    padded = np.pad(gray, 1, mode="edge")
    window = sliding_window_view(padded, (3, 3))
    gx = np.einsum("hwij,ij->hw", window, np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], dtype=np.float64))
    gy = np.einsum("hwij,ij->hw", window, np.array([[-1, -2, -1], [0, 0, 0], [1, 2, 1]], dtype=np.float64))
    magnitude = np.hypot(gx, gy)
    angle = (np.rad2deg(np.arctan2(gy, gx)) + 180.0) % 180.0
    sector = ((angle + 22.5) // 45).astype(np.int64) % 4  # 0: horizontal gradient, 1: 45°, 2: vertical, 3: 135°
    mag = np.pad(magnitude, 1)
    h, w = gray.shape
    offsets = {0: ((0, 1), (0, -1)), 1: ((1, 1), (-1, -1)), 2: ((1, 0), (-1, 0)), 3: ((1, -1), (-1, 1))}
    keep = np.zeros_like(magnitude, dtype=bool)
    for s, ((dy1, dx1), (dy2, dx2)) in offsets.items():
        n1 = mag[1 + dy1:1 + dy1 + h, 1 + dx1:1 + dx1 + w]
        n2 = mag[1 + dy2:1 + dy2 + h, 1 + dx2:1 + dx2 + w]
        keep |= (sector == s) & (magnitude >= n1) & (magnitude >= n2)
    thin = np.where(keep, magnitude, 0.0)
    strong = thin > op.high
    weak = thin > op.low
    edges = strong
    while True:  # hysteresis: grow strong edges through 8-connected weak pixels (one ring per pass)
        grown = np.pad(edges, 1)
        neighbours = sliding_window_view(grown, (3, 3)).any(axis=(2, 3))
        updated = edges | (neighbours & weak)
        if np.array_equal(updated, edges):
            break
        edges = updated
    return (edges.astype(np.uint8) * 255)[:, :, None]


KERNELS: dict[str, Kernel] = {
    "transforms.color_jitter": Kernel(color_jitter_kernel, "Pillow ImageEnhance + HSV hue shift"),
    "transforms.grayscale": Kernel(grayscale_kernel, "numpy integer luma"),
    "transforms.gaussian_blur": Kernel(gaussian_blur_kernel, "numpy separable Gaussian"),
    "transforms.gaussian_noise": Kernel(gaussian_noise_kernel, "numpy Generator.standard_normal"),
    "transforms.invert": Kernel(invert_kernel, "numpy"),
    "transforms.solarize": Kernel(solarize_kernel, "numpy.where"),
    "transforms.posterize": Kernel(posterize_kernel, "numpy bit mask"),
    "transforms.equalize": Kernel(equalize_kernel, "Pillow ImageOps.equalize"),
    "transforms.sharpen": Kernel(sharpen_kernel, "numpy unsharp mask"),
    "transforms.median_blur": Kernel(median_blur_kernel, "numpy sliding_window_view + partition"),
    "transforms.canny": Kernel(canny_kernel, "numpy Sobel + NMS + hysteresis"),
}
