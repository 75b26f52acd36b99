"""Photometric and classic image ops (docs/api.md §3.2): colour, blur, noise, tone curves, edges.

Input ``HWC uint8`` unless stated; the output keeps layout and dtype unless stated.
Random ops draw a fixed number of values from the record generator whether or not
they fire, so results never depend on timing (docs/api.md §4.7).
"""

from __future__ import annotations

from dataio._errors import PlanError
from dataio._validate import as_float, as_int
from dataio.ops._args import real
from dataio.ops._base import HWC_U8, ImageTransform, TensorSpec, Transform, op
from dataio.ops.cond import Param

def _prob(name: str, value: float) -> float:
    return as_float(name, "prob", value, minimum=0.0, maximum=1.0)


@op("color_jitter", random=True)
class ColorJitter(ImageTransform):
    """Random brightness, contrast, saturation and hue, applied in a random order (torchvision semantics).

    Factors: brightness/contrast/saturation ~ U[max(0, 1 − v), 1 + v]; hue shift ~ U[−hue, hue]
    (fraction of the hue circle). A parameter of 0 leaves that property unchanged.

    Args:
        brightness: >= 0.
        contrast: >= 0.
        saturation: >= 0.
        hue: in [0, 0.5].
    """

    brightness: float = 0.0
    contrast: float = 0.0
    saturation: float = 0.0
    hue: float = 0.0

    def __post_init__(self) -> None:
        for name in ("brightness", "contrast", "saturation"):
            self.set(name, as_float("color_jitter", name, getattr(self, name), minimum=0.0))
        self.set("hue", as_float("color_jitter", "hue", self.hue, minimum=0.0, maximum=0.5))

    def infer(self, spec: TensorSpec) -> TensorSpec:
        self.expect(spec, **HWC_U8)
        if spec.channels not in (3, None):
            raise PlanError(f"color_jitter: expects a 3-channel image; got {spec.describe()}")
        return spec


@op("grayscale", random=True)
class Grayscale(ImageTransform):
    """Convert to luma (ITU-R 601-2) with probability ``prob``, as 1 or 3 identical channels.

    With ``prob < 1`` the output must keep the input's channel count (so rows stack).

    Args:
        num_output_channels: 1 or 3.
        prob: probability in [0, 1].
    """

    num_output_channels: int = 3
    prob: float = 1.0

    def __post_init__(self) -> None:
        self.set("num_output_channels", as_int("grayscale", "num_output_channels", self.num_output_channels))
        if self.num_output_channels not in (1, 3):
            raise self.fail("num_output_channels",
                            f"num_output_channels must be 1 or 3; got {self.num_output_channels}")
        self.set("prob", _prob("grayscale", self.prob))

    def infer(self, spec: TensorSpec) -> TensorSpec:
        self.expect(spec, **HWC_U8)
        c = spec.channels
        if self.prob < 1.0 and c is not None and c != self.num_output_channels:
            raise self.fail("num_output_channels", f"with prob < 1 it must equal the input's {c} channels")
        if spec.shape is None:
            return spec
        h, w, _ = spec.shape
        return TensorSpec("uint8", "hwc", (h, w, self.num_output_channels))


@op("gaussian_blur", random=True)
class GaussianBlur(ImageTransform):
    """Blur with a ``kernel_size`` Gaussian whose sigma ~ U[sigma_lo, sigma_hi] per record (reflect borders).

    Args:
        kernel_size: odd, >= 1.
        sigma_lo: smallest sigma (> 0).
        sigma_hi: largest sigma (>= sigma_lo).
    """

    kernel_size: int = 5
    sigma_lo: float = 0.1
    sigma_hi: float = 2.0

    def __post_init__(self) -> None:
        self.set("kernel_size", as_int("gaussian_blur", "kernel_size", self.kernel_size, minimum=1))
        if self.kernel_size % 2 == 0:
            raise self.fail("kernel_size", f"kernel_size must be odd; got {self.kernel_size}")
        self.set("sigma_lo", as_float("gaussian_blur", "sigma_lo", self.sigma_lo, minimum=0.0, exclusive_minimum=True))
        self.set("sigma_hi", as_float("gaussian_blur", "sigma_hi", self.sigma_hi, minimum=0.0, exclusive_minimum=True))
        if self.sigma_lo > self.sigma_hi:
            raise self.fail("sigma_lo", f"sigma_lo must be <= sigma_hi={self.sigma_hi}; got {self.sigma_lo}")


@op("gaussian_noise", random=True)
class GaussianNoise(Transform):
    """Add N(0, std²) noise to a float32 tensor of any layout.

    The noise is counter-based: one 32-bit key drawn from the record's generator, then each
    element's normal a pure function of the key and the element's index (two 32-bit hashes,
    Box–Muller in float32; :mod:`dataio.ops.noise`). So a record's noise is the same on both
    executors (the GPU graph computes it; float32 ``log``/``cos`` may differ in the last bits)
    and in any batch, and the op takes one draw whatever the tensor's size.

    Args:
        std: standard deviation (>= 0), or ``col(field)``.
    """

    std: float | Param

    def __post_init__(self) -> None:
        self.set("std", real("gaussian_noise", "std", self.std, minimum=0.0))

    def infer(self, spec: TensorSpec) -> TensorSpec:
        self.expect(spec, dtype="float32")
        return spec


@op("invert", random=True)
class Invert(ImageTransform):
    """``255 − x`` with probability ``prob``.

    Args:
        prob: probability in [0, 1].
    """

    prob: float = 1.0

    def __post_init__(self) -> None:
        self.set("prob", _prob("invert", self.prob))


@op("solarize", random=True)
class Solarize(ImageTransform):
    """Invert the values ``>= threshold`` with probability ``prob``.

    Args:
        threshold: in [0, 256].
        prob: probability in [0, 1].
    """

    threshold: int = 128
    prob: float = 1.0

    def __post_init__(self) -> None:
        self.set("threshold", as_int("solarize", "threshold", self.threshold, minimum=0))
        if self.threshold > 256:
            raise self.fail("threshold", f"threshold must be in [0, 256]; got {self.threshold}")
        self.set("prob", _prob("solarize", self.prob))


def posterize_mask(bits: int) -> int:
    """The byte mask that keeps the ``bits`` high bits (``ImageOps.posterize``), for every executor."""
    return (0xFF << (8 - bits)) & 0xFF


@op("posterize", random=True)
class Posterize(ImageTransform):
    """Keep the ``bits`` high bits of every value with probability ``prob``.

    Args:
        bits: in [1, 8].
        prob: probability in [0, 1].
    """

    bits: int = 4
    prob: float = 1.0

    def __post_init__(self) -> None:
        self.set("bits", as_int("posterize", "bits", self.bits, minimum=1))
        if self.bits > 8:
            raise self.fail("bits", f"bits must be in [1, 8]; got {self.bits}")
        self.set("prob", _prob("posterize", self.prob))


@op("equalize", random=True)
class Equalize(ImageTransform):
    """Per-channel histogram equalisation with probability ``prob``, as DALI's ``fn.equalize`` and OpenCV's
    ``equalizeHist`` map values — so the GPU executor runs it in the graph and both executors agree.

    For a channel of ``N`` pixels with histogram ``h``, first non-empty bin ``i0``: value ``i``
    becomes ``round(255 · (h[i0+1] + … + h[i]) / (N − h[i0]))``, computed in float32 with ties
    to even; a channel with a single value is unchanged. This is not Pillow's
    ``ImageOps.equalize`` (nor torchvision's ``equalize``, which follows it): that one maps by
    the pixels *below* each value and leaves the top bin out, so the two can differ by up to
    one bin's share of the range.

    Args:
        prob: probability in [0, 1].
    """

    prob: float = 1.0

    def __post_init__(self) -> None:
        self.set("prob", _prob("equalize", self.prob))


@op("sharpen")
class Sharpen(ImageTransform):
    """Unsharp mask: ``x + amount · (x − blur_sigma(x))``, rounded and clipped to [0, 255].

    Args:
        sigma: Gaussian sigma of the blur (> 0); the kernel spans ±3 sigma.
        amount: strength (>= 0).
    """

    sigma: float = 1.0
    amount: float = 1.0

    def __post_init__(self) -> None:
        self.set("sigma", as_float("sharpen", "sigma", self.sigma, minimum=0.0, exclusive_minimum=True))
        self.set("amount", as_float("sharpen", "amount", self.amount, minimum=0.0))


@op("median_blur")
class MedianBlur(ImageTransform):
    """Per-channel median over a ``(2·radius + 1)²`` window (edge-replicated borders).

    Args:
        radius: window radius (>= 1).
    """

    radius: int = 1

    def __post_init__(self) -> None:
        self.set("radius", as_int("median_blur", "radius", self.radius, minimum=1))


@op("canny")
class Canny(ImageTransform):
    """Canny edges of the luma: ``[H, W, 1] uint8`` with 255 on edges, 0 elsewhere.

    3×3 Sobel gradients, L2 magnitude, non-maximum suppression along the quantised
    gradient direction, then hysteresis: pixels above ``high`` seed edges that grow through
    8-connected pixels above ``low``.

    Args:
        low: lower hysteresis threshold (>= 0).
        high: upper threshold (>= low).
    """

    low: float
    high: float

    def __post_init__(self) -> None:
        self.set("low", as_float("canny", "low", self.low, minimum=0.0))
        self.set("high", as_float("canny", "high", self.high, minimum=0.0))
        if self.low > self.high:
            raise self.fail("low", f"low must be <= high={self.high}; got {self.low}")

    def infer(self, spec: TensorSpec) -> TensorSpec:
        self.expect(spec, **HWC_U8)
        if spec.shape is None:
            return TensorSpec("uint8", "hwc", (None, None, 1))
        return TensorSpec("uint8", "hwc", (spec.shape[0], spec.shape[1], 1))


color_jitter = ColorJitter
grayscale = Grayscale
gaussian_blur = GaussianBlur
gaussian_noise = GaussianNoise
invert = Invert
solarize = Solarize
posterize = Posterize
equalize = Equalize
sharpen = Sharpen
median_blur = MedianBlur
canny = Canny

__all__ = ["canny", "color_jitter", "equalize", "gaussian_blur", "gaussian_noise", "grayscale", "invert",
           "median_blur", "posterize", "sharpen", "solarize"]
