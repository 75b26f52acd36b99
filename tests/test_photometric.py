"""Photometric ops against numpy oracles."""

from __future__ import annotations

import io
from typing import Any

import numpy as np
import pytest
from PIL import Image

import dataio
from dataio import transforms as T
from tests.conftest import encode

PIXELS = np.random.default_rng(1).integers(0, 256, (9, 11, 3), dtype=np.uint8)


def run(*ops: Any, pixels: np.ndarray = PIXELS, n: int = 1, seed: int = 0, **options: Any) -> Any:
    pipe = dataio.pipeline(dataio.slot("x").decode_image(mode="gray" if pixels.shape[2] == 1 else "rgb").apply(*ops),
                           dataio.batch(n))
    image = Image.fromarray(pixels[:, :, 0] if pixels.shape[2] == 1 else pixels)
    with pipe.bind([{"x": encode(image)}] * n).run("numpy", seed=seed, **options) as loader:
        return next(iter(loader))["x"]


def test_invert_solarize_posterize() -> None:
    np.testing.assert_array_equal(run(T.invert())[0], 255 - PIXELS)
    np.testing.assert_array_equal(run(T.solarize(threshold=100))[0], np.where(PIXELS >= 100, 255 - PIXELS, PIXELS))
    np.testing.assert_array_equal(run(T.posterize(bits=3))[0], PIXELS & 0b11100000)
    np.testing.assert_array_equal(run(T.invert(prob=0.0))[0], PIXELS)


def test_random_ops_fire_per_record_with_their_probability() -> None:
    out = run(T.invert(prob=0.5), n=40, seed=2)
    inverted = [np.array_equal(r, 255 - PIXELS) for r in out]
    assert all(inv or np.array_equal(r, PIXELS) for inv, r in zip(inverted, out, strict=True))
    assert 8 < sum(inverted) < 32


def test_grayscale_is_pillow_luma() -> None:
    expected = np.asarray(Image.fromarray(PIXELS).convert("L"))
    three = run(T.grayscale())[0]
    assert three.shape == (9, 11, 3)
    for c in range(3):
        np.testing.assert_array_equal(three[:, :, c], expected)
    np.testing.assert_array_equal(run(T.grayscale(num_output_channels=1))[0][:, :, 0], expected)


def gaussian_oracle(pixels: np.ndarray, size: int, sigma: float) -> np.ndarray:
    x = np.arange(size) - (size - 1) / 2
    taps = np.exp(-0.5 * (x / sigma) ** 2)
    taps /= taps.sum()
    half = size // 2
    image = pixels.astype(np.float64)
    padded = np.pad(image, ((half, half), (0, 0), (0, 0)), mode="reflect")
    image = sum(t * padded[k:k + pixels.shape[0]] for k, t in enumerate(taps))
    padded = np.pad(image, ((0, 0), (half, half), (0, 0)), mode="reflect")
    image = sum(t * padded[:, k:k + pixels.shape[1]] for k, t in enumerate(taps))
    return np.clip(np.rint(image), 0, 255)


def test_gaussian_blur_with_fixed_sigma_matches_the_separable_oracle() -> None:
    got = run(T.gaussian_blur(kernel_size=5, sigma_lo=1.3, sigma_hi=1.3))[0]
    assert np.abs(got.astype(int) - gaussian_oracle(PIXELS, 5, 1.3)).max() <= 1


def test_sharpen_is_an_unsharp_mask() -> None:
    got = run(T.sharpen(sigma=1.0, amount=0.5))[0]
    blurred = gaussian_oracle(PIXELS, 7, 1.0)  # unrounded would be exact; allow the rounding of the oracle
    expected = np.clip(np.rint(PIXELS + 0.5 * (PIXELS - blurred)), 0, 255)
    assert np.abs(got.astype(int) - expected).max() <= 1


def test_median_blur_matches_a_numpy_median() -> None:
    got = run(T.median_blur(radius=1))[0]
    padded = np.pad(PIXELS, ((1, 1), (1, 1), (0, 0)), mode="edge")
    stack = np.stack([padded[dy:dy + 9, dx:dx + 11] for dy in range(3) for dx in range(3)])
    np.testing.assert_array_equal(got, np.median(stack, axis=0).astype(np.uint8))


def test_equalize_matches_pillows_algorithm() -> None:
    got = run(T.equalize())[0]
    for c in range(3):
        band = PIXELS[:, :, c]
        histogram = np.bincount(band.ravel(), minlength=256)
        last = histogram[np.nonzero(histogram)[0][-1]]
        step = (histogram.sum() - last) // 255
        lut = (step // 2 + np.concatenate([[0], np.cumsum(histogram)[:-1]])) // step if step else np.arange(256)
        np.testing.assert_array_equal(got[:, :, c], np.clip(lut, 0, 255)[band])


def test_canny_finds_the_border_of_a_square() -> None:
    square = np.zeros((20, 20, 1), np.uint8)
    square[5:15, 5:15] = 200
    edges = run(T.canny(low=50, high=150), pixels=square)[0][:, :, 0]
    assert set(np.unique(edges)) <= {0, 255}
    assert not edges[:3].any() and not edges[8:12, 8:12].any()  # flat regions stay empty
    assert edges[4:16, 4:6].any() and edges[4:16, 14:16].any()  # left and right sides found
    assert not run(T.canny(low=1000, high=2000), pixels=square)[0].any()


def test_color_jitter_brightness_only_scales_values() -> None:
    out = run(T.color_jitter(brightness=0.5), n=8, seed=4)
    factors = []
    for row in out:
        ratio = row.astype(float).sum() / PIXELS.astype(float).sum()
        factors.append(ratio)
    assert len({round(f, 3) for f in factors}) > 1  # a factor per record
    assert all(0.45 < f < 1.6 for f in factors)


def test_color_jitter_hue_rotates_hue_keeping_value() -> None:
    out = run(T.color_jitter(hue=0.25), n=4, seed=5)
    value = lambda a: np.asarray(Image.fromarray(a).convert("HSV"))[:, :, 2].astype(int)  # noqa: E731
    for row in out:
        assert np.abs(value(row) - value(PIXELS)).max() <= 2
    assert not all(np.array_equal(row, PIXELS) for row in out)


def npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


def test_gaussian_noise_on_float32_only() -> None:
    pipe = dataio.pipeline(dataio.slot("x").decode_npy().gaussian_noise(std=dataio.col("s")), dataio.batch(2))
    zeros = np.zeros((200, 50), np.float32)
    records = [{"x": npy(zeros), "s": 0.5}, {"x": npy(zeros.astype(np.int32)), "s": 0.5}]
    with pipe.bind(records).run("numpy", on_failure=0) as loader:
        batch = next(iter(loader))
    noise = batch["x"][0]
    assert abs(noise.std() - 0.5) < 0.02 and abs(noise.mean()) < 0.02
    assert "float32" in batch.errors[0]["message"]
    with pytest.raises(dataio.PlanError, match="float32"):
        dataio.pipeline(dataio.slot("x").decode_image().gaussian_noise(std=0.1), dataio.batch(1))


def test_photometric_validation() -> None:
    with pytest.raises(ValueError, match=r"posterize\(bits=9\)"):
        T.posterize(bits=9)
    with pytest.raises(ValueError, match="odd"):
        T.gaussian_blur(kernel_size=4)
    with pytest.raises(ValueError, match="hue"):
        T.color_jitter(hue=0.6)
    with pytest.raises(ValueError, match="low"):
        T.canny(low=10, high=5)
    with pytest.raises(ValueError, match="num_output_channels"):
        T.grayscale(num_output_channels=2)
