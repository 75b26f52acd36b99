"""Transforms: ops applied to one record's slot value after its decoder (docs/api.md §3.2).

Each factory is a frozen op class that validates its parameters at construction and
states, through :meth:`~dataio.Transform.infer`, what it does to the slot's static
description (dtype, layout, shape), so that a pipeline with an op fed the wrong
layout fails at ``pipeline()`` rather than on the first record.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import numpy as np

from dataio._validate import as_choice, as_float, as_float_tuple, as_int
from dataio._errors import PlanError
from dataio.ops._args import INTERPOLATIONS, dim, static
from dataio.ops._base import HWC_U8, TensorSpec, Transform, image_axes, op
from dataio.ops.cond import Param
from dataio.ops.draws import uniform as _uniform

CAST_DTYPES = ("bool", "uint8", "uint16", "uint32", "uint64", "int8", "int16", "int32", "int64",
               "float32", "float64")


def _with_hw(spec: TensorSpec, h: int | None, w: int | None) -> TensorSpec:
    """``spec`` with its image height/width dims replaced."""
    if spec.shape is None:
        return spec
    dims = list(spec.shape)
    if len(dims) < 2:
        return spec
    ha, wa = image_axes(spec)
    if len(dims) > max(ha, wa):
        dims[ha], dims[wa] = h, w
    return TensorSpec(spec.dtype, spec.layout, tuple(dims))


class _Resampling(Transform):
    """Ops that resample an ``HWC u8`` image."""

    __slots__ = ()
    kind: ClassVar[str] = "resample"

    def infer(self, spec: TensorSpec) -> TensorSpec:
        self.expect(spec, **HWC_U8)
        h, w = self.output_hw()
        return TensorSpec("uint8", "hwc", (h, w, spec.channels))

    def output_hw(self) -> tuple[int | None, int | None]:
        """The statically known output size."""
        return None, None


@op("resize")
class Resize(_Resampling):
    """Resize to exactly ``h`` × ``w``.

    Args:
        h: output height (int > 0 or a field reference).
        w: output width (int > 0 or a field reference).
        interp: ``"nearest"``, ``"bilinear"``, ``"bicubic"`` or ``"lanczos"``.
    """

    h: int | Param
    w: int | Param
    interp: str = "bicubic"

    def __post_init__(self) -> None:
        self.set("h", dim("resize", "h", self.h))
        self.set("w", dim("resize", "w", self.w))
        as_choice("resize", "interp", self.interp, INTERPOLATIONS)

    def output_hw(self) -> tuple[int | None, int | None]:
        return static(self.h), static(self.w)


@op("resize_short")
class ResizeShort(_Resampling):
    """Resize so the shorter side is ``size``, keeping the aspect ratio (other side rounded).

    Args:
        size: target length of the shorter side.
        interp: resampling filter.
    """

    size: int
    interp: str = "bicubic"

    def __post_init__(self) -> None:
        self.set("size", as_int("resize_short", "size", self.size, minimum=1))
        as_choice("resize_short", "interp", self.interp, INTERPOLATIONS)


@op("resize_long")
class ResizeLong(_Resampling):
    """Resize so the longer side is ``size``, keeping the aspect ratio.

    Args:
        size: target length of the longer side.
        interp: resampling filter.
    """

    size: int
    interp: str = "bicubic"

    def __post_init__(self) -> None:
        self.set("size", as_int("resize_long", "size", self.size, minimum=1))
        as_choice("resize_long", "interp", self.interp, INTERPOLATIONS)


@op("fit_to_bucket")
class FitToBucket(_Resampling):
    """Scale to cover ``h`` × ``w`` keeping the aspect ratio, then centre-crop to ``h`` × ``w``.

    Args:
        h: bucket height.
        w: bucket width.
        interp: resampling filter.
    """

    h: int | Param
    w: int | Param
    interp: str = "bicubic"

    def __post_init__(self) -> None:
        self.set("h", dim("fit_to_bucket", "h", self.h))
        self.set("w", dim("fit_to_bucket", "w", self.w))
        as_choice("fit_to_bucket", "interp", self.interp, INTERPOLATIONS)

    def output_hw(self) -> tuple[int | None, int | None]:
        return static(self.h), static(self.w)


@op("random_resized_crop", random=True)
class RandomResizedCrop(_Resampling):
    """torchvision-style random resized crop: a random area/aspect window resized to ``h`` × ``w``.

    Up to 10 draws of ``area ~ U(scale_lo, scale_hi) × source area`` and
    ``log(ratio) ~ U(log ratio_lo, log ratio_hi)``; if none fits, a centre crop of the
    source clamped to the ratio range is used.

    Args:
        h: output height.
        w: output width.
        scale_lo: smallest window area as a fraction of the source (0 < lo ≤ hi ≤ 1).
        scale_hi: largest window area fraction.
        ratio_lo: smallest width/height ratio (0 < lo ≤ hi).
        ratio_hi: largest width/height ratio.
        interp: resampling filter.
    """

    h: int
    w: int
    scale_lo: float = 0.08
    scale_hi: float = 1.0
    ratio_lo: float = 0.75
    ratio_hi: float = 1.3333333
    interp: str = "bicubic"

    def __post_init__(self) -> None:
        name = "random_resized_crop"
        self.set("h", as_int(name, "h", self.h, minimum=1))
        self.set("w", as_int(name, "w", self.w, minimum=1))
        for p in ("scale_lo", "scale_hi"):
            self.set(p, as_float(name, p, getattr(self, p), minimum=0.0, maximum=1.0,
                                 exclusive_minimum=True))
        for p in ("ratio_lo", "ratio_hi"):
            self.set(p, as_float(name, p, getattr(self, p), minimum=0.0, exclusive_minimum=True))
        if self.scale_lo > self.scale_hi:
            raise self.fail("scale_lo", f"scale_lo must be <= scale_hi={self.scale_hi}")
        if self.ratio_lo > self.ratio_hi:
            raise self.fail("ratio_lo", f"ratio_lo must be <= ratio_hi={self.ratio_hi}")
        as_choice(name, "interp", self.interp, INTERPOLATIONS)

    def output_hw(self) -> tuple[int | None, int | None]:
        return self.h, self.w

    def sample_window(self, rng: np.random.Generator, height: int, width: int) -> tuple[int, int, int, int]:
        """Draw the ``(y, x, h, w)`` source window for one record."""
        area = height * width
        log_lo, log_hi = math.log(self.ratio_lo), math.log(self.ratio_hi)
        for _ in range(10):
            target = area * _uniform(rng, self.scale_lo, self.scale_hi)
            ratio = math.exp(_uniform(rng, log_lo, log_hi))
            w = int(round(math.sqrt(target * ratio)))
            h = int(round(math.sqrt(target / ratio)))
            if 0 < w <= width and 0 < h <= height:
                y = int(rng.integers(0, height - h + 1))
                x = int(rng.integers(0, width - w + 1))
                return y, x, h, w
        ratio = width / height
        if ratio < self.ratio_lo:
            w, h = width, int(round(width / self.ratio_lo))
        elif ratio > self.ratio_hi:
            h, w = height, int(round(height * self.ratio_hi))
        else:
            h, w = height, width
        return (height - h) // 2, (width - w) // 2, h, w


class _Window(Transform):
    """Ops that cut a window out of an image-like value of any layout."""

    __slots__ = ()
    kind: ClassVar[str] = "window"

    def infer(self, spec: TensorSpec) -> TensorSpec:
        self.expect(spec)
        if spec.shape is not None and len(spec.shape) < 2:
            raise PlanError(f"{self.op_name}: expects an input of rank >= 2; got {spec.describe()}")
        return _with_hw(spec, static(self.h), static(self.w))  # type: ignore[attr-defined]


@op("center_crop")
class CenterCrop(_Window):
    """Cut the centred ``h`` × ``w`` window; zero-pads where the window exceeds the source.

    Works on any layout (``CHW`` crops axes 1–2, everything else axes 0–1).

    Args:
        h: window height.
        w: window width.
    """

    h: int | Param
    w: int | Param

    def __post_init__(self) -> None:
        self.set("h", dim("center_crop", "h", self.h))
        self.set("w", dim("center_crop", "w", self.w))


@op("crop")
class Crop(_Window):
    """Cut the window at (``y``, ``x``) of size ``h`` × ``w``; a window outside the source is a row error.

    Args:
        y: top row (>= 0).
        x: left column (>= 0).
        h: window height.
        w: window width.
    """

    y: int | Param
    x: int | Param
    h: int | Param
    w: int | Param

    def __post_init__(self) -> None:
        self.set("y", dim("crop", "y", self.y, minimum=0))
        self.set("x", dim("crop", "x", self.x, minimum=0))
        self.set("h", dim("crop", "h", self.h))
        self.set("w", dim("crop", "w", self.w))


@op("random_crop", random=True)
class RandomCrop(_Window):
    """Cut a uniformly placed ``h`` × ``w`` window; a window larger than the source is a row error.

    Args:
        h: window height.
        w: window width.
    """

    h: int | Param
    w: int | Param

    def __post_init__(self) -> None:
        self.set("h", dim("random_crop", "h", self.h))
        self.set("w", dim("random_crop", "w", self.w))


class _Flip(Transform):
    """Ops that mirror an image-like value with a probability (one draw per record, fired or not)."""

    __slots__ = ()
    kind: ClassVar[str] = "flip"

    def __post_init__(self) -> None:
        self.set("prob", as_float(self.op_name, "prob", self.prob, minimum=0.0, maximum=1.0))  # type: ignore[attr-defined]

    def infer(self, spec: TensorSpec) -> TensorSpec:
        self.expect(spec)
        return spec


@op("hflip", random=True)
class HFlip(_Flip):
    """Mirror left-right with probability ``prob`` (any layout).

    Args:
        prob: probability in [0, 1].
    """

    prob: float = 0.5


@op("vflip", random=True)
class VFlip(_Flip):
    """Mirror top-bottom with probability ``prob`` (any layout).

    Args:
        prob: probability in [0, 1].
    """

    prob: float = 0.5


NORMALIZE_PRESETS: dict[str, tuple[tuple[float, ...], tuple[float, ...]]] = {
    "imagenet": ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225)),
    "clip": ((0.48145466, 0.4578275, 0.40821073), (0.26862954, 0.26130258, 0.27577711)),
}


def _mean_std(func: str, mean: Any, std: Any) -> tuple[tuple[float, ...], tuple[float, ...]]:
    mean_t = as_float_tuple(func, "mean", mean)
    std_t = as_float_tuple(func, "std", std)
    if len(mean_t) != len(std_t):
        raise ValueError(f"{func}(mean={mean!r}, std={std!r}): mean and std must have equal lengths; "
                         f"got {len(mean_t)} and {len(std_t)}")
    if any(s <= 0 for s in std_t):
        raise ValueError(f"{func}(std={std!r}): every std must be finite and > 0")
    return mean_t, std_t


@op("normalize")
class Normalize(Transform):
    """Per-channel ``(x - mean) / std`` on a ``CHW float32`` tensor.

    Args:
        mean: one value per channel.
        std: one value per channel, each finite and > 0.
    """

    mean: tuple[float, ...]
    std: tuple[float, ...]

    def __post_init__(self) -> None:
        mean, std = _mean_std("normalize", self.mean, self.std)
        self.set("mean", mean)
        self.set("std", std)

    def infer(self, spec: TensorSpec) -> TensorSpec:
        self.expect(spec, dtype="float32", layout="chw")
        c = spec.channels
        if c is not None and c != len(self.mean):
            raise self.fail("mean", f"{len(self.mean)} values for a {c}-channel input")
        return TensorSpec("float32", "chw", spec.shape)


class ChannelAffine(Transform):
    """``HWC uint8`` → ``CHW float32`` as ``x · scale[c] + bias[c]``; one kernel serves every subclass."""

    __slots__ = ()
    kind: ClassVar[str] = "affine"

    def channel_affine(self, channels: int) -> tuple[np.ndarray, np.ndarray]:
        """Per-channel (scale, bias) in float64 for an input with ``channels`` channels."""
        raise NotImplementedError

    def fixed_channels(self) -> int | None:
        """The channel count the parameters imply, or ``None`` when any count works."""
        return None

    def infer(self, spec: TensorSpec) -> TensorSpec:
        self.expect(spec, **HWC_U8)
        c = spec.channels
        want = self.fixed_channels()
        if want is not None and c is not None and c != want:
            raise self.fail("mean", f"{want} values for a {c}-channel input")
        if spec.shape is None:
            return TensorSpec("float32", "chw", (want, None, None))
        h, w, _ = spec.shape
        return TensorSpec("float32", "chw", (c if c is not None else want, h, w))


_BASES = {"unit": (1 / 255, 0.0), "symmetric": (1 / 127.5, -1.0)}


@op("normalize_chw_from_hwc_u8")
class NormalizeChwFromHwcU8(ChannelAffine):
    """``HWC uint8`` → ``CHW float32``: ``v = x/255`` (unit) or ``x/127.5 − 1`` (symmetric), then ``(v − mean)/std``.

    Args:
        mean: one value per channel.
        std: one value per channel, each > 0.
        base: ``"unit"`` or ``"symmetric"``.
    """

    mean: tuple[float, ...]
    std: tuple[float, ...]
    base: str = "symmetric"

    def __post_init__(self) -> None:
        mean, std = _mean_std("normalize_chw_from_hwc_u8", self.mean, self.std)
        self.set("mean", mean)
        self.set("std", std)
        as_choice("normalize_chw_from_hwc_u8", "base", self.base, tuple(_BASES))

    def fixed_channels(self) -> int | None:
        return len(self.mean)

    def channel_affine(self, channels: int) -> tuple[np.ndarray, np.ndarray]:
        a, b = _BASES[self.base]
        std = np.asarray(self.std, dtype=np.float64)
        return a / std, (b - np.asarray(self.mean, dtype=np.float64)) / std


@op("symmetric_chw")
class SymmetricChw(ChannelAffine):
    """``HWC uint8`` → ``CHW float32`` as ``x/127.5 − 1``."""

    def channel_affine(self, channels: int) -> tuple[np.ndarray, np.ndarray]:
        return np.full(channels, 1 / 127.5), np.full(channels, -1.0)


@op("unit_chw")
class UnitChw(ChannelAffine):
    """``HWC uint8`` → ``CHW float32`` as ``x/255``."""

    def channel_affine(self, channels: int) -> tuple[np.ndarray, np.ndarray]:
        return np.full(channels, 1 / 255), np.zeros(channels)


@op("pack_chw_f32")
class PackChwF32(ChannelAffine):
    """``HWC uint8`` → ``CHW float32`` as ``x · scale + bias``.

    Args:
        scale: multiplier.
        bias: offset added after scaling.
    """

    scale: float
    bias: float = 0.0

    def __post_init__(self) -> None:
        self.set("scale", as_float("pack_chw_f32", "scale", self.scale))
        self.set("bias", as_float("pack_chw_f32", "bias", self.bias))

    def channel_affine(self, channels: int) -> tuple[np.ndarray, np.ndarray]:
        return np.full(channels, self.scale), np.full(channels, self.bias)


@op("cast")
class Cast(Transform):
    """Convert to ``dtype``; float → int truncates toward zero and saturates.

    Args:
        dtype: one of bool, uint8..uint64, int8..int64, float32, float64.
    """

    dtype: str

    def __post_init__(self) -> None:
        as_choice("cast", "dtype", self.dtype, CAST_DTYPES)

    def infer(self, spec: TensorSpec) -> TensorSpec:
        self.expect(spec)
        return TensorSpec(self.dtype, spec.layout, spec.shape)


class _Reshaping(Transform):
    """Layout ops: numpy semantics; the result has no image layout."""

    __slots__ = ()

    def infer(self, spec: TensorSpec) -> TensorSpec:
        self.expect(spec)
        return TensorSpec(spec.dtype, None, self.infer_shape(spec.shape))

    def infer_shape(self, shape: tuple[int | None, ...] | None) -> tuple[int | None, ...] | None:
        """The output shape when it can be known from ``shape``."""
        return None


def _int_tuple(func: str, param: str, value: Any, *, minimum: int | None = None) -> tuple[int, ...]:
    if isinstance(value, (str, bytes)) or not hasattr(value, "__iter__"):
        raise TypeError(f"{func}({param}={value!r}): {param} must be a sequence of ints")
    return tuple(as_int(func, param, v, minimum=minimum) for v in value)


@op("permute")
class Permute(_Reshaping):
    """Reorder axes (``numpy.transpose``).

    Args:
        axes: a permutation of ``range(rank)``.
    """

    axes: tuple[int, ...]

    def __post_init__(self) -> None:
        axes = _int_tuple("permute", "axes", self.axes)
        if sorted(axes) != list(range(len(axes))):
            raise self.fail("axes", f"axes must be a permutation of 0..{len(axes) - 1}")
        self.set("axes", axes)

    def infer(self, spec: TensorSpec) -> TensorSpec:
        self.expect(spec)
        if spec.shape is not None and len(spec.shape) != len(self.axes):
            raise self.fail("axes", f"{len(self.axes)} axes for a rank-{len(spec.shape)} input")
        layout = _permuted_layout(spec.layout, self.axes)
        shape = None if spec.shape is None else tuple(spec.shape[a] for a in self.axes)
        return TensorSpec(spec.dtype, layout, shape)


def _permuted_layout(layout: str | None, axes: tuple[int, ...]) -> str | None:
    if layout is None or len(axes) != 3:
        return None
    permuted = "".join(layout[a] for a in axes)
    return permuted if permuted in ("hwc", "chw") else None


@op("reshape")
class Reshape(_Reshaping):
    """Reshape (``numpy.reshape``; one dim may be -1).

    Args:
        shape: the new shape.
    """

    shape: tuple[int, ...]

    def __post_init__(self) -> None:
        shape = _int_tuple("reshape", "shape", self.shape, minimum=-1)
        if shape.count(-1) > 1 or 0 in shape:
            raise self.fail("shape", "dims must be positive, with at most one -1")
        self.set("shape", shape)

    def infer_shape(self, shape: tuple[int | None, ...] | None) -> tuple[int | None, ...] | None:
        if -1 not in self.shape:
            return self.shape
        if shape is None or None in shape:
            return tuple(None if d == -1 else d for d in self.shape)
        total, known = math.prod(shape), -math.prod(self.shape)  # type: ignore[arg-type]
        return tuple(total // known if d == -1 else d for d in self.shape)


@op("flatten")
class Flatten(_Reshaping):
    """Merge axes ``start_axis..end_axis`` (inclusive) into one.

    Args:
        start_axis: first axis merged.
        end_axis: last axis merged (negative counts from the end).
    """

    start_axis: int = 0
    end_axis: int = -1

    def __post_init__(self) -> None:
        self.set("start_axis", as_int("flatten", "start_axis", self.start_axis))
        self.set("end_axis", as_int("flatten", "end_axis", self.end_axis))

    def infer_shape(self, shape: tuple[int | None, ...] | None) -> tuple[int | None, ...] | None:
        if shape is None:
            return None
        lo, hi = self.start_axis % len(shape), self.end_axis % len(shape)
        merged = shape[lo:hi + 1]
        size = None if None in merged else math.prod(merged)  # type: ignore[arg-type]
        return shape[:lo] + (size,) + shape[hi + 1:]


@op("squeeze")
class Squeeze(_Reshaping):
    """Drop size-1 axes (all of them, or ``axis`` which must have size 1).

    Args:
        axis: the axis to drop, or ``None`` for every size-1 axis.
    """

    axis: int | None = None

    def __post_init__(self) -> None:
        if self.axis is not None:
            self.set("axis", as_int("squeeze", "axis", self.axis))

    def infer_shape(self, shape: tuple[int | None, ...] | None) -> tuple[int | None, ...] | None:
        if shape is None:
            return None
        if self.axis is None:
            return None if None in shape else tuple(d for d in shape if d != 1)
        axis = self.axis % len(shape)
        return shape[:axis] + shape[axis + 1:]


@op("unsqueeze")
class Unsqueeze(_Reshaping):
    """Insert a size-1 axis at ``axis``.

    Args:
        axis: position of the new axis (negative counts from the end of the result).
    """

    axis: int

    def __post_init__(self) -> None:
        self.set("axis", as_int("unsqueeze", "axis", self.axis))

    def infer_shape(self, shape: tuple[int | None, ...] | None) -> tuple[int | None, ...] | None:
        if shape is None:
            return None
        axis = self.axis % (len(shape) + 1)
        return shape[:axis] + (1,) + shape[axis:]


@op("patchify")
class Patchify(Transform):
    """``CHW`` → ``[num_patches, C·p·p]`` in row-major patch order (ViT input).

    Args:
        patch_size: square patch side; H and W must be multiples of it (else a row error).
    """

    patch_size: int

    def __post_init__(self) -> None:
        self.set("patch_size", as_int("patchify", "patch_size", self.patch_size, minimum=1))

    def infer(self, spec: TensorSpec) -> TensorSpec:
        self.expect(spec, layout="chw")
        if spec.shape is None or len(spec.shape) != 3:
            return TensorSpec(spec.dtype, None, (None, None))
        c, h, w = spec.shape
        p = self.patch_size
        for name, size in (("height", h), ("width", w)):
            if size is not None and size % p:
                raise self.fail("patch_size", f"{name} {size} is not a multiple of {p}")
        n = None if h is None or w is None else (h // p) * (w // p)
        return TensorSpec(spec.dtype, None, (n, None if c is None else c * p * p))


@op("pad_axis")
class PadAxis(Transform):
    """Pad one axis at its end up to ``target`` with ``value`` (longer input → row error).

    Args:
        axis: the axis to pad (negative counts from the end).
        target: its size afterwards.
        value: fill value.
    """

    axis: int
    target: int
    value: float = 0.0

    def __post_init__(self) -> None:
        self.set("axis", as_int("pad_axis", "axis", self.axis))
        self.set("target", as_int("pad_axis", "target", self.target, minimum=1))
        self.set("value", as_float("pad_axis", "value", self.value))

    def infer(self, spec: TensorSpec) -> TensorSpec:
        self.expect(spec)
        if spec.shape is None:
            return spec
        dims = list(spec.shape)
        dims[self.axis % len(dims)] = self.target
        return TensorSpec(spec.dtype, spec.layout, tuple(dims))


resize = Resize
resize_short = ResizeShort
resize_long = ResizeLong
fit_to_bucket = FitToBucket
center_crop = CenterCrop
crop = Crop
random_crop = RandomCrop
random_resized_crop = RandomResizedCrop
hflip = HFlip
vflip = VFlip
normalize = Normalize
normalize_chw_from_hwc_u8 = NormalizeChwFromHwcU8
symmetric_chw = SymmetricChw
unit_chw = UnitChw
pack_chw_f32 = PackChwF32
cast = Cast
permute = Permute
reshape = Reshape
flatten = Flatten
squeeze = Squeeze
unsqueeze = Unsqueeze
patchify = Patchify
pad_axis = PadAxis

__all__ = [
    "resize", "resize_short", "resize_long", "fit_to_bucket", "center_crop", "crop", "random_crop",
    "random_resized_crop", "hflip", "vflip", "normalize", "normalize_chw_from_hwc_u8",
    "symmetric_chw", "unit_chw", "pack_chw_f32", "cast", "permute", "reshape", "flatten",
    "squeeze", "unsqueeze", "patchify", "pad_axis", "NORMALIZE_PRESETS", "ChannelAffine",
]

from dataio.ops.branches import *  # noqa: E402,F403 - conditional ops live in the transforms namespace
from dataio.ops import branches as _branches  # noqa: E402

__all__ += _branches.__all__

from dataio.ops.audio import *  # noqa: E402,F403 - audio ops live in the transforms namespace
from dataio.ops import audio as _audio  # noqa: E402

__all__ += _audio.__all__

from dataio.ops.detection import *  # noqa: E402,F403 - detection ops live in the transforms namespace
from dataio.ops import detection as _detection  # noqa: E402

__all__ += _detection.__all__

from dataio.ops.augment import *  # noqa: E402,F403 - augmentation policies live in the transforms namespace
from dataio.ops import augment as _augment  # noqa: E402

__all__ += _augment.__all__

from dataio.ops.photometric import *  # noqa: E402,F403 - photometric ops live in the transforms namespace
from dataio.ops import photometric as _photometric  # noqa: E402

__all__ += _photometric.__all__

from dataio.ops.spatial import *  # noqa: E402,F403 - spatial ops live in the transforms namespace
from dataio.ops import spatial as _spatial  # noqa: E402

__all__ += _spatial.__all__
