"""Graph nodes that work pixel by pixel: the decoder, the channel affine, coins and colour arithmetic.

Each reproduces its CPU kernel's arithmetic (Pillow's, for the colour ops) with DALI's
arithmetic operators on ``int32``/``float`` tensors, so the CPU-mode graph matches the CPU
fallback bit for bit where the tests say so (``tests/parity_cases.py``). Random parameters
come from the host (:mod:`dataio.ops.draws`) as one float32 vector per sample.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from dataio.ops import decoders as D
from dataio.ops import photometric as P
from dataio.ops import transforms as T
from dataio.ops._base import TensorSpec
from dataio.ops.draws import draw_coin, draw_color_jitter
from dataio.ops.geometry import SampleContext
from dataio.ops.noise import Arithmetic, draw_noise_key, key_halves, standard_normals

if TYPE_CHECKING:
    from dataio.gpu.nodes import NodeInput

_LUMA = (19595, 38470, 7471)  # Pillow's ITU-R 601-2 weights, 16-bit fixed point


def takes_hwc_u8(op: Any, spec: TensorSpec) -> bool:
    """The node works on ``HWC uint8`` images (what its CPU kernel accepts)."""
    return spec.layout == "hwc" and spec.dtype == "uint8"


def takes_rgb_u8(op: Any, spec: TensorSpec) -> bool:
    """``HWC uint8`` with three channels."""
    return takes_hwc_u8(op, spec) and spec.channels == 3


def grayscale_accepts(op: P.Grayscale, spec: TensorSpec) -> bool:
    """RGB in, as many channels out (a channel count change would not be one graph image)."""
    return takes_rgb_u8(op, spec) and op.num_output_channels == 3


def decode_image(node: NodeInput, encoded: Any, op: D.ImageDecoder) -> Any:
    """Decode to RGB; a grey slot then takes Pillow's integer luma of it, as the CPU fallback's ``convert("L")``
    does (a decoder's own grey output is the JPEG's Y plane, which differs where RGB clips: up to 15 levels)."""
    rgb = node.fn.decoders.image(encoded, device="mixed" if node.settings.on_gpu else "cpu",
                                 output_type=node.types.RGB, **node.settings.decoder_args())
    if node.channels == 3:
        return rgb
    return node.fn.cast(stack_planes(node, pillow_luma(as_int(node, rgb))), dtype=node.types.UINT8)


def channel_affine(node: NodeInput, image: Any, op: T.ChannelAffine) -> Any:
    scale, bias = op.channel_affine(node.channels)
    return node.fn.crop_mirror_normalize(image, mean=list(-bias / scale), std=list(1.0 / scale), output_layout="CHW",
                                         dtype=node.types.FLOAT)


def normalize_accepts(op: T.Normalize, spec: TensorSpec) -> bool:
    """``CHW float32`` with as many channels as the op has means."""
    return spec.layout == "chw" and spec.dtype == "float32" and spec.channels == len(op.mean)


def normalize(node: NodeInput, image: Any, op: T.Normalize) -> Any:
    """``(x − mean[c]) · (1 / std[c])`` per channel in float32, the CPU kernel's operations and constants."""
    inv_std = (1.0 / np.asarray(op.std, dtype=np.float64)).astype(np.float32)
    mean = np.asarray(op.mean, dtype=np.float32)
    planes = [(image[c] - float(mean[c])) * float(inv_std[c]) for c in range(len(op.mean))]
    return node.fn.stack(*planes, axis=0, axis_name="C")


def coin(op: Any, ctx: SampleContext, hw: tuple[int, int]) -> np.ndarray:
    """One coin (``prob``): the draw of ``grayscale``, ``invert``, ``solarize``, ``posterize`` (their kernels' own)."""
    return np.array([draw_coin(ctx.rng, op.prob)], dtype=np.float32)


def as_int(node: NodeInput, image: Any) -> Any:
    return node.fn.cast(image, dtype=node.types.INT32)


def to_u8(node: NodeInput, x: Any) -> Any:
    return node.fn.cast(x, dtype=node.types.UINT8)


def _where_fired(node: NodeInput, image: Any, changed: Any) -> Any:
    """``changed(x)`` on the samples whose coin fired, ``x`` elsewhere; exact integer arithmetic on uint8."""
    x = as_int(node, image)
    fired = node.args[0] > 0.5
    return to_u8(node, x + fired * (changed(x) - x))


def inverted(x: Any) -> Any:
    """``255 − x`` of an ``int32`` image (Pillow's ``ImageOps.invert``)."""
    return 255 - x


def solarized(x: Any, threshold: Any) -> Any:
    """Values ``>= threshold`` of an ``int32`` image become ``255 − x`` (``ImageOps.solarize``)."""
    return x + (x >= threshold) * (255 - 2 * x)


def posterized(x: Any, mask: Any) -> Any:
    """The high bits ``mask`` keeps of an ``int32`` image (``ImageOps.posterize``)."""
    return x & mask


def invert(node: NodeInput, image: Any, op: P.Invert) -> Any:
    return _where_fired(node, image, inverted)


def solarize(node: NodeInput, image: Any, op: P.Solarize) -> Any:
    return _where_fired(node, image, lambda x: solarized(x, op.threshold))


def posterize(node: NodeInput, image: Any, op: P.Posterize) -> Any:
    mask = P.posterize_mask(op.bits)
    return _where_fired(node, image, lambda x: posterized(x, mask))


def equalized(node: NodeInput, x: Any) -> Any:
    """DALI's per-channel histogram equalisation of an ``HWC uint8`` image (the CPU kernel's mapping, bit-exact on
    DALI's CPU operator; its GPU operator computes the table in double and can round a tie one level lower)."""
    return node.fn.equalize(node.fn.reshape(x, layout="HWC"))


def equalize(node: NodeInput, image: Any, op: P.Equalize) -> Any:
    """Equalised where the coin fired."""
    return _where_fired(node, image, lambda x: as_int(node, equalized(node, image)))


NOISE_AXIS = 16384
"""The longest axis the noise node indexes (the graph holds that many indices once); a row with a longer one is
declined (the CPU kernel runs it)."""


def noise_accepts(op: P.GaussianNoise, spec: TensorSpec) -> bool:
    """A three-axis float32 tensor (an image in any layout, e.g. ``CHW`` after ``normalize``)."""
    return spec.dtype == "float32" and spec.shape is not None and len(spec.shape) == 3


def draw_noise(op: P.GaussianNoise, ctx: SampleContext, hw: tuple[int, int]) -> np.ndarray | None:
    """``[std, key high half, key low half]``: the CPU kernel's std and its one draw (the record's noise key)."""
    std = ctx.arg(op, "std", float)
    if std < 0 or max(hw) > NOISE_AXIS:
        return None  # a bad std is the CPU kernel's row error to report; a huge image its to run
    return np.array([std, *key_halves(draw_noise_key(ctx.rng))], dtype=np.float32)


def gaussian_noise(node: NodeInput, image: Any, op: P.GaussianNoise) -> Any:
    """``x + std · z`` with the record's counter-based normals (:mod:`dataio.ops.noise`), computed in the graph."""
    fn, types, math = node.fn, node.types, node.math
    ops = Arithmetic(u32=lambda v: types.Constant(v, dtype=types.UINT32),
                     f32=lambda v: types.Constant(v, dtype=types.FLOAT),
                     to_float=lambda x: fn.cast(x, dtype=types.FLOAT), log=math.log, sqrt=math.sqrt, cos=math.cos)
    u32 = types.UINT32
    key = fn.cast(node.args[1], dtype=u32) * ops.u32(1 << 16) + fn.cast(node.args[2], dtype=u32)
    return image + node.args[0] * standard_normals(_element_index(node, image), key, ops)


def _element_index(node: NodeInput, image: Any) -> Any:
    """Each element's C-order index in its (three-axis) tensor, as unsigned 32-bit: three slices of one
    constant ``0 .. NOISE_AXIS − 1``, broadcast — on the GPU when the graph is, so the per-element hashing is too."""
    fn, types = node.fn, node.types
    iota = fn.constant(idata=list(range(NOISE_AXIS)), shape=[NOISE_AXIS], dtype=types.UINT32,
                       device="gpu" if node.settings.on_gpu else "cpu")
    shape = fn.cast(image.shape(), dtype=types.INT32)
    first, second, third = (fn.reshape(fn.slice(iota, start=[0], shape=shape[axis:axis + 1], axes=[0]), shape=dims)
                            for axis, dims in enumerate(([-1, 1, 1], [1, -1, 1], [1, 1, -1])))
    rows, columns = (fn.cast(shape[axis], dtype=types.UINT32) for axis in (1, 2))
    return (first * rows + second) * columns + third


def pillow_luma(x: Any) -> Any:
    """Pillow's integer luma of an ``int32`` RGB tensor: ``[H, W]``."""
    return (_LUMA[0] * x[:, :, 0] + _LUMA[1] * x[:, :, 1] + _LUMA[2] * x[:, :, 2] + 32768) // 65536


def stack_planes(node: NodeInput, *planes: Any) -> Any:
    """``[H, W]`` planes stacked into an ``HWC`` tensor."""
    return node.fn.stack(*planes, axis=2, axis_name="C")


def grayscale(node: NodeInput, image: Any, op: P.Grayscale) -> Any:
    """Pillow's integer luma (the CPU kernel's, bit-exact) on every channel, where the coin fired."""
    return _where_fired(node, image, lambda x: stack_planes(node, *[pillow_luma(x)] * node.channels))


def draw_jitter(op: P.ColorJitter, ctx: SampleContext, hw: tuple[int, int]) -> list[float]:
    """``[order (4), brightness, contrast, saturation factors, hue step]``: the kernel's five draws."""
    drawn = draw_color_jitter(ctx.rng, op)
    return [*drawn.order, *drawn.factors, drawn.hue_step]


def blend(node: NodeInput, degenerate: Any, x: Any, factor: Any) -> Any:
    """Pillow's ``Image.blend(degenerate, x, factor)`` on uint8 values: ``trunc(d + f·(x − d))`` in float32,
    clipped — what ``ImageEnhance`` computes."""
    fn, math = node.fn, node.math
    blended = math.floor(degenerate + factor * (x - degenerate))
    return fn.cast(math.clamp(blended, 0, 255), dtype=node.types.INT32)


def contrast_mean(node: NodeInput, x: Any, channels: int = 3) -> Any:
    """``int(mean(luma) + 0.5)`` per sample (``ImageEnhance.Contrast``'s grey), in exact integer arithmetic; a
    one-channel image is its own luma."""
    fn, types = node.fn, node.types
    plane = pillow_luma(x) if channels == 3 else x[:, :, 0]
    total = fn.reductions.sum(plane, dtype=types.INT64)
    shape = plane.shape(dtype=types.INT64)
    count = shape[0] * shape[1]
    return (2 * total + count) // (2 * count)


def _shift_hue(node: NodeInput, x: Any, step: Any) -> Any:
    """Pillow's ``RGB → HSV`` (uint8), hue ``+ step`` (mod 256), ``HSV → RGB``: the CPU kernel's hue shift.

    Mirrors Pillow's C conversions (``Convert.c``) step by step, float32 where it stores
    floats and float64 where it computes in double, so the values match Pillow's.
    """
    fn, types, math = node.fn, node.types, node.math
    f32, f64 = (lambda v: fn.cast(v, dtype=types.FLOAT)), (lambda v: fn.cast(v, dtype=types.FLOAT64))
    r, g, b = x[:, :, 0], x[:, :, 1], x[:, :, 2]
    maxc = math.max(r, math.max(g, b))
    minc = math.min(r, math.min(g, b))
    spread = f32(math.max(maxc - minc, 1))  # the grey case (spread 0) is masked out below
    sat = spread / f32(math.max(maxc, 1))
    rc, gc, bc = (f64(f32(maxc - c) / spread) for c in (r, g, b))
    red_max, green_max = maxc == r, (maxc != r) * (maxc == g)
    blue_max = (maxc != r) * (maxc != g)
    hue = f64(f32(red_max * (bc - gc) + green_max * (2.0 + rc - bc) + blue_max * (4.0 + gc - rc)))
    turn = hue / 6.0 + 1.0
    hue = f64(f32(turn - math.floor(turn)))
    coloured = maxc != minc
    h = coloured * fn.cast(math.floor(hue * 255.0), dtype=types.INT32)
    s = coloured * fn.cast(math.floor(f64(sat) * 255.0), dtype=types.INT32)
    v = maxc
    h = h + fn.cast(step, dtype=types.INT32)
    h = h - 256 * (h >= 256)
    sector = h * 6.0 / 255.0
    i = fn.cast(math.floor(sector), dtype=types.INT32)
    frac = f32(sector - math.floor(sector))
    fs = f32(s / 255.0)
    vd = f64(v)

    def rounded(value: Any) -> Any:
        return fn.cast(math.clamp(math.floor(value + 0.5), 0, 255), dtype=types.INT32)

    p = rounded(vd * (1.0 - f64(fs)))
    q = rounded(vd * (1.0 - f64(fs * frac)))
    t = rounded(vd * (1.0 - f64(fs) * (1.0 - f64(frac))))
    i = i - 6 * (i >= 6)
    case = [i == k for k in range(6)]
    red = v * (case[0] | case[5]) + q * case[1] + p * (case[2] | case[3]) + t * case[4]
    green = t * case[0] + v * (case[1] | case[2]) + q * case[3] + p * (case[4] | case[5])
    blue = p * (case[0] | case[1]) + t * case[2] + v * (case[3] | case[4]) + q * case[5]
    grey = s == 0
    return stack_planes(node, *(grey * v + (s != 0) * plane for plane in (red, green, blue)))


def color_jitter(node: NodeInput, image: Any, op: P.ColorJitter) -> Any:
    """torchvision's ``ColorJitter`` on Pillow, in the drawn order: four stages, each applying to a sample the
    adjustment its order names there.

    Each stage splits the batch by the chosen adjustment (DALI's conditional split/merge, the
    operators behind its ``if`` statements), so every sample goes through exactly four
    adjustments, and one graph serves all 24 orders. Brightness, contrast and saturation are
    Pillow's ``ImageEnhance`` blends (bit-exact); hue is Pillow's uint8 HSV shift
    (:func:`_shift_hue`). Adjustments with strength 0 are left out.
    """
    adjust = {
        0: lambda x, args: blend(node, 0, x, args[4]),
        1: lambda x, args: blend(node, contrast_mean(node, x), x, args[5]),
        2: lambda x, args: blend(node, stack_planes(node, *[pillow_luma(x)] * 3), x, args[6]),
        3: lambda x, args: _shift_hue(node, x, args[7]),
    }
    enabled = [i for i, strength in enumerate((op.brightness, op.contrast, op.saturation, op.hue)) if strength > 0]
    x = as_int(node, image)
    for stage in range(4):
        x = dispatch(node, x, node.args, stage, [(index, adjust[index]) for index in enabled])
    return to_u8(node, x)


def dispatch(node: NodeInput, x: Any, args: Any, stage: int, cases: list[tuple[int, Any]]) -> Any:
    """``adjust(x, args)`` of the case whose index is ``args[stage]``, per sample; samples no case names pass
    through. Splits the batch (images and their parameter vectors alike) one case at a time."""
    if not cases:
        return x
    (index, adjust), rest = cases[0], cases[1:]
    split, merge = node.fn._conditional.split, node.fn._conditional.merge
    chosen = args[stage] == index
    x_chosen, x_other = split(x, predicate=chosen)
    args_chosen, args_other = split(args, predicate=chosen)
    return merge(adjust(x_chosen, args_chosen), dispatch(node, x_other, args_other, stage, rest), predicate=chosen)
