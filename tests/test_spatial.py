"""Spatial ops against numpy oracles."""

from __future__ import annotations

import io
from typing import Any

import numpy as np
import pytest
from PIL import Image

import dataio
from dataio import transforms as T
from tests.conftest import encode

PIXELS = np.random.default_rng(2).integers(1, 256, (10, 14, 3), dtype=np.uint8)  # no zeros: fill is visible


def run(*ops: Any, pixels: np.ndarray = PIXELS, n: int = 1, seed: int = 0, **fields: Any) -> np.ndarray:
    pipe = dataio.pipeline(dataio.slot("x").decode_image().apply(*ops), dataio.batch(n))
    with pipe.bind([{"x": encode(Image.fromarray(pixels)), **fields}] * n).run(
            "numpy", seed=seed, on_failure="strict") as loader:
        return next(iter(loader))["x"]


def npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


@pytest.mark.parametrize("mode", ["constant", "reflect", "edge"])
def test_pad_matches_numpy(mode: str) -> None:
    got = run(T.pad(top=1, bottom=2, left=3, right=0, mode=mode, value=7))[0]
    kwargs = {"constant_values": 7} if mode == "constant" else {}
    np.testing.assert_array_equal(got, np.pad(PIXELS, ((1, 2), (3, 0), (0, 0)), mode=mode, **kwargs))


def test_pad_chw_float_and_per_record_sizes() -> None:
    chw = np.arange(2 * 3 * 4, dtype=np.float32).reshape(2, 3, 4)
    pipe = dataio.pipeline(dataio.slot("x").decode_npy().apply(T.cast(dtype="float32")).pad(top=dataio.col("t")),
                           dataio.batch(1))
    with pipe.bind([{"x": npy(chw), "t": 2}]).run("numpy") as loader:
        got = next(iter(loader))["x"][0]
    np.testing.assert_array_equal(got, np.pad(chw, ((2, 0), (0, 0), (0, 0))))  # npy rows: axes 0-1
    plan = dataio.pipeline(dataio.slot("x").decode_image().normalize("imagenet").pad(left=2, right=2),
                           dataio.batch(1)).plan
    assert plan.slots[0].output.describe() == "CHW float32 [3, ?, ?]"


def test_affine_rotation_and_translation() -> None:
    square = PIXELS[:10, :10]
    rotated = run(T.affine(angle_deg=90, interp="nearest"), pixels=square)[0]
    np.testing.assert_array_equal(rotated, np.rot90(square))  # counter-clockwise
    shifted = run(T.affine(tx=3, ty=-2, interp="nearest"))[0]
    np.testing.assert_array_equal(shifted[:8, 3:], PIXELS[2:, :11])
    assert not shifted[:, :3].any() and not shifted[8:].any()


def test_random_affine_identity_range_and_seeding() -> None:
    np.testing.assert_array_equal(run(T.random_affine(interp="nearest"))[0], PIXELS)
    op = T.random_affine(degrees=30, translate=(0.2, 0.2), scale_range=(0.8, 1.2), shear_deg=10)
    first, again, other = run(op, n=6, seed=1), run(op, n=6, seed=1), run(op, n=6, seed=2)
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other) and len({r.tobytes() for r in first}) == 6


def test_random_perspective() -> None:
    np.testing.assert_array_equal(run(T.random_perspective(prob=0.0))[0], PIXELS)
    warped = run(T.random_perspective(distortion=0.8, prob=1.0), n=4, seed=3)
    assert warped.shape == (4, 10, 14, 3) and not np.array_equal(warped[0], PIXELS)
    assert (warped == 0).any()  # corners pulled inwards expose the fill


def test_random_erasing_erases_one_rectangle_within_bounds() -> None:
    big = np.random.default_rng(5).integers(1, 256, (40, 50, 3), dtype=np.uint8)
    out = run(T.random_erasing(prob=1.0, scale=(0.05, 0.2), ratio=(0.5, 2.0), value=0), pixels=big, n=8, seed=4)
    for row in out:
        erased = (row == 0).all(axis=2)
        ys, xs = np.nonzero(erased)
        assert ys.size, "prob=1 must erase"
        assert erased[ys.min():ys.max() + 1, xs.min():xs.max() + 1].all()  # one filled rectangle
        assert 0.05 * 2000 * 0.8 <= erased.sum() <= 0.2 * 2000 * 1.25
        np.testing.assert_array_equal(row[~erased], big[~erased])
    np.testing.assert_array_equal(run(T.random_erasing(prob=0.0), pixels=big)[0], big)


def test_grid_mask_zeroes_a_periodic_grid_of_squares() -> None:
    big = np.random.default_rng(6).integers(1, 256, (32, 32, 3), dtype=np.uint8)
    got = run(T.grid_mask(d_min=8, d_max=8, ratio=0.5), pixels=big)[0]
    hole = (got == 0).all(axis=2)
    assert abs(hole.mean() - 0.25) < 0.02  # (4/8)² of the area
    np.testing.assert_array_equal(hole, np.roll(hole, 8, axis=0))
    np.testing.assert_array_equal(hole, np.roll(hole, 8, axis=1))
    np.testing.assert_array_equal(got[~hole], big[~hole])


def test_spatial_validation() -> None:
    with pytest.raises(ValueError, match="mode"):
        T.pad(mode="wrap")
    with pytest.raises(ValueError, match="scale"):
        T.affine(scale=0)
    with pytest.raises(ValueError, match="d_min"):
        T.grid_mask(d_min=10, d_max=5)
    with pytest.raises(ValueError, match="scale"):
        T.random_erasing(scale=(0.5, 0.1))
    with pytest.raises(TypeError, match="translate"):
        T.random_affine(translate=0.1)
