"""Augmentation policies (docs/api.md §3.2 "augment"): RandAugment, AutoAugment (ImageNet), TrivialAugmentWide.

Semantics follow torchvision (operation spaces, magnitude bins, signed magnitudes,
nearest-neighbour geometry with zero fill); the random choices are drawn from the
record's generator (docs/api.md §4.7), so they are reproducible and differ per epoch.
Input and output: ``HWC uint8`` with 1 or 3 channels.
"""

from __future__ import annotations

import numpy as np

from dataio._validate import as_choice, as_int
from dataio.ops._base import ImageTransform, op

RAND_AUGMENT_BINS = 31
AUTO_AUGMENT_POLICIES = ("imagenet",)

Space = dict[str, tuple[np.ndarray | None, bool]]
"""Operation name → (magnitude per bin, or ``None`` for operations without one; whether it is signed)."""


@op("rand_augment", random=True)
class RandAugment(ImageTransform):
    """RandAugment: ``n`` operations drawn uniformly (with replacement), each at magnitude ``m`` of 30.

    Args:
        n: operations per image (>= 0).
        m: magnitude bin in [0, 30].
    """

    n: int = 2
    m: int = 9

    def __post_init__(self) -> None:
        self.set("n", as_int("rand_augment", "n", self.n, minimum=0))
        self.set("m", as_int("rand_augment", "m", self.m, minimum=0))
        if self.m >= RAND_AUGMENT_BINS:
            raise self.fail("m", f"m must be in [0, {RAND_AUGMENT_BINS - 1}]; got {self.m}")


@op("auto_augment", random=True)
class AutoAugment(ImageTransform):
    """AutoAugment with the ImageNet policy: one of 25 learned sub-policies of two operations.

    Args:
        policy: only ``"imagenet"``.
    """

    policy: str = "imagenet"

    def __post_init__(self) -> None:
        as_choice("auto_augment", "policy", self.policy, AUTO_AUGMENT_POLICIES)


@op("trivial_augment_wide", random=True)
class TrivialAugmentWide(ImageTransform):
    """TrivialAugment (wide ranges): one operation at a uniformly drawn magnitude."""


def operation_space(bins: int, height: int, width: int, *, wide: bool) -> Space:
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


def signed_magnitude(space: Space, name: str, bin_index: int, negative: bool) -> float:
    """The magnitude of ``name`` at ``bin_index`` (0 without one), negated for signed operations when ``negative``."""
    values, signed = space[name]
    magnitude = float(values[bin_index]) if values is not None else 0.0
    return -magnitude if signed and negative else magnitude


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


rand_augment = RandAugment
auto_augment = AutoAugment
trivial_augment_wide = TrivialAugmentWide

__all__ = ["rand_augment", "auto_augment", "trivial_augment_wide"]
