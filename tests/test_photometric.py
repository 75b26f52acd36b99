"""Photometric ops (docs/api.md §3.2) on the CPU fallback, against independent numpy oracles.

Each op runs in a real pipeline on small in-memory images. Random values are replayed
from the record RNG: a record carrying ``"seed": s`` makes its slot chain draw from
``generator(s)`` (docs/api.md §4.7), so a test can recompute every factor the kernel drew.
Tolerances are the ones stated in the kernels' docstrings (cpu_fallback/photometric.py).
"""

from __future__ import annotations

import io
import math
from collections import deque
from typing import Any

import numpy as np
import pytest
from PIL import Image

import dataio
from dataio import transforms as T
from dataio.ops._base import TensorSpec
from dataio.seeds import generator
from tests.conftest import encode

PIXELS = np.random.default_rng(1).integers(0, 256, (9, 11, 3), dtype=np.uint8)
DULL = np.random.default_rng(2).integers(60, 130, (37, 42, 3), dtype=np.uint8)  # low contrast
MODES = {1: "gray", 3: "rgb", 4: "rgba"}


def run(*ops: Any, pixels: np.ndarray = PIXELS, n: int = 1, seed: int = 0, seeds: list[int] | None = None) -> Any:
    """The batch of ``n`` copies of ``pixels`` through ``ops`` (records carry ``seeds`` when given)."""
    pipe = dataio.pipeline(dataio.slot("x").decode_image(mode=MODES[pixels.shape[2]]).apply(*ops),
                           dataio.batch(n if seeds is None else len(seeds)))
    payload = encode(Image.fromarray(pixels[:, :, 0] if pixels.shape[2] == 1 else pixels))
    records = [{"x": payload} for _ in range(n)] if seeds is None else [{"x": payload, "seed": s} for s in seeds]
    with pipe.bind(records).run("numpy", seed=seed, on_failure=0) as loader:
        return next(iter(loader))


def out(*ops: Any, **kwargs: Any) -> np.ndarray:
    return run(*ops, **kwargs)["x"]


# ---------------------------------------------------------------- numpy oracles

def luma_oracle(rgb: np.ndarray) -> np.ndarray:
    """ITU-R 601-2 luma with Pillow's 16-bit fixed-point weights."""
    r, g, b = (rgb[:, :, c].astype(np.int64) for c in range(3))
    return ((r * 19595 + g * 38470 + b * 7471 + 32768) >> 16).astype(np.uint8)


def convolve_oracle(pixels: np.ndarray, taps: np.ndarray) -> np.ndarray:
    """float64 separable convolution, H then W, mirror borders without edge repeat."""
    half = len(taps) // 2
    image = pixels.astype(np.float64)
    padded = np.pad(image, ((half, half), (0, 0), (0, 0)), mode="reflect")
    image = sum(t * padded[k:k + pixels.shape[0]] for k, t in enumerate(taps))
    padded = np.pad(image, ((0, 0), (half, half), (0, 0)), mode="reflect")
    return sum(t * padded[:, k:k + pixels.shape[1]] for k, t in enumerate(taps))


def gaussian_taps(size: int, sigma: float) -> np.ndarray:
    x = np.arange(size) - (size - 1) / 2
    taps = np.exp(-(x ** 2) / (2 * sigma ** 2))
    return taps / taps.sum()


def blend_oracle(degenerate: np.ndarray, image: np.ndarray, factor: float) -> np.ndarray:
    """Pillow's ``Image.blend`` in float32, clipped then truncated."""
    d = degenerate.astype(np.float32)
    mixed = d + np.float32(factor) * (image.astype(np.float32) - d)
    return np.trunc(np.clip(mixed, 0, 255)).astype(np.uint8)


def jitter_oracle(rgb: np.ndarray, seed: int, brightness: float, contrast: float, saturation: float) -> np.ndarray:
    """torchvision ColorJitter (hue=0): order from a permutation, then the three factors."""
    rng = generator(seed)
    order = rng.permutation(4)
    factors = [rng.uniform(max(0.0, 1 - v), 1 + v) for v in (brightness, contrast, saturation)]
    image = rgb
    for index in order:
        if index == 0 and brightness:
            image = blend_oracle(np.zeros_like(image), image, factors[0])
        elif index == 1 and contrast:
            mean = int(luma_oracle(image).mean() + 0.5)
            image = blend_oracle(np.full_like(image, mean), image, factors[1])
        elif index == 2 and saturation:
            image = blend_oracle(np.repeat(luma_oracle(image)[:, :, None], 3, axis=2), image, factors[2])
    return image


def hue_oracle(rgb: np.ndarray, shift: float) -> np.ndarray:
    """Float HSV round trip with the hue moved by ``trunc(shift · 255) / 255`` of a turn."""
    x = rgb.astype(np.float64) / 255
    r, g, b = x[..., 0], x[..., 1], x[..., 2]
    v = x.max(axis=-1)
    c = v - x.min(axis=-1)
    safe = np.where(c > 0, c, 1)
    h = np.select([c == 0, v == r, v == g], [0, ((g - b) / safe) % 6, (b - r) / safe + 2], (r - g) / safe + 4) / 6
    h = (h + math.trunc(shift * 255) / 255) % 1.0

    def channel(n: int) -> np.ndarray:
        k = (n + h * 6) % 6
        return v - c * np.clip(np.minimum(k, 4 - k), 0, 1)

    return np.rint(np.stack([channel(5), channel(3), channel(1)], axis=-1) * 255)


def equalize_oracle(band: np.ndarray) -> np.ndarray:
    """OpenCV's ``equalizeHist`` for one band (what DALI's ``fn.equalize`` computes), pixel value by pixel value in
    plain Python with float32 scalars: ``scale = 255 / (N - h[i0])``, ``lut[i] = round(sum(h[i0+1..i]) * scale)``."""
    hist = [int(c) for c in np.bincount(band.ravel(), minlength=256)]
    first = next(i for i, c in enumerate(hist) if c)
    if hist[first] == band.size:
        return band
    scale = np.float32(255) / np.float32(band.size - hist[first])
    lut, running = [0] * 256, 0
    for i in range(first + 1, 256):
        running += hist[i]
        lut[i] = min(255, int(np.rint(np.float32(running) * scale)))
    return np.array(lut, dtype=np.uint8)[band]


def canny_oracle(rgb: np.ndarray, low: float, high: float) -> np.ndarray:
    """Sobel, NMS and BFS hysteresis, pixel by pixel (edge-replicated luma, 0 outside for NMS)."""
    g = luma_oracle(rgb).astype(float)
    hh, ww = g.shape

    def at(y: int, x: int) -> float:
        return g[min(max(y, 0), hh - 1), min(max(x, 0), ww - 1)]

    mag = np.zeros((hh, ww))
    ang = np.zeros((hh, ww))
    for y in range(hh):
        for x in range(ww):
            gx = at(y - 1, x + 1) + 2 * at(y, x + 1) + at(y + 1, x + 1) - at(y - 1, x - 1) - 2 * at(y, x - 1) \
                - at(y + 1, x - 1)
            gy = at(y + 1, x - 1) + 2 * at(y + 1, x) + at(y + 1, x + 1) - at(y - 1, x - 1) - 2 * at(y - 1, x) \
                - at(y - 1, x + 1)
            mag[y, x] = math.hypot(gx, gy)
            ang[y, x] = math.degrees(math.atan2(gy, gx)) % 180

    def m(y: int, x: int) -> float:
        return mag[y, x] if 0 <= y < hh and 0 <= x < ww else 0.0

    thin = np.zeros((hh, ww))
    for y in range(hh):
        for x in range(ww):
            a = ang[y, x]
            dy, dx = (0, 1) if a < 22.5 or a >= 157.5 else (1, 1) if a < 67.5 else (1, 0) if a < 112.5 else (1, -1)
            if mag[y, x] > m(y + dy, x + dx) and mag[y, x] >= m(y - dy, x - dx):
                thin[y, x] = mag[y, x]
    edges = thin > high
    queue = deque(zip(*np.nonzero(edges), strict=True))
    while queue:
        y, x = queue.popleft()
        for yy in range(y - 1, y + 2):
            for xx in range(x - 1, x + 2):
                if 0 <= yy < hh and 0 <= xx < ww and thin[yy, xx] > low and not edges[yy, xx]:
                    edges[yy, xx] = True
                    queue.append((yy, xx))
    return edges.astype(np.uint8) * 255


def shapes_image() -> np.ndarray:
    """A 22×26 RGB scene: a coloured disk, a diagonal band and mild noise (all gradient directions)."""
    yy, xx = np.mgrid[0:22, 0:26]
    rgb = np.zeros((22, 26, 3), np.float64)
    disk = (yy - 10) ** 2 + (xx - 8) ** 2 < 36
    rgb[disk] = (200, 40, 90)
    band = np.abs(yy - xx + 6) < 3
    rgb[band] = (30, 180, 220)
    rgb += np.random.default_rng(9).integers(0, 12, rgb.shape)
    return rgb.astype(np.uint8)


# ---------------------------------------------------------------- deterministic ops

def test_invert_solarize_posterize_exact() -> None:
    np.testing.assert_array_equal(out(T.invert())[0], 255 - PIXELS)
    np.testing.assert_array_equal(out(T.invert(prob=0.0))[0], PIXELS)
    for threshold in (0, 100, 255, 256):
        got = out(T.solarize(threshold=threshold))[0]
        np.testing.assert_array_equal(got, np.where(PIXELS >= threshold, 255 - PIXELS, PIXELS))
    for bits in (1, 3, 4, 8):
        mask = 256 - 2 ** (8 - bits)
        np.testing.assert_array_equal(out(T.posterize(bits=bits))[0], PIXELS & mask)


def test_grayscale_is_pillow_luma_in_rgb_order() -> None:
    tricky = np.array([[[64, 6, 253], [119, 73, 62], [221, 89, 177], [170, 28, 81]]], np.uint8)  # 0.299… rounds
    for pixels in (PIXELS, tricky):
        expected = luma_oracle(pixels)
        np.testing.assert_array_equal(expected, np.asarray(Image.fromarray(pixels).convert("L")))
        three = out(T.grayscale(), pixels=pixels)[0]
        assert three.shape == (*pixels.shape[:2], 3)
        np.testing.assert_array_equal(three, np.repeat(expected[:, :, None], 3, axis=2))
        one = out(T.grayscale(num_output_channels=1), pixels=pixels)[0]
        np.testing.assert_array_equal(one, expected[:, :, None])
    red = np.zeros((2, 2, 3), np.uint8)
    red[..., 0] = 255
    assert out(T.grayscale(num_output_channels=1), pixels=red)[0].max() == 76  # blue alone would give 29


def test_grayscale_plan_spec_and_channel_rule() -> None:
    spec = T.grayscale(num_output_channels=1).infer(TensorSpec("uint8", "hwc", (5, 6, 3)))
    assert (spec.dtype, spec.layout, spec.shape) == ("uint8", "hwc", (5, 6, 1))
    with pytest.raises(dataio.PlanError, match="num_output_channels"):  # rows could not stack
        dataio.pipeline(dataio.slot("x").decode_image().grayscale(num_output_channels=1, prob=0.5), dataio.batch(1))


@pytest.mark.parametrize(("size", "lo", "hi"), [(5, 0.4, 2.5), (3, 1.0, 1.0), (7, 0.1, 3.0)])
def test_gaussian_blur_draws_sigma_per_record(size: int, lo: float, hi: float) -> None:
    seeds = [11, 12, 13, 14]
    got = out(T.gaussian_blur(kernel_size=size, sigma_lo=lo, sigma_hi=hi), seeds=seeds)
    for row, s in zip(got, seeds, strict=True):
        sigma = generator(s).uniform(lo, hi)
        expected = np.clip(np.rint(convolve_oracle(PIXELS, gaussian_taps(size, sigma))), 0, 255)
        assert np.abs(row.astype(int) - expected).max() <= 1
    if lo < hi:
        assert len({row.tobytes() for row in got}) == len(seeds)


def test_gaussian_blur_size_one_is_identity() -> None:
    np.testing.assert_array_equal(out(T.gaussian_blur(kernel_size=1))[0], PIXELS)


@pytest.mark.parametrize(("sigma", "amount"), [(1.0, 0.5), (0.6, 2.0), (2.0, 1.0)])
def test_sharpen_is_an_unsharp_mask(sigma: float, amount: float) -> None:
    got = out(T.sharpen(sigma=sigma, amount=amount), pixels=DULL)[0]
    blurred = convolve_oracle(DULL, gaussian_taps(2 * math.ceil(3 * sigma) + 1, sigma))
    x = DULL.astype(np.float64)
    expected = np.clip(np.rint(x + amount * (x - blurred)), 0, 255)
    assert np.abs(got.astype(int) - expected).max() <= 1
    np.testing.assert_array_equal(out(T.sharpen(sigma=sigma, amount=0.0), pixels=DULL)[0], DULL)


@pytest.mark.parametrize("radius", [1, 2])
def test_median_blur_matches_a_numpy_median(radius: int) -> None:
    k = 2 * radius + 1
    h, w, _ = PIXELS.shape
    padded = np.pad(PIXELS, ((radius, radius), (radius, radius), (0, 0)), mode="edge")
    stack = np.stack([padded[dy:dy + h, dx:dx + w] for dy in range(k) for dx in range(k)])
    np.testing.assert_array_equal(out(T.median_blur(radius=radius))[0], np.median(stack, axis=0).astype(np.uint8))


@pytest.mark.parametrize("pixels", [DULL, PIXELS, np.concatenate([DULL, DULL[:, :, :1] + 100], axis=2)],
                         ids=["dull-rgb", "random-rgb", "rgba"])
def test_equalize_per_channel_matches_opencvs_arithmetic(pixels: np.ndarray) -> None:
    got = out(T.equalize(), pixels=pixels)[0]
    for c in range(pixels.shape[2]):  # every channel, alpha included
        np.testing.assert_array_equal(got[:, :, c], equalize_oracle(pixels[:, :, c]))
    assert not np.array_equal(got, pixels)


def test_equalize_of_a_flat_channel_is_identity() -> None:
    flat = DULL.copy()
    flat[:, :, 1] = 77
    got = out(T.equalize(), pixels=flat)[0]
    np.testing.assert_array_equal(got[:, :, 1], flat[:, :, 1])
    assert not np.array_equal(got[:, :, 0], flat[:, :, 0])


@pytest.mark.parametrize(("low", "high"), [(40.0, 120.0), (150.0, 400.0), (10.0, 10.0)])
def test_canny_matches_a_pixel_by_pixel_oracle(low: float, high: float) -> None:
    scene = shapes_image()
    got = out(T.canny(low=low, high=high), pixels=scene)[0]
    assert got.shape == (22, 26, 1) and got.dtype == np.uint8
    np.testing.assert_array_equal(got[:, :, 0], canny_oracle(scene, low, high))


def test_canny_finds_the_border_of_a_square() -> None:
    square = np.zeros((20, 20, 1), np.uint8)
    square[5:15, 5:15] = 200
    edges = out(T.canny(low=50, high=150), pixels=square)[0][:, :, 0]
    assert set(np.unique(edges)) == {0, 255}
    assert not edges[:3].any() and not edges[8:12, 8:12].any()  # flat regions stay empty
    assert edges[7:13, 4:6].any() and edges[7:13, 14:16].any() and edges[4:6, 7:13].any()
    assert (edges[7:13, 2:8] > 0).sum(axis=1).tolist() == [1] * 6  # the tied 2-pixel ridge keeps one pixel
    np.testing.assert_array_equal(edges, canny_oracle(np.repeat(square, 3, axis=2), 50, 150))
    assert not out(T.canny(low=1000, high=2000), pixels=square)[0].any()


# ---------------------------------------------------------------- color_jitter

@pytest.mark.parametrize(("b", "c", "s"), [(0.5, 0.0, 0.0), (0.0, 0.8, 0.0), (0.0, 0.0, 0.9), (0.4, 0.6, 0.7)])
def test_color_jitter_replays_torchvision_factors_and_order(b: float, c: float, s: float) -> None:
    seeds = list(range(20, 28))
    got = out(T.color_jitter(brightness=b, contrast=c, saturation=s), pixels=DULL, seeds=seeds)
    for row, seed in zip(got, seeds, strict=True):
        np.testing.assert_array_equal(row, jitter_oracle(DULL, seed, b, c, s))
    assert len({row.tobytes() for row in got}) == len(seeds)


def test_color_jitter_order_matters_and_is_drawn() -> None:
    seeds = list(range(40, 56))
    orders = [tuple(generator(s).permutation(4)) for s in seeds]
    assert len(set(orders)) > 4  # the chosen seeds cover several orders
    got = out(T.color_jitter(brightness=0.9, contrast=0.9), pixels=PIXELS, seeds=seeds)
    fixed = [jitter_oracle(PIXELS, s, 0.9, 0.9, 0.0) for s in seeds]
    np.testing.assert_array_equal(np.stack(fixed), got)


def test_color_jitter_hue_shifts_pillow_hsv_hue() -> None:
    seeds = [60, 61, 62, 63, 64]
    got = out(T.color_jitter(hue=0.4), pixels=PIXELS, seeds=seeds)
    for row, seed in zip(got, seeds, strict=True):
        rng = generator(seed)
        rng.permutation(4)
        rng.uniform(1, 1, 3)
        shift = rng.uniform(-0.4, 0.4)
        error = np.abs(row.astype(float) - hue_oracle(PIXELS, shift))
        # Pillow stores H, S, V in uint8: its round trip alone is off by up to ~11 levels, ~0.6 on average
        assert error.max() <= 12 and error.mean() < 1.5, (seed, shift, error.max(), error.mean())
        assert np.abs(row.astype(float) - PIXELS).max() > 20  # it did move


def test_color_jitter_with_nothing_to_do_is_identity() -> None:
    np.testing.assert_array_equal(out(T.color_jitter(), n=3)[1], PIXELS)


# ---------------------------------------------------------------- coins and draw counts

@pytest.mark.parametrize("make", [
    lambda p: T.invert(prob=p), lambda p: T.solarize(threshold=50, prob=p), lambda p: T.posterize(bits=2, prob=p),
    lambda p: T.equalize(prob=p), lambda p: T.grayscale(prob=p),
], ids=["invert", "solarize", "posterize", "equalize", "grayscale"])
def test_prob_ops_fire_exactly_when_the_record_coin_says_so(make: Any) -> None:
    seeds = list(range(100, 116))
    always = out(make(1.0), pixels=DULL)[0]
    assert not np.array_equal(always, DULL)
    got = out(make(0.5), pixels=DULL, seeds=seeds)
    fired = [generator(s).random() < 0.5 for s in seeds]
    assert 0 < sum(fired) < len(seeds)
    for row, fire in zip(got, fired, strict=True):
        np.testing.assert_array_equal(row, always if fire else DULL)


@pytest.mark.parametrize("make", [
    lambda p: T.solarize(threshold=256, prob=p), lambda p: T.posterize(bits=8, prob=p),
    lambda p: T.grayscale(prob=p),
], ids=["solarize", "posterize", "grayscale"])
def test_a_coin_is_drawn_whether_or_not_the_op_fires(make: Any) -> None:
    gray = np.repeat(DULL[:, :, :1], 3, axis=2)  # every op above is an identity on it
    blur = T.gaussian_blur(kernel_size=5, sigma_lo=0.2, sigma_hi=3.0)
    results = [out(make(p), blur, pixels=gray, n=6, seed=8) for p in (0.0, 0.5, 1.0)]
    np.testing.assert_array_equal(results[0], results[1])
    np.testing.assert_array_equal(results[0], results[2])


RANDOM_OPS = [
    T.color_jitter(brightness=0.3, contrast=0.3, saturation=0.3, hue=0.1), T.grayscale(prob=0.5),
    T.gaussian_blur(), T.invert(prob=0.5), T.solarize(prob=0.5), T.posterize(prob=0.5), T.equalize(prob=0.5),
]


@pytest.mark.parametrize("op", RANDOM_OPS, ids=lambda o: o.op_name)
def test_random_ops_are_seeded(op: Any) -> None:
    first = out(op, pixels=DULL, n=12, seed=3)
    np.testing.assert_array_equal(first, out(op, pixels=DULL, n=12, seed=3))
    assert not np.array_equal(first, out(op, pixels=DULL, n=12, seed=4))


# ---------------------------------------------------------------- gaussian_noise

def npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


def noise_oracle(key: int, size: int) -> np.ndarray:
    """``dataio.ops.noise.standard_normals`` written out element by element: lowbias32 of each counter xor the
    hashed key, 24-bit uniforms, Box–Muller in float32 (the same float32 steps, one element at a time)."""

    def lowbias32(x: int) -> int:
        x ^= x >> 16
        x = (x * 0x7FEB352D) & 0xFFFFFFFF
        x ^= x >> 15
        x = (x * 0x846CA68B) & 0xFFFFFFFF
        return x ^ (x >> 16)

    out = np.empty(size, np.float32)
    scale = np.float32(2.0 ** -24)
    for i in range(size):
        first, second = (lowbias32((2 * i + j) ^ lowbias32(key)) for j in (0, 1))
        u1 = np.float32((first >> 8) + 1) * scale
        u2 = np.float32(second >> 8) * scale
        out[i] = np.sqrt(np.log(u1) * np.float32(-2.0)) * np.cos(u2 * np.float32(2.0 * np.pi))
    return out


def test_gaussian_noise_adds_the_record_keyed_normals_to_float32_of_any_layout() -> None:
    base = np.random.default_rng(5).random((3, 7, 5)).astype(np.float32)  # CHW
    pipe = dataio.pipeline(dataio.slot("x").decode_npy().gaussian_noise(std=dataio.col("s")), dataio.batch(3))
    records = [{"x": npy(base), "s": s, "seed": 70 + i} for i, s in enumerate((0.5, 0.0, 2.0))]
    with pipe.bind(records).run("numpy") as loader:
        got = next(iter(loader))["x"]
    assert got.dtype == np.float32
    for i, std in enumerate((0.5, 0.0, 2.0)):
        key = int(generator(70 + i).integers(0, 2**32))  # the op's one draw from the record's generator
        noise = noise_oracle(key, base.size).reshape(base.shape)
        np.testing.assert_allclose(got[i], base + np.float32(std) * noise, rtol=0, atol=1e-6 * max(std, 1))


def test_gaussian_noise_statistics_and_seeding() -> None:
    zeros = np.zeros((200, 50), np.float32)
    pipe = dataio.pipeline(dataio.slot("x").decode_npy().gaussian_noise(std=0.5), dataio.batch(2))

    def once(seed: int) -> np.ndarray:
        with pipe.bind([{"x": npy(zeros)}] * 2).run("numpy", seed=seed) as loader:
            return next(iter(loader))["x"]

    noise = once(1)
    assert abs(noise.std() - 0.5) < 0.02 and abs(noise.mean()) < 0.02
    assert not np.array_equal(noise[0], noise[1])
    np.testing.assert_array_equal(noise, once(1))
    assert not np.array_equal(noise, once(2))


def test_gaussian_noise_refuses_other_dtypes() -> None:
    with pytest.raises(dataio.PlanError, match="gaussian_noise.*float32"):
        dataio.pipeline(dataio.slot("x").decode_image().gaussian_noise(std=0.1), dataio.batch(1))
    pipe = dataio.pipeline(dataio.slot("x").decode_npy().gaussian_noise(std=dataio.col("s")), dataio.batch(3))
    zeros = np.zeros((4, 4), np.float32)
    records = [{"x": npy(zeros), "s": 1.0}, {"x": npy(zeros.astype(np.uint8)), "s": 1.0}, {"x": npy(zeros), "s": -1.0}]
    with pipe.bind(records).run("numpy", on_failure=0) as loader:
        batch = next(iter(loader))
    assert len(batch) == 1
    errors = {e["index"]: e for e in batch.errors}
    assert sorted(errors) == [1, 2]
    assert "float32" in errors[1]["message"] and "uint8" in errors[1]["message"]
    assert "std must be >= 0" in errors[2]["message"]
    assert all(e["op"] == "transforms.gaussian_noise" and e["stage"] == "transform" for e in batch.errors)


# ---------------------------------------------------------------- plan-time checks

def test_plan_time_layout_and_channel_checks() -> None:
    with pytest.raises(dataio.PlanError, match="color_jitter"):
        dataio.pipeline(dataio.slot("x").decode_image(mode="gray").color_jitter(brightness=0.2), dataio.batch(1))
    with pytest.raises(dataio.PlanError, match="invert.*HWC uint8"):
        dataio.pipeline(dataio.slot("x").decode_image(normalize="unit", layout="chw").invert(), dataio.batch(1))
    spec = T.canny(low=1, high=2).infer(TensorSpec("uint8", "hwc", (5, 6, 3)))
    assert (spec.dtype, spec.layout, spec.shape) == ("uint8", "hwc", (5, 6, 1))


# ---------------------------------------------------------------- parameter validation

BAD = [
    (T.posterize, {"bits": 9}, ValueError, "bits"), (T.posterize, {"bits": 0}, ValueError, "bits"),
    (T.posterize, {"bits": 4.0}, TypeError, "bits"), (T.posterize, {"bits": True}, TypeError, "bits"),
    (T.posterize, {"prob": 1.5}, ValueError, "prob"),
    (T.solarize, {"threshold": 257}, ValueError, "threshold"), (T.solarize, {"threshold": -1}, ValueError, "threshold"),
    (T.invert, {"prob": -0.1}, ValueError, "prob"), (T.equalize, {"prob": 2}, ValueError, "prob"),
    (T.invert, {"prob": "high"}, TypeError, "prob"),
    (T.gaussian_blur, {"kernel_size": 4}, ValueError, "kernel_size"),
    (T.gaussian_blur, {"kernel_size": 0}, ValueError, "kernel_size"),
    (T.gaussian_blur, {"sigma_lo": 0.0}, ValueError, "sigma_lo"),
    (T.gaussian_blur, {"sigma_lo": 3.0, "sigma_hi": 2.0}, ValueError, "sigma_lo"),
    (T.gaussian_noise, {"std": -1.0}, ValueError, "std"), (T.gaussian_noise, {"std": True}, TypeError, "std"),
    (T.gaussian_noise, {"std": float("nan")}, ValueError, "std"),
    (T.color_jitter, {"hue": 0.6}, ValueError, "hue"), (T.color_jitter, {"brightness": -0.1}, ValueError, "brightness"),
    (T.color_jitter, {"contrast": "a"}, TypeError, "contrast"),
    (T.color_jitter, {"saturation": -1}, ValueError, "saturation"),
    (T.grayscale, {"num_output_channels": 2}, ValueError, "num_output_channels"),
    (T.grayscale, {"prob": 1.1}, ValueError, "prob"),
    (T.sharpen, {"sigma": 0.0}, ValueError, "sigma"), (T.sharpen, {"amount": -1.0}, ValueError, "amount"),
    (T.median_blur, {"radius": 0}, ValueError, "radius"), (T.median_blur, {"radius": 1.5}, TypeError, "radius"),
    (T.canny, {"low": 10, "high": 5}, ValueError, "low"), (T.canny, {"low": -1, "high": 5}, ValueError, "low"),
]


@pytest.mark.parametrize(("factory", "kwargs", "error", "param"), BAD,
                         ids=[f"{f.op_name}-{'-'.join(map(str, k.items()))}" for f, k, _, _ in BAD])
def test_bad_parameters_name_the_op_and_the_parameter(factory: Any, kwargs: dict[str, Any], error: type,
                                                      param: str) -> None:
    with pytest.raises(error, match=rf"^{factory.op_name}\({param}=.*\): {param} must") as info:
        factory(**kwargs)
    assert "got" in str(info.value) or error is TypeError


def test_posterize_message_in_the_contract_style() -> None:
    with pytest.raises(ValueError, match=r"^posterize\(bits=9\): bits must be in \[1, 8\]; got 9$"):
        T.posterize(bits=9)


def test_required_and_keyword_only_parameters() -> None:
    with pytest.raises(TypeError, match="low"):
        T.canny(high=5)
    with pytest.raises(TypeError, match="std"):
        T.gaussian_noise()
    with pytest.raises(TypeError):
        T.invert(0.5)  # type: ignore[misc]
    assert T.sharpen(sigma=2) == T.sharpen(sigma=2.0) and isinstance(T.sharpen(sigma=2).sigma, float)
