"""Graph node of the augmentation policies: RandAugment, TrivialAugmentWide, AutoAugment (ImageNet).

The host draws each row's operations with the CPU kernel's own function
(:func:`dataio.ops.draws.draw_policy`) and feeds, per stage (one stage per operation the
policy can apply), the operation's code, its value and, for the geometric ones, the inverse
matrix of Pillow's transform. Each stage splits the batch by operation (conditional
split/merge) and replays the Pillow operation the CPU kernel runs: shear, translate and
rotate as nearest-neighbour warps with a zero fill (:func:`~dataio.gpu.spatial_nodes.pillow_affine`),
brightness, colour and contrast as ``ImageEnhance`` blends, posterize, solarize, invert,
autocontrast as integer and double arithmetic, equalize as ``fn.equalize`` (dataio's
``equalize`` mapping, which the CPU kernel uses too).

Everything matches the CPU kernel bit for bit except the nearest-neighbour warps: Pillow
steps their source coordinates in 16.16 fixed point, the graph computes them in float, so a
pixel whose source point lies near a sampling boundary can take its neighbour's value (up to
0.5 % of pixels in a randomised run).

Sharpness replays Pillow's 3 × 3 ``SMOOTH`` filter with its float32 summation order (checked
against the installed Pillow; another Pillow build that sums differently could move a value by
one level). A row that draws Sharpness on an image under 3 pixels a side (Pillow's filter
leaves it as it is) is declined at planning: it runs its whole slot on the CPU kernels, from
the same seed, so its draws are the same.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from dataio.ops import augment as A
from dataio.ops._base import TensorSpec
from dataio.ops.draws import draw_policy
from dataio.ops.geometry import SampleContext
from dataio.ops.photometric import posterize_mask
from dataio.ops.warps import inverse_affine, rotation_matrix

from dataio.gpu import point_nodes as P
from dataio.gpu import spatial_nodes as S

if TYPE_CHECKING:
    from dataio.gpu.nodes import NodeInput

OPERATIONS = ("Identity", "ShearX", "ShearY", "TranslateX", "TranslateY", "Rotate", "Brightness", "Color",
              "Contrast", "Sharpness", "Posterize", "Solarize", "AutoContrast", "Invert", "Equalize")
"""The operations the graph replays, by code."""
_SMOOTH = (np.array([1, 1, 1, 1, 5, 1, 1, 1, 1], dtype=np.float32) / np.float32(13)).tolist()
"""Pillow's ``ImageFilter.SMOOTH`` taps, as the float32 values its filter multiplies by."""
STAGE = 8
"""Floats per stage: code, value, then six matrix coefficients (geometric operations)."""
_IDENTITY = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0)


def stages(op: Any) -> int:
    """How many operations the policy applies at most (the graph's stages)."""
    return op.n if isinstance(op, A.RandAugment) else 1 if isinstance(op, A.TrivialAugmentWide) else 2


def policy_accepts(op: Any, spec: TensorSpec) -> bool:
    """``HWC uint8`` with one or three channels (what the CPU kernel takes), and at least one operation (a
    RandAugment of ``n=0`` changes nothing: the graph leaves it to the host)."""
    return P.takes_hwc_u8(op, spec) and spec.channels in (1, 3) and stages(op) > 0


def draw(op: Any, ctx: SampleContext, hw: tuple[int, int]) -> np.ndarray | None:
    """The row's operations as stage vectors, or ``None`` when one of them is declined (see the module)."""
    height, width = hw
    chosen = draw_policy(ctx.rng, op, height, width)
    if any(name == "Sharpness" and min(height, width) < 3 for name, _ in chosen):
        return None  # Pillow's filter leaves an image under 3 pixels as it is: the CPU kernel covers that
    vector = np.zeros((stages(op), STAGE), dtype=np.float32)
    vector[:, 2:] = _IDENTITY
    for stage, (name, magnitude) in enumerate(chosen):
        vector[stage, :2] = (OPERATIONS.index(name), _value(name, magnitude))
        vector[stage, 2:] = _matrix(name, magnitude, height, width)
    return vector.ravel()


def _value(name: str, magnitude: float) -> float:
    """What a stage needs besides its matrix: the enhance factor, the posterize mask, the solarize threshold."""
    if name in ("Brightness", "Color", "Contrast", "Sharpness"):
        return float(np.float32(1.0 + magnitude))  # ImageEnhance.enhance(1 + m): Pillow's blend takes a C float
    if name == "Posterize":
        return float(posterize_mask(int(magnitude)))
    return magnitude


def _matrix(name: str, magnitude: float, height: int, width: int) -> tuple[float, ...] | list[float]:
    """Pillow's inverse affine data for the geometric operations (the CPU kernel's ``_affine``/``rotate``)."""
    if name in ("ShearX", "ShearY"):
        degrees = math.degrees(math.atan(magnitude))  # the CPU kernel's own arithmetic
        shear = (degrees, 0.0) if name == "ShearX" else (0.0, degrees)
        return inverse_affine((0.0, 0.0), 0.0, (0.0, 0.0), 1.0, shear)
    if name in ("TranslateX", "TranslateY"):
        shift = (int(magnitude), 0) if name == "TranslateX" else (0, int(magnitude))
        return inverse_affine((0.0, 0.0), 0.0, shift, 1.0, (0.0, 0.0))
    if name == "Rotate":
        return rotation_matrix(height, width, magnitude)
    return _IDENTITY


def policy(node: NodeInput, image: Any, op: Any) -> Any:
    """The policy's stages, each a split of the batch by operation."""
    x = image
    for stage in range(stages(op)):
        base = stage * STAGE
        cases = [(code, _operation(node, name, base)) for code, name in enumerate(OPERATIONS) if name != "Identity"]
        x = P.dispatch(node, x, node.args, base, cases)
    return x


def _operation(node: NodeInput, name: str, base: int) -> Any:
    """``(image, args) -> image`` for one operation; ``args[base + 1]`` is its value, ``args[base + 2:]`` its
    matrix."""
    fn, types, dali_math = node.fn, node.types, node.math
    channels = node.channels

    def warp(x: Any, args: Any) -> Any:
        return S.pillow_affine(node, x, args[base + 2:base + STAGE], "nearest", 0.0)

    def enhance(x: Any, args: Any) -> Any:
        pixels, factor = P.as_int(node, x), args[base + 1]
        if name == "Brightness":
            return P.to_u8(node, P.blend(node, 0, pixels, factor))
        if name == "Contrast":
            return P.to_u8(node, P.blend(node, P.contrast_mean(node, pixels, channels), pixels, factor))
        if name == "Sharpness":
            return P.to_u8(node, P.blend(node, P.as_int(node, smooth(x)), pixels, factor))
        if channels == 1:  # Color on a grey image blends it with itself
            return x
        grey = P.stack_planes(node, *[P.pillow_luma(pixels)] * 3)
        return P.to_u8(node, P.blend(node, grey, pixels, factor))

    def smooth(x: Any) -> Any:
        """Pillow's ``filter(SMOOTH)``: inside, ``trunc(0.5 + Σ rows)`` with each row's three taps summed in
        Pillow's float32 order; the outer rows and columns unchanged."""
        pixels = fn.cast(x, dtype=types.FLOAT)

        def taps(rows: Any, first: int) -> Any:
            k0, k1, k2 = _SMOOTH[first:first + 3]
            return (rows[:, :-2] * k0 + rows[:, 1:-1] * k1) + rows[:, 2:] * k2

        total = ((0.5 + taps(pixels[2:], 0)) + taps(pixels[1:-1], 3)) + taps(pixels[:-2], 6)
        inside = fn.cast(dali_math.clamp(dali_math.floor(total), 0.0, 255.0), dtype=types.UINT8)
        middle = fn.cat(x[1:-1, 0:1], inside, x[1:-1, -1:], axis=1)
        return fn.cat(x[0:1], middle, x[-1:], axis=0)

    def posterize(x: Any, args: Any) -> Any:
        return P.to_u8(node, P.posterized(P.as_int(node, x), fn.cast(args[base + 1], dtype=types.INT32)))

    def solarize(x: Any, args: Any) -> Any:
        return P.to_u8(node, P.solarized(P.as_int(node, x), args[base + 1]))

    def invert(x: Any, args: Any) -> Any:
        return P.to_u8(node, P.inverted(P.as_int(node, x)))

    def equalize(x: Any, args: Any) -> Any:
        return P.equalized(node, x)

    def autocontrast(x: Any, args: Any) -> Any:
        """``ImageOps.autocontrast``: per channel, ``int(i · 255 / (hi − lo) − lo · scale)`` in double, when
        ``hi > lo``."""
        out = []
        for channel in range(channels):
            pixels = x[:, :, channel]
            plane = fn.cast(pixels, dtype=types.FLOAT64)
            lo, hi = (fn.cast(reduce(pixels), dtype=types.FLOAT64) for reduce in (fn.reductions.min, fn.reductions.max))
            spread = hi > lo
            scale = 255.0 / dali_math.max(hi - lo, 1.0)
            offset = -lo * scale
            stretched = dali_math.clamp(dali_math.floor(plane * scale + offset), 0.0, 255.0)
            out.append(fn.cast(spread * stretched + (hi <= lo) * plane, dtype=types.UINT8))
        return P.stack_planes(node, *out)

    builders = {"ShearX": warp, "ShearY": warp, "TranslateX": warp, "TranslateY": warp, "Rotate": warp,
                "Brightness": enhance, "Color": enhance, "Contrast": enhance, "Sharpness": enhance,
                "Posterize": posterize,
                "Solarize": solarize, "AutoContrast": autocontrast, "Invert": invert, "Equalize": equalize}
    return builders[name]
