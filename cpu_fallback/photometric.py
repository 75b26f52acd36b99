"""Kernels of the photometric ops (docs/api.md §3.2): numpy and Pillow, vectorised over pixels.

Loops in this file run over channels, filter taps or label-merging rounds, never over
pixels. Every kernel states its tolerance against an independent reference in its
docstring; ``tests/test_photometric.py`` checks each one against a numpy oracle.
Random kernels draw a fixed number of values from ``ctx.rng`` before looking at the
pixels, whether or not they fire (docs/api.md §4.7).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from PIL import Image, ImageEnhance

from dataio.ops import photometric as P
from dataio.ops.draws import draw_coin, draw_color_jitter, draw_uniform
from dataio.ops.noise import NUMPY, draw_noise_key, standard_normals
from dataio.runtime.chain import ChainContext
from dataio.runtime.rows import RowFailure, describe_value

from dataio.cpu_fallback.lazy_image import to_hwc, to_pil
from dataio.cpu_fallback.pixels import hwc_u8

_LUMA = np.array([19595, 38470, 7471], dtype=np.int64)  # Pillow's ITU-R 601-2 weights, 16-bit fixed point


def luma(pixels: np.ndarray, op_name: str) -> np.ndarray:
    """ITU-R 601-2 luma of ``HWC uint8``, bit-exact with Pillow's ``convert("L")``: ``[H, W] uint8``.

    One channel is its own luma; two channels (gray + alpha) give the first; three or
    four (RGB, RGBA) give ``(19595 R + 38470 G + 7471 B + 2**15) >> 16``.
    """
    channels = pixels.shape[2]
    if channels in (1, 2):
        return pixels[:, :, 0]
    if channels in (3, 4):
        return ((pixels[:, :, :3].astype(np.int64) @ _LUMA + 0x8000) >> 16).astype(np.uint8)
    raise RowFailure("transform", op_name, f"expects 1 to 4 channels; got {channels}")


def color_jitter_kernel(op: P.ColorJitter, value: Any, spec: Any, ctx: ChainContext, out: Any) -> np.ndarray:
    """torchvision ``ColorJitter`` on Pillow images: a random order of the four adjustments.

    Draws (always all five, in this order): a permutation of 4, then the brightness,
    contrast and saturation factors, then the hue shift. Brightness, contrast and
    saturation are Pillow ``ImageEnhance`` blends with a black image, the luma mean and
    the luma image (float32, truncated); hue adds ``trunc(shift · 255)`` to Pillow's HSV
    hue with uint8 wrap-around, as torchvision does.

    Tolerance: bit-exact with torchvision's PIL path given the same factors and order; the
    numpy oracle is exact for brightness/contrast/saturation and, for hue (float HSV against
    Pillow's uint8 HSV), within 12 levels, under 1.5 on average.
    """
    drawn = draw_color_jitter(ctx.rng, op)
    strengths = (op.brightness, op.contrast, op.saturation)
    pixels = hwc_u8(value, op.qualname)
    if pixels.shape[2] != 3:
        raise RowFailure("transform", op.qualname, f"expects a 3-channel image; got {pixels.shape[2]} channels")
    image = to_pil(pixels)
    for index in drawn.order:
        if index < 3 and strengths[index] > 0:
            enhancer = (ImageEnhance.Brightness, ImageEnhance.Contrast, ImageEnhance.Color)[index]
            image = enhancer(image).enhance(drawn.factors[index])
        elif index == 3 and op.hue > 0:
            image = _shift_hue(image, drawn.hue_step)
    return to_hwc(image)


def _shift_hue(image: Image.Image, step: int) -> Image.Image:
    h, s, v = image.convert("HSV").split()
    hue = np.asarray(h, dtype=np.uint8) + np.uint8(step)
    return Image.merge("HSV", (Image.fromarray(hue, "L"), s, v)).convert("RGB")


def grayscale_kernel(op: P.Grayscale, value: Any, spec: Any, ctx: ChainContext, out: Any) -> np.ndarray:
    """Luma (see :func:`luma`) with probability ``prob``, repeated to 1 or 3 channels; one draw.

    Tolerance: exact (Pillow's integer formula).
    """
    fire = draw_coin(ctx.rng, op.prob)
    pixels = hwc_u8(value, op.qualname)
    if not fire:
        return pixels
    gray = luma(pixels, op.qualname)[:, :, None]
    return np.repeat(gray, op.num_output_channels, axis=2)


def gaussian_kernel(size: int, sigma: float) -> np.ndarray:
    """Normalised 1-D Gaussian taps at ``-(size-1)/2 … (size-1)/2`` (torchvision's construction)."""
    x = np.linspace(-(size - 1) / 2, (size - 1) / 2, size)
    taps = np.exp(-0.5 * (x / sigma) ** 2)
    return taps / taps.sum()


def separable_filter(pixels: np.ndarray, taps: np.ndarray) -> np.ndarray:
    """Convolve an ``HWC`` image with ``taps`` along H then W, in float32.

    Borders reflect without repeating the edge (``numpy.pad(mode="reflect")``, torchvision's
    ``padding_mode="reflect"``); an axis of one pixel repeats its edge instead.
    """
    half = len(taps) // 2
    image = pixels.astype(np.float32)
    for axis in (0, 1):
        width = [(0, 0)] * 3
        width[axis] = (half, half)
        padded = np.pad(image, width, mode="reflect" if image.shape[axis] > 1 else "edge")
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
    """Separable ``kernel_size`` Gaussian, sigma ~ U[sigma_lo, sigma_hi] (one draw), reflect borders.

    Tolerance: within 1 level of a float64 separable convolution (float32 accumulation, then rounding).
    """
    sigma = draw_uniform(ctx.rng, op.sigma_lo, op.sigma_hi)
    pixels = hwc_u8(value, op.qualname)
    return _to_u8(separable_filter(pixels, gaussian_kernel(op.kernel_size, sigma)))


def gaussian_noise_kernel(op: P.GaussianNoise, value: Any, spec: Any, ctx: ChainContext, out: Any) -> np.ndarray:
    """``x + std · z`` on a float32 tensor of any shape, ``z`` the record's counter-based standard normals
    (:func:`dataio.ops.noise.standard_normals`: one key drawn from the record's generator, then a pure function
    of each element's C-order index), in float32.

    A ``col(...)`` std that is negative, like a non-float32 input, is a row error.

    Tolerance: the GPU node computes the same integers; its float32 ``log``/``cos`` may differ from numpy's in the
    last bits (≤ 1e-5 · std).
    """
    if not isinstance(value, np.ndarray) or value.dtype != np.float32:
        raise RowFailure("transform", op.qualname, f"expects a float32 tensor; got {describe_value(value)}")
    std = ctx.arg(op, "std", float)
    if std < 0:
        raise RowFailure("transform", op.qualname, f"std must be >= 0; got {std}")
    key = np.array([draw_noise_key(ctx.rng)], dtype=np.uint32)  # an array: numpy wraps it silently, as a hash wants
    index = np.arange(value.size, dtype=np.uint32).reshape(value.shape)
    return value + np.float32(std) * standard_normals(index, key, NUMPY)


def _maybe(op: Any, value: Any, ctx: ChainContext) -> tuple[bool, np.ndarray]:
    """One draw for the coin, then the pixels."""
    fire = draw_coin(ctx.rng, op.prob)
    return fire, hwc_u8(value, op.qualname)


def invert_kernel(op: P.Invert, value: Any, spec: Any, ctx: ChainContext, out: Any) -> np.ndarray:
    """``255 − x`` with probability ``prob`` (one draw). Tolerance: exact."""
    fire, pixels = _maybe(op, value, ctx)
    return 255 - pixels if fire else pixels


def solarize_kernel(op: P.Solarize, value: Any, spec: Any, ctx: ChainContext, out: Any) -> np.ndarray:
    """Values ``>= threshold`` become ``255 − x``, with probability ``prob`` (one draw). Tolerance: exact."""
    fire, pixels = _maybe(op, value, ctx)
    return np.where(pixels >= op.threshold, 255 - pixels, pixels) if fire else pixels


def posterize_kernel(op: P.Posterize, value: Any, spec: Any, ctx: ChainContext, out: Any) -> np.ndarray:
    """The ``bits`` high bits of every value, with probability ``prob`` (one draw). Tolerance: exact."""
    fire, pixels = _maybe(op, value, ctx)
    return pixels & np.uint8(P.posterize_mask(op.bits)) if fire else pixels


def equalize_luts(pixels: np.ndarray) -> np.ndarray:
    """``[C, 256] uint8`` per-channel tables of histogram equalisation as DALI's ``fn.equalize`` and OpenCV's
    ``equalizeHist`` compute it (see :class:`dataio.ops.photometric.Equalize`).

    For a channel of ``N`` pixels with histogram ``h`` and first non-empty bin ``i0``: a
    channel with one value maps to itself; otherwise ``lut[i] = rint(f32(Σ_{i0 < j <= i} h[j])
    · f32(255 / (N − h[i0])))`` in float32 arithmetic, ties to even, clipped to [0, 255].
    """
    channels = pixels.shape[2]
    hist = np.stack([np.bincount(pixels[:, :, c].ravel(), minlength=256) for c in range(channels)]).astype(np.int64)
    first = hist[np.arange(channels), np.argmax(hist > 0, axis=1)]
    total = pixels.shape[0] * pixels.shape[1]
    scale = np.float32(255.0) / np.maximum(total - first, 1).astype(np.float32)
    above_first = (np.cumsum(hist, axis=1) - first[:, None]).astype(np.float32)
    lut = np.rint(np.clip(above_first * scale[:, None], 0, 255)).astype(np.uint8)
    lut[first == total] = np.arange(256)
    return lut


def equalized(pixels: np.ndarray) -> np.ndarray:
    """``pixels`` (``HWC uint8``) through their channels' :func:`equalize_luts`."""
    luts = equalize_luts(pixels)
    return np.take_along_axis(luts.T, pixels.reshape(-1, pixels.shape[2]).astype(np.intp), axis=0).reshape(
        pixels.shape)


def equalize_kernel(op: P.Equalize, value: Any, spec: Any, ctx: ChainContext, out: Any) -> np.ndarray:
    """Per-channel histogram equalisation with probability ``prob`` (one draw), any channel count.

    Tolerance: bit-exact with DALI's ``fn.equalize`` on the CPU (float32 arithmetic, ties to even).
    """
    fire, pixels = _maybe(op, value, ctx)
    return equalized(pixels) if fire else pixels


def sharpen_kernel(op: P.Sharpen, value: Any, spec: Any, ctx: ChainContext, out: Any) -> np.ndarray:
    """Unsharp mask ``x + amount · (x − blur(x))``, blur a ``2·ceil(3σ) + 1``-tap Gaussian, reflect borders.

    Tolerance: within 1 level of the same formula in float64 (float32 blur, then rounding).
    """
    pixels = hwc_u8(value, op.qualname)
    size = 2 * math.ceil(3 * op.sigma) + 1
    blurred = separable_filter(pixels, gaussian_kernel(size, op.sigma))
    return _to_u8(pixels + np.float32(op.amount) * (pixels.astype(np.float32) - blurred))


def median_blur_kernel(op: P.MedianBlur, value: Any, spec: Any, ctx: ChainContext, out: Any) -> np.ndarray:
    """Per-channel median over each ``(2r + 1)²`` window, borders edge-replicated.

    The window count is odd, so the median is one of the values. Tolerance: exact.
    """
    pixels = hwc_u8(value, op.qualname)
    r = op.radius
    padded = np.pad(pixels, ((r, r), (r, r), (0, 0)), mode="edge")
    windows = sliding_window_view(padded, (2 * r + 1, 2 * r + 1), axis=(0, 1))  # [H, W, C, k, k]
    flat = windows.reshape(*windows.shape[:3], -1)
    middle = flat.shape[-1] // 2
    return np.partition(flat, middle, axis=-1)[..., middle]


_SOBEL_X = np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], dtype=np.float64)
# neighbours (dy, dx) across the edge for gradient directions 0°, 45°, 90°, 135° (y grows downwards)
_ACROSS = (((0, 1), (0, -1)), ((1, 1), (-1, -1)), ((1, 0), (-1, 0)), ((1, -1), (-1, 1)))


def canny_kernel(op: P.Canny, value: Any, spec: Any, ctx: ChainContext, out: Any) -> np.ndarray:
    """Canny edges of the luma (see :func:`luma`): ``[H, W, 1] uint8``, 255 on edges.

    1. 3×3 Sobel ``gx``, ``gy`` on the edge-replicated luma; magnitude ``hypot(gx, gy)``.
    2. Non-maximum suppression: the gradient angle is rounded to 0°/45°/90°/135°; a pixel
       survives when its magnitude is ``>`` the neighbour on the positive side and ``>=``
       the one on the negative side (so a plateau two pixels wide keeps one; outside the
       image counts as 0).
    3. Hysteresis: surviving pixels with magnitude ``> high`` seed edges, which take every
       8-connected surviving pixel with magnitude ``> low``.

    Tolerance: exact (integer-valued gradients; the test replays the three steps pixel by pixel).
    """
    gray = luma(hwc_u8(value, op.qualname), op.qualname).astype(np.float64)
    window = sliding_window_view(np.pad(gray, 1, mode="edge"), (3, 3))
    gx = np.einsum("hwij,ij->hw", window, _SOBEL_X)
    gy = np.einsum("hwij,ij->hw", window, _SOBEL_X.T)
    magnitude = np.hypot(gx, gy)
    angle = np.rad2deg(np.arctan2(gy, gx)) % 180.0
    sector = np.floor((angle + 22.5) / 45.0).astype(np.int64) % 4
    h, w = gray.shape
    mag = np.pad(magnitude, 1)
    keep = np.zeros((h, w), dtype=bool)
    for s, ((dy1, dx1), (dy2, dx2)) in enumerate(_ACROSS):
        n1 = mag[1 + dy1:1 + dy1 + h, 1 + dx1:1 + dx1 + w]
        n2 = mag[1 + dy2:1 + dy2 + h, 1 + dx2:1 + dx2 + w]
        keep |= (sector == s) & (magnitude > n1) & (magnitude >= n2)
    thin = np.where(keep, magnitude, 0.0)
    edges = hysteresis(thin > op.high, thin > op.low)
    return (edges.astype(np.uint8) * 255)[:, :, None]


def hysteresis(strong: np.ndarray, weak: np.ndarray) -> np.ndarray:
    """Pixels of ``weak`` 8-connected (through ``weak``) to a pixel of ``strong`` (``strong ⊆ weak``).

    Connected components by min-label hooking with full path compression: each round
    hooks every root to the smallest root across an edge, so the number of rounds
    grows with the log of the component size in practice, not with path length.
    """
    h, w = weak.shape
    index = np.arange(h * w).reshape(h, w)
    pairs = []
    for a, b in ((index[:, :-1], index[:, 1:]), (index[:-1, :], index[1:, :]),
                 (index[:-1, :-1], index[1:, 1:]), (index[:-1, 1:], index[1:, :-1])):
        both = weak.ravel()[a.ravel()] & weak.ravel()[b.ravel()]
        pairs.append((a.ravel()[both], b.ravel()[both]))
    u = np.concatenate([p[0] for p in pairs])
    v = np.concatenate([p[1] for p in pairs])
    parent = np.arange(h * w)
    while True:
        ru, rv = parent[u], parent[v]
        differ = ru != rv
        if not differ.any():
            break
        np.minimum.at(parent, np.maximum(ru[differ], rv[differ]), np.minimum(ru[differ], rv[differ]))
        while True:  # compress every path to its root
            jumped = parent[parent]
            if np.array_equal(jumped, parent):
                break
            parent = jumped
    seeded = np.zeros(h * w, dtype=bool)
    seeded[parent[strong.ravel()]] = True
    return (weak.ravel() & seeded[parent]).reshape(h, w)
