"""Augmentation policies (docs/api.md §3.2 "augment"): RandAugment, AutoAugment (ImageNet), TrivialAugmentWide.

Semantics follow torchvision (operation spaces, magnitude bins, signed magnitudes,
nearest-neighbour geometry with zero fill); the random choices are drawn from the
record's generator (docs/api.md §4.7), so they are reproducible and differ per epoch.
Input and output: ``HWC uint8`` with 1 or 3 channels.
"""

from __future__ import annotations

from dataio._validate import as_choice, as_int
from dataio.ops._base import ImageTransform, op

RAND_AUGMENT_BINS = 31
AUTO_AUGMENT_POLICIES = ("imagenet",)


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


rand_augment = RandAugment
auto_augment = AutoAugment
trivial_augment_wide = TrivialAugmentWide

__all__ = ["rand_augment", "auto_augment", "trivial_augment_wide"]
