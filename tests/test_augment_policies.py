"""Augmentation policies: their operations against numpy oracles, seeding, and parameter checks."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from PIL import Image

import dataio
from dataio import transforms as T
from dataio.cpu_fallback.augment import apply_op
from tests.conftest import encode

PIXELS = np.random.default_rng(0).integers(0, 256, (12, 16, 3), dtype=np.uint8)


def op(name: str, magnitude: float) -> np.ndarray:
    return np.asarray(apply_op(Image.fromarray(PIXELS), name, magnitude))


def test_translate_moves_pixels_and_fills_zero() -> None:
    got = op("TranslateX", 3.0)
    np.testing.assert_array_equal(got[:, 3:], PIXELS[:, :-3])
    assert not got[:, :3].any()
    got = op("TranslateY", -2.0)
    np.testing.assert_array_equal(got[:-2], PIXELS[2:])


def test_shear_x_keeps_the_top_row_and_shifts_lower_rows() -> None:
    got = op("ShearX", 0.25)  # x_src = x + 0.25·y (centre at the origin, torchvision's convention)
    np.testing.assert_array_equal(got[0], PIXELS[0])
    np.testing.assert_array_equal(got[8, :12], PIXELS[8, 2:14])


def test_photometric_operations() -> None:
    np.testing.assert_array_equal(op("Posterize", 2), PIXELS & 0b11000000)
    np.testing.assert_array_equal(op("Solarize", 128), np.where(PIXELS >= 128, 255 - PIXELS, PIXELS))
    np.testing.assert_array_equal(op("Invert", 0), 255 - PIXELS)
    np.testing.assert_array_equal(op("Identity", 0), PIXELS)
    dark = op("Brightness", -0.5)
    np.testing.assert_allclose(dark.astype(int), np.round(PIXELS * 0.5).astype(int), atol=1)


def test_rotate_by_90_on_a_square_image() -> None:
    square = PIXELS[:12, :12]
    got = np.asarray(apply_op(Image.fromarray(square), "Rotate", 90.0))
    np.testing.assert_array_equal(got, np.rot90(square))  # counter-clockwise, as PIL and torchvision


def run(*ops: Any, seed: int, n: int = 16) -> np.ndarray:
    pipe = dataio.pipeline(dataio.slot("x").decode_image().apply(*ops), dataio.batch(n))
    records = [{"x": encode(Image.fromarray(PIXELS))} for _ in range(n)]
    with pipe.bind(records).run("numpy", seed=seed, on_failure="strict") as loader:
        return next(iter(loader))["x"]


@pytest.mark.parametrize("policy", [T.rand_augment(n=2, m=9), T.auto_augment(), T.trivial_augment_wide()])
def test_policies_are_seeded_and_vary_across_records(policy: Any) -> None:
    first, again, other = run(policy, seed=1), run(policy, seed=1), run(policy, seed=2)
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)
    assert len({row.tobytes() for row in first}) > 2
    assert first.shape == (16, 12, 16, 3) and first.dtype == np.uint8


def test_rand_augment_with_no_operations_is_identity() -> None:
    np.testing.assert_array_equal(run(T.rand_augment(n=0), seed=3, n=2)[0], PIXELS)


def test_policy_validation() -> None:
    with pytest.raises(ValueError, match="m must be in"):
        T.rand_augment(m=31)
    with pytest.raises(ValueError, match="policy"):
        T.auto_augment(policy="cifar10")
    with pytest.raises(dataio.PlanError):
        dataio.pipeline(dataio.slot("x").decode_image().normalize("imagenet").rand_augment(), dataio.batch(1))
