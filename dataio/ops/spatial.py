"""Spatial ops (docs/api.md §3.2): padding, affine warps, perspective, occlusion (erasing, grid mask).

Warps take ``HWC uint8`` and keep the size; ``pad`` and ``random_erasing`` take any layout
(``CHW`` pads/erases axes 1–2, everything else axes 0–1). Random ops draw a fixed number
of values from the record generator whether or not they fire (docs/api.md §4.7).
"""

from __future__ import annotations

from typing import Any

from dataio._errors import PlanError
from dataio._validate import as_choice, as_float, as_float_pair, as_int
from dataio.ops._args import dim, static
from dataio.ops._base import ImageTransform, TensorSpec, Transform, image_axes, op

PAD_MODES = ("constant", "reflect", "edge")
WARP_INTERPOLATIONS = ("nearest", "bilinear", "bicubic")


@op("pad")
class Pad(Transform):
    """Pad the image axes: ``constant`` (with ``value``), ``reflect`` or ``edge`` (numpy.pad modes).

    Args:
        top: rows added above (int >= 0 or ``col(...)``).
        bottom: rows added below.
        left: columns added on the left.
        right: columns added on the right.
        mode: ``"constant"``, ``"reflect"`` (mirror without repeating the edge; each side must be
            longer than its pads, else a row error) or ``"edge"`` (repeat the edge).
        value: fill value for ``"constant"``, converted to the input dtype as ``cast`` does
            (integers truncate toward zero and saturate).
    """

    top: Any = 0
    bottom: Any = 0
    left: Any = 0
    right: Any = 0
    mode: str = "constant"
    value: float = 0

    def __post_init__(self) -> None:
        for side in ("top", "bottom", "left", "right"):
            self.set(side, dim("pad", side, getattr(self, side), minimum=0))
        as_choice("pad", "mode", self.mode, PAD_MODES)
        self.set("value", as_float("pad", "value", self.value))

    def infer(self, spec: TensorSpec) -> TensorSpec:
        self.expect(spec)
        if spec.shape is None or len(spec.shape) < 2:
            return spec
        dims = list(spec.shape)
        ha, wa = image_axes(spec)
        for axis, before, after in ((ha, self.top, self.bottom), (wa, self.left, self.right)):
            b, a = static(before), static(after)
            size = dims[axis]
            dims[axis] = None if size is None or b is None or a is None else size + b + a
        return TensorSpec(spec.dtype, spec.layout, tuple(dims))


@op("affine")
class Affine(ImageTransform):
    """A fixed affine warp about the image centre (torchvision ``F.affine``), same output size.

    Args:
        angle_deg: rotation about the centre in degrees, counter-clockwise on screen
            (``angle_deg=90`` on a square image is ``numpy.rot90``).
        tx: horizontal translation in pixels, applied after the rotation (positive: right).
        ty: vertical translation in pixels (positive: down).
        scale: zoom about the centre (> 0; 2 doubles the size of the content).
        shear_deg: horizontal shear in degrees, applied before the rotation: a point ``y``
            pixels below the centre moves ``−tan(shear_deg) · y`` pixels in x (torchvision).
        fill: value of pixels coming from outside the source (0–255).
        interp: ``"nearest"``, ``"bilinear"`` or ``"bicubic"``.
    """

    angle_deg: float = 0.0
    tx: float = 0.0
    ty: float = 0.0
    scale: float = 1.0
    shear_deg: float = 0.0
    fill: int = 0
    interp: str = "bilinear"

    def __post_init__(self) -> None:
        for name in ("angle_deg", "tx", "ty", "shear_deg"):
            self.set(name, as_float("affine", name, getattr(self, name)))
        self.set("scale", as_float("affine", "scale", self.scale, minimum=0.0, exclusive_minimum=True))
        self.set("fill", _fill("affine", self.fill))
        as_choice("affine", "interp", self.interp, WARP_INTERPOLATIONS)


def _fill(func: str, value: Any) -> int:
    fill = as_int(func, "fill", value, minimum=0)
    if fill > 255:
        raise PlanError(f"{func}(fill={value!r}): fill must be an int in [0, 255]; got {fill}")
    return fill


@op("random_affine", random=True)
class RandomAffine(ImageTransform):
    """A random affine warp (torchvision ``RandomAffine``): angle, translation, scale and shear drawn per record.

    angle ~ U(−degrees, degrees); tx ~ round(U(−fx·W, fx·W)) pixels, ty ~ round(U(−fy·H, fy·H));
    scale ~ U(scale_range); horizontal shear ~ U(−shear_deg, shear_deg); then as ``affine``.

    Args:
        degrees: rotation range (>= 0).
        translate: ``(fx, fy)`` fractions of width/height in [0, 1].
        scale_range: ``(lo, hi)`` zoom range, 0 < lo <= hi.
        shear_deg: shear range in degrees (>= 0).
        fill: value of pixels coming from outside the source.
        interp: ``"nearest"``, ``"bilinear"`` or ``"bicubic"``.
    """

    degrees: float = 0.0
    translate: tuple[float, float] = (0.0, 0.0)
    scale_range: tuple[float, float] = (1.0, 1.0)
    shear_deg: float = 0.0
    fill: int = 0
    interp: str = "bilinear"

    def __post_init__(self) -> None:
        self.set("degrees", as_float("random_affine", "degrees", self.degrees, minimum=0.0))
        self.set("translate", as_float_pair("random_affine", "translate", self.translate, ordered=False, minimum=0.0,
                                               maximum=1.0))
        self.set("scale_range", as_float_pair("random_affine", "scale_range", self.scale_range, minimum=0.0,
                                      exclusive_minimum=True))
        self.set("shear_deg", as_float("random_affine", "shear_deg", self.shear_deg, minimum=0.0))
        self.set("fill", _fill("random_affine", self.fill))
        as_choice("random_affine", "interp", self.interp, WARP_INTERPOLATIONS)


@op("random_perspective", random=True)
class RandomPerspective(ImageTransform):
    """A random perspective warp with probability ``prob`` (torchvision ``RandomPerspective``, bilinear).

    Each corner of the picture moves inwards by a uniform whole number of pixels, up to
    ``int(distortion · (W // 2))`` across and ``int(distortion · (H // 2))`` down; the
    uncovered border takes ``fill``.

    Args:
        distortion: largest corner move as a fraction of half the size, in [0, 1].
        prob: probability in [0, 1].
        fill: value of pixels coming from outside the source.
    """

    distortion: float = 0.5
    prob: float = 0.5
    fill: int = 0

    def __post_init__(self) -> None:
        self.set("distortion", as_float("random_perspective", "distortion", self.distortion, minimum=0.0,
                                        maximum=1.0))
        self.set("prob", as_float("random_perspective", "prob", self.prob, minimum=0.0, maximum=1.0))
        self.set("fill", _fill("random_perspective", self.fill))


@op("random_erasing", random=True)
class RandomErasing(Transform):
    """Erase one random rectangle with ``value`` with probability ``prob`` (torchvision ``RandomErasing``).

    Up to 10 attempts of area ~ U(scale)·H·W and aspect h/w ~ exp(U(log ratio)) until the
    rectangle fits inside; none fits → unchanged. Any layout and dtype (``CHW`` erases
    axes 1–2, every channel).

    Args:
        prob: probability in [0, 1].
        scale: ``(lo, hi)`` area fraction range in (0, 1].
        ratio: ``(lo, hi)`` aspect (h/w) range, > 0.
        value: the fill value (a number), converted to the input dtype as ``cast`` does.
    """

    prob: float = 0.5
    scale: tuple[float, float] = (0.02, 0.33)
    ratio: tuple[float, float] = (0.3, 3.3)
    value: float = 0

    def __post_init__(self) -> None:
        self.set("prob", as_float("random_erasing", "prob", self.prob, minimum=0.0, maximum=1.0))
        self.set("scale", as_float_pair("random_erasing", "scale", self.scale, minimum=0.0, maximum=1.0,
                                exclusive_minimum=True))
        self.set("ratio", as_float_pair("random_erasing", "ratio", self.ratio, minimum=0.0, exclusive_minimum=True))
        self.set("value", as_float("random_erasing", "value", self.value))

    def infer(self, spec: TensorSpec) -> TensorSpec:
        self.expect(spec)
        return spec


@op("grid_mask", random=True)
class GridMask(ImageTransform):
    """GridMask: zero squares of side ``round(ratio · d)`` on a grid of period ``d`` ~ U[d_min, d_max].

    The grid gets a random offset and, with ``rotate_deg > 0``, a random rotation in
    [−rotate_deg, rotate_deg]; applied with probability ``prob``.

    Args:
        d_min: smallest grid period in pixels (>= 2).
        d_max: largest grid period (>= d_min).
        ratio: square side as a fraction of the period, in (0, 1].
        rotate_deg: rotation range in degrees (>= 0).
        prob: probability in [0, 1].
    """

    d_min: int = 96
    d_max: int = 224
    ratio: float = 0.6
    rotate_deg: float = 0.0
    prob: float = 1.0

    def __post_init__(self) -> None:
        self.set("d_min", as_int("grid_mask", "d_min", self.d_min, minimum=2))
        self.set("d_max", as_int("grid_mask", "d_max", self.d_max, minimum=2))
        if self.d_min > self.d_max:
            raise self.fail("d_min", f"d_min must be <= d_max={self.d_max}")
        self.set("ratio", as_float("grid_mask", "ratio", self.ratio, minimum=0.0, maximum=1.0,
                                   exclusive_minimum=True))
        self.set("rotate_deg", as_float("grid_mask", "rotate_deg", self.rotate_deg, minimum=0.0))
        self.set("prob", as_float("grid_mask", "prob", self.prob, minimum=0.0, maximum=1.0))


pad = Pad
affine = Affine
random_affine = RandomAffine
random_perspective = RandomPerspective
random_erasing = RandomErasing
grid_mask = GridMask

__all__ = ["affine", "grid_mask", "pad", "random_affine", "random_erasing", "random_perspective"]
