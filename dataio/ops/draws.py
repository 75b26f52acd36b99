"""Random draws of the ops, shared by every executor: one function per kind of draw, one order.

Each draw takes the record's generator (``ChainContext.rng``) and consumes a fixed number
of values whether or not the op fires, so one op's outcome never shifts another's. The CPU
kernels call these while they run; the GPU executor calls the same functions on the host,
in chain order, and feeds the results to its graph as per-sample arguments — so both
executors fire the same ops on the same records.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from dataio.ops import augment as A


def uniform(rng: np.random.Generator, lo: float, hi: float) -> float:
    """``rng.uniform(lo, hi)``, bit for bit (numpy computes ``lo + (hi - lo) · next_double``), without
    numpy's per-call argument handling: a third of the cost on the host path."""
    return lo + (hi - lo) * rng.random()


def draw_coin(rng: np.random.Generator, prob: float) -> bool:
    """Whether an op with probability ``prob`` fires: one uniform draw, taken whether it fires or not."""
    return bool(rng.random() < prob)


def draw_offset(rng: np.random.Generator, size: int, window: int) -> int:
    """A uniformly placed window start in ``[0, size - window]`` (one draw; ``window <= size``)."""
    return int(rng.integers(0, size - window + 1))


@dataclass(frozen=True, slots=True)
class JitterDraw:
    """The draws of ``color_jitter`` (torchvision ``ColorJitter.get_params``).

    Attributes:
        order: the order of the four adjustments (0 brightness, 1 contrast, 2 saturation, 3 hue).
        factors: the brightness, contrast and saturation factors.
        hue: the hue shift, in turns (``[-0.5, 0.5]``).
    """

    order: tuple[int, int, int, int]
    factors: tuple[float, float, float]
    hue: float

    @property
    def hue_step(self) -> int:
        """The shift added to Pillow's uint8 hue: ``trunc(hue · 255) mod 256``, as torchvision's PIL path."""
        return int(self.hue * 255) % 256


def draw_color_jitter(rng: np.random.Generator, op: Any) -> JitterDraw:
    """Always five draws, in this order: a permutation of 4, the three factors, the hue shift.

    Factor ``i`` is uniform in ``[max(0, 1 - v), 1 + v]`` for its strength ``v`` (drawn even when
    ``v`` is 0); the hue shift is uniform in ``[-hue, hue]``.
    """
    order = rng.permutation(4)
    factors = [uniform(rng, max(0.0, 1.0 - v), 1.0 + v) for v in (op.brightness, op.contrast, op.saturation)]
    hue = uniform(rng, -op.hue, op.hue)
    return JitterDraw(tuple(order.tolist()), tuple(factors), hue)  # type: ignore[arg-type]


def draw_uniform(rng: np.random.Generator, lo: float, hi: float) -> float:
    """One uniform draw in ``[lo, hi)`` (e.g. ``gaussian_blur``'s sigma)."""
    return uniform(rng, lo, hi)


@dataclass(frozen=True, slots=True)
class AffineDraw:
    """The draws of ``random_affine``: angle (degrees, counter-clockwise), translation uniforms in
    ``[-1, 1)`` (scaled by the image size later), zoom and horizontal shear (degrees)."""

    angle: float
    u_tx: float
    u_ty: float
    scale: float
    shear: float

    def translation(self, op: Any, height: int, width: int) -> tuple[int, int]:
        """Whole-pixel ``(tx, ty)`` for an image of this size: ``round(u · fraction · side)``."""
        return round(self.u_tx * op.translate[0] * width), round(self.u_ty * op.translate[1] * height)


def draw_random_affine(rng: np.random.Generator, op: Any) -> AffineDraw:
    """Always five draws, in this order: angle, two translation uniforms, zoom, shear."""
    angle = uniform(rng, -op.degrees, op.degrees)
    u_tx, u_ty = uniform(rng, -1.0, 1.0), uniform(rng, -1.0, 1.0)
    scale = uniform(rng, *op.scale_range)
    shear = uniform(rng, -op.shear_deg, op.shear_deg)
    return AffineDraw(angle, u_tx, u_ty, scale, shear)


ERASING_ATTEMPTS = 10
"""torchvision ``RandomErasing`` tries this many rectangles before giving up."""


def draw_erasing(rng: np.random.Generator) -> tuple[float, np.ndarray]:
    """The coin uniform and ``[ERASING_ATTEMPTS, 4]`` uniforms (area, aspect, y, x per attempt): 41 draws, always."""
    coin = rng.random()
    return coin, rng.random((ERASING_ATTEMPTS, 4))


def draw_perspective(rng: np.random.Generator) -> np.ndarray:
    """``random_perspective``'s nine uniforms, always: the coin, then the eight corner insets."""
    return rng.random(9)


def draw_grid_mask(rng: np.random.Generator) -> np.ndarray:
    """``grid_mask``'s five uniforms, always: the coin, the period, the two offsets, the angle."""
    return rng.random(5)


def draw_policy(rng: np.random.Generator, op: Any, height: int, width: int) -> list[tuple[str, float]]:
    """The operations an augmentation policy applies to one ``height`` × ``width`` image, in order, with their
    signed magnitudes — drawn exactly as torchvision's policies draw (docs/api.md §3.2 "augment").

    RandAugment: ``n`` times an operation (uniform integer) and a sign, at bin ``m`` of 31.
    TrivialAugmentWide: an operation, a bin of 31 (wide ranges) and a sign. AutoAugment: a
    sub-policy, two probability uniforms and two signs; an operation applies when its uniform
    is at most its probability.
    """
    if isinstance(op, A.RandAugment):
        space = A.operation_space(A.RAND_AUGMENT_BINS, height, width, wide=False)
        names, chosen = list(space), []
        for _ in range(op.n):
            name = names[int(rng.integers(len(names)))]
            chosen.append((name, A.signed_magnitude(space, name, op.m, bool(rng.integers(2)))))
        return chosen
    if isinstance(op, A.TrivialAugmentWide):
        space = A.operation_space(31, height, width, wide=True)
        names = list(space)
        name = names[int(rng.integers(len(names)))]
        bin_index = int(rng.integers(31))
        return [(name, A.signed_magnitude(space, name, bin_index, bool(rng.integers(2))))]
    space = A.operation_space(10, height, width, wide=False)
    space["Invert"] = (None, False)
    policy = A.IMAGENET_POLICY[int(rng.integers(len(A.IMAGENET_POLICY)))]
    probs = rng.random(2)
    signs = rng.integers(2, size=2)
    return [(name, A.signed_magnitude(space, name, bin_index or 0, sign == 0))
            for (name, prob, bin_index), draw, sign in zip(policy, probs, signs, strict=True) if draw <= prob]
