"""Spatial ops (pad, affine, random_affine, random_perspective, random_erasing, grid_mask) against numpy oracles.

Warps are checked on a coordinate-encoded image (channel 0 = 8·x, channel 1 = 8·y, channel 2 = 255):
bilinear resampling reproduces a linear function exactly, so each output pixel says which
source position it was sampled from, and a least-squares fit recovers the warp's inverse map.
Positions are in continuous pixel coordinates (pixel ``i`` covers ``[i, i + 1)``, centre ``i + 0.5``).
Tolerances are the ones stated in the kernels' docstrings (cpu_fallback/spatial.py).
"""

from __future__ import annotations

import io
import math
from typing import Any

import numpy as np
import pytest
from PIL import Image

import dataio
from dataio import transforms as T
from tests.conftest import encode

PIXELS = np.random.default_rng(2).integers(1, 256, (10, 14, 3), dtype=np.uint8)  # no zeros: fill is visible
BIG = np.random.default_rng(5).integers(1, 256, (40, 50, 3), dtype=np.uint8)
COORD_H, COORD_W = 24, 30
_yy, _xx = np.mgrid[0:COORD_H, 0:COORD_W]
COORDS = np.stack([8 * _xx, 8 * _yy, np.full_like(_xx, 255)], axis=2).astype(np.uint8)


def run(*ops: Any, pixels: np.ndarray = PIXELS, n: int = 1, seed: int = 0, **fields: Any) -> np.ndarray:
    """``n`` copies of ``pixels`` (distinct logical indices, so distinct record seeds) through ``ops``."""
    pipe = dataio.pipeline(dataio.slot("x").decode_image().apply(*ops), dataio.batch(n))
    with pipe.bind([{"x": encode(Image.fromarray(pixels)), **fields}] * n).run(
            "numpy", seed=seed, on_failure="strict") as loader:
        return next(iter(loader))["x"]


def run_chw(*ops: Any, pixels: np.ndarray = PIXELS, n: int = 1, seed: int = 0) -> np.ndarray:
    """As :func:`run`, decoding to ``CHW float32`` in [0, 1]."""
    slot = dataio.slot("x").decode_image(normalize="unit", layout="chw").apply(*ops)
    with dataio.pipeline(slot, dataio.batch(n)).bind([{"x": encode(Image.fromarray(pixels))}] * n).run(
            "numpy", seed=seed, on_failure="strict") as loader:
        return next(iter(loader))["x"]


def npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


def sampled_positions(out: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For a warped :data:`COORDS`: output positions ``[N, 2]`` and the source positions ``[N, 2]`` they sampled.

    Only pixels sampled from the source (channel 2 still 255) at least 3/4 px inside its outer pixel
    centres: Pillow clamps interpolation windows that cross the border to the edge pixel.
    """
    ys, xs = np.nonzero(out[:, :, 2] == 255)
    dst = np.stack([xs + 0.5, ys + 0.5], axis=1)
    src = out[ys, xs, :2].astype(np.float64) / 8 + 0.5
    inside = ((src >= 0.75) & (src <= np.array([COORD_W, COORD_H]) - 0.75)).all(axis=1)
    return dst[inside], src[inside]


def fit_affine(out: np.ndarray) -> np.ndarray:
    """The 3×3 inverse (output → source) affine map that a warped :data:`COORDS` shows."""
    dst, src = sampled_positions(out)
    assert len(dst) > 50, "too few pixels sampled from inside the source"
    design = np.column_stack([dst, np.ones(len(dst))])
    solution, *_ = np.linalg.lstsq(design, src, rcond=None)
    inverse = np.eye(3)
    inverse[:2] = solution.T
    return inverse


def forward_affine(h: int, w: int, angle_ccw: float = 0.0, tx: float = 0.0, ty: float = 0.0, scale: float = 1.0,
                   shear: float = 0.0) -> np.ndarray:
    """The documented forward map: about centre (W/2, H/2), shear x first, then scale and a counter-clockwise
    (on screen, y down) rotation, then the translation."""
    t = math.radians(angle_ccw)
    rotation = np.array([[math.cos(t), math.sin(t)], [-math.sin(t), math.cos(t)]])
    shearing = np.array([[1.0, -math.tan(math.radians(shear))], [0.0, 1.0]])
    linear = scale * rotation @ shearing
    center = np.array([w / 2, h / 2])
    forward = np.eye(3)
    forward[:2, :2] = linear
    forward[:2, 2] = center + np.array([tx, ty]) - linear @ center
    return forward


def decompose(forward: np.ndarray, h: int, w: int) -> dict[str, float]:
    """Angle (ccw), scale, shear and translation of a forward map of the :func:`forward_affine` family."""
    linear = forward[:2, :2]
    scale = float(np.hypot(linear[0, 0], linear[1, 0]))
    angle = math.atan2(-linear[1, 0], linear[0, 0])
    rotation = np.array([[math.cos(angle), math.sin(angle)], [-math.sin(angle), math.cos(angle)]])
    shearing = rotation.T @ linear / scale
    np.testing.assert_allclose(shearing[1], [0.0, 1.0], atol=0.02)  # a pure x shear, nothing else
    center = np.array([w / 2, h / 2])
    tx, ty = forward[:2, 2] - center + linear @ center
    return {"angle": math.degrees(angle), "scale": scale, "shear": math.degrees(math.atan(-shearing[0, 1])),
            "tx": float(tx), "ty": float(ty)}


# --- pad ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["constant", "reflect", "edge"])
def test_pad_matches_numpy(mode: str) -> None:
    got = run(T.pad(top=1, bottom=2, left=3, right=0, mode=mode, value=7))[0]
    kwargs = {"constant_values": 7} if mode == "constant" else {}
    np.testing.assert_array_equal(got, np.pad(PIXELS, ((1, 2), (3, 0), (0, 0)), mode=mode, **kwargs))


@pytest.mark.parametrize("mode", ["constant", "reflect", "edge"])
def test_pad_chw_float_pads_axes_1_and_2(mode: str) -> None:
    got = run_chw(T.pad(top=1, bottom=0, left=2, right=3, mode=mode, value=-0.5))[0]
    source = PIXELS.transpose(2, 0, 1).astype(np.float32) / 255
    kwargs = {"constant_values": -0.5} if mode == "constant" else {}
    expected = np.pad(source, ((0, 0), (1, 0), (2, 3)), mode=mode, **kwargs)
    assert got.dtype == np.float32 and got.shape == (3, 11, 19)
    np.testing.assert_allclose(got, expected, atol=1e-6)


def test_pad_per_record_sizes_and_plan_shapes() -> None:
    chw = np.arange(2 * 3 * 4, dtype=np.float32).reshape(2, 3, 4)
    pipe = dataio.pipeline(dataio.slot("x").decode_npy().pad(top=dataio.col("t"), right=dataio.col("r")),
                           dataio.batch(1))
    with pipe.bind([{"x": npy(chw), "t": 2, "r": 1}]).run("numpy") as loader:
        got = next(iter(loader))["x"][0]
    np.testing.assert_array_equal(got, np.pad(chw, ((2, 0), (0, 1), (0, 0))))  # npy: no layout, axes 0-1
    with pipe.bind([{"x": npy(chw), "t": 0, "r": 0}, {"x": npy(chw), "t": 1, "r": -1}]).run(
            "numpy", on_failure=0) as loader:
        batches = list(loader)
    np.testing.assert_array_equal(batches[0]["x"][0], chw)  # 0 is a valid pad
    errors = [e for batch in batches for e in batch.errors]
    assert len(errors) == 1 and errors[0]["op"] == "transforms.pad" and "right=col('r')" in errors[0]["message"]
    plan = dataio.pipeline(dataio.slot("x").decode_image(normalize="unit", layout="chw").pad(left=2, right=2),
                           dataio.batch(1)).plan
    assert plan.slots[0].output.describe() == "CHW float32 [3, ?, ?]"


def test_pad_constant_saturates_to_the_dtype() -> None:
    np.testing.assert_array_equal(run(T.pad(top=1, value=300))[0][0], 255)
    np.testing.assert_array_equal(run(T.pad(top=1, value=-4))[0][0], 0)
    np.testing.assert_array_equal(run(T.pad(top=1, value=9.9))[0][0], 9)  # truncates, as cast does


def test_pad_reflect_wider_than_the_input_is_a_row_error() -> None:
    pipe = dataio.pipeline(dataio.slot("x").decode_image().pad(left=14, mode="reflect"), dataio.batch(1))
    with pipe.bind([{"x": encode(Image.fromarray(PIXELS))}]).run("numpy", on_failure=0) as loader:
        batch = next(iter(loader))
    assert len(batch) == 0 and batch.errors[0]["op"] == "transforms.pad"
    assert batch.errors[0]["stage"] == "transform" and "reflect" in batch.errors[0]["message"]


# --- affine ---------------------------------------------------------------------------------------------


def test_affine_rotation_is_counter_clockwise_like_rot90() -> None:
    square = PIXELS[:10, :10]
    np.testing.assert_array_equal(run(T.affine(angle_deg=90, interp="nearest"), pixels=square)[0], np.rot90(square))
    np.testing.assert_array_equal(run(T.affine(angle_deg=-90, interp="nearest"), pixels=square)[0],
                                  np.rot90(square, -1))


@pytest.mark.parametrize("interp", ["nearest", "bilinear", "bicubic"])
def test_affine_whole_pixel_translation_is_a_shifted_slice(interp: str) -> None:
    shifted = run(T.affine(tx=3, ty=-2, interp=interp, fill=9))[0]  # 3 px right, 2 px up
    np.testing.assert_array_equal(shifted[:8, 3:], PIXELS[2:, :11])
    assert (shifted[:, :3] == 9).all() and (shifted[8:] == 9).all()


@pytest.mark.parametrize("params", [
    {"angle_ccw": 30.0},
    {"angle_ccw": -50.0, "scale": 1.3},
    {"scale": 0.7, "tx": 2.5, "ty": -1.25},
    {"shear": 20.0},
    {"angle_ccw": 15.0, "tx": -3.0, "ty": 2.0, "scale": 1.1, "shear": -12.0},
])
@pytest.mark.parametrize("interp", ["bilinear", "bicubic"])
def test_affine_inverse_map_matches_the_documented_matrix(params: dict[str, float], interp: str) -> None:
    op = T.affine(angle_deg=params.get("angle_ccw", 0.0), tx=params.get("tx", 0.0), ty=params.get("ty", 0.0),
                  scale=params.get("scale", 1.0), shear_deg=params.get("shear", 0.0), interp=interp)
    out = run(op, pixels=COORDS)[0]
    expected = np.linalg.inv(forward_affine(COORD_H, COORD_W, **params))
    dst, src = sampled_positions(out)
    predicted = dst @ expected[:2, :2].T + expected[:2, 2]
    # per pixel: Pillow's bilinear truncates to uint8 (< 1/8 px here); its bicubic is off by up to 2 levels
    assert np.abs(predicted - src).max() <= (0.15 if interp == "bilinear" else 0.3)
    fitted = fit_affine(out)
    np.testing.assert_allclose(fitted[:2, :2], expected[:2, :2], atol=0.01)
    np.testing.assert_allclose(fitted[:2, 2], expected[:2, 2], atol=0.15)


def test_affine_interp_and_fill_are_used() -> None:
    nearest = run(T.affine(angle_deg=20, interp="nearest", fill=0), pixels=BIG)[0]
    bilinear = run(T.affine(angle_deg=20, interp="bilinear", fill=0), pixels=BIG)[0]
    source_colours = {tuple(p) for p in BIG.reshape(-1, 3)} | {(0, 0, 0)}
    assert {tuple(p) for p in nearest.reshape(-1, 3)} <= source_colours  # nearest only copies pixels
    assert not {tuple(p) for p in bilinear.reshape(-1, 3)} <= source_colours
    filled = run(T.affine(angle_deg=20, interp="nearest", fill=200), pixels=BIG)[0]
    outside = (nearest == 0).all(axis=2)
    assert outside[0, 0] and (filled[outside] == 200).all()


def test_affine_keeps_channels_independent_for_rgba() -> None:
    rgba = np.dstack([BIG, np.full(BIG.shape[:2], 7, np.uint8)])  # nearly transparent: premultiplying would ruin RGB
    pipe = dataio.pipeline(dataio.slot("x").decode_image(mode="rgba").affine(tx=1, ty=1), dataio.batch(1))
    with pipe.bind([{"x": encode(Image.fromarray(rgba))}]).run("numpy", on_failure="strict") as loader:
        got = next(iter(loader))["x"][0]
    np.testing.assert_array_equal(got[1:, 1:], rgba[:-1, :-1])


def test_warps_refuse_chw_float_at_plan_time() -> None:
    for op in (T.affine(angle_deg=5), T.random_affine(degrees=5), T.random_perspective(), T.grid_mask()):
        with pytest.raises(dataio.PlanError, match=op.op_name):
            dataio.pipeline(dataio.slot("x").decode_image(normalize="unit", layout="chw").apply(op), dataio.batch(1))


# --- random_affine --------------------------------------------------------------------------------------


def test_random_affine_identity_range_is_the_identity() -> None:
    np.testing.assert_array_equal(run(T.random_affine(interp="nearest"), n=3)[1], PIXELS)


def test_random_affine_translate_is_whole_pixels_along_the_right_axis() -> None:
    out = run(T.random_affine(translate=(0.3, 0.0), interp="nearest"), pixels=BIG, n=8, seed=1)
    shifts = []
    for row in out:
        matches = [s for s in range(-15, 16) if np.array_equal(row, _shifted(BIG, s, 0))]
        assert len(matches) == 1, "each row is BIG shifted horizontally by a whole number of pixels"
        shifts.append(matches[0])
    assert max(abs(s) for s in shifts) <= 15 and len(set(shifts)) > 3  # |tx| <= round(0.3 * 50)
    out = run(T.random_affine(translate=(0.0, 0.3), interp="nearest"), pixels=BIG, n=8, seed=1)
    vertical = [next(s for s in range(-12, 13) if np.array_equal(row, _shifted(BIG, 0, s))) for row in out]
    assert len(set(vertical)) > 3


def _shifted(array: np.ndarray, dx: int, dy: int) -> np.ndarray:
    out = np.zeros_like(array)
    h, w = array.shape[:2]
    out[max(dy, 0):h + min(dy, 0), max(dx, 0):w + min(dx, 0)] = array[max(-dy, 0):h - max(dy, 0),
                                                                      max(-dx, 0):w - max(dx, 0)]
    return out


@pytest.mark.parametrize("kwargs, ranges", [
    ({"degrees": 40.0}, {"angle": (-40, 40)}),
    ({"scale_range": (0.6, 0.9)}, {"scale": (0.6, 0.9)}),
    ({"shear_deg": 25.0}, {"shear": (-25, 25)}),
    ({"degrees": 20.0, "scale_range": (1.0, 1.2), "shear_deg": 10.0, "translate": (0.1, 0.1)},
     {"angle": (-20, 20), "scale": (1.0, 1.2), "shear": (-10, 10), "tx": (-3, 3), "ty": (-2.4, 2.4)}),
])
def test_random_affine_draws_each_parameter_within_its_range(kwargs: dict[str, Any],
                                                             ranges: dict[str, tuple[float, float]]) -> None:
    out = run(T.random_affine(**kwargs), pixels=COORDS, n=8, seed=3)
    identity = {"angle": 0.0, "scale": 1.0, "shear": 0.0, "tx": 0.0, "ty": 0.0}
    drawn: dict[str, list[float]] = {k: [] for k in ranges}
    for row in out:
        got = decompose(np.linalg.inv(fit_affine(row)), COORD_H, COORD_W)
        for name, value in got.items():
            if name in ranges:
                lo, hi = ranges[name]
                assert lo - 0.3 <= value <= hi + 0.3, (name, value)
                drawn[name].append(value)
            else:
                assert abs(value - identity[name]) < 0.3, f"{name} must stay {identity[name]}; got {value}"
        assert abs(got["tx"] - round(got["tx"])) < 0.1 and abs(got["ty"] - round(got["ty"])) < 0.1
    for name, values in drawn.items():
        assert np.ptp(values) > 0.2 * (ranges[name][1] - ranges[name][0]), f"{name} does not vary: {values}"


# --- random_perspective ---------------------------------------------------------------------------------


def fit_homography(out: np.ndarray) -> np.ndarray:
    """The 3×3 output → source homography that a warped :data:`COORDS` shows (linearised least squares)."""
    dst, src = sampled_positions(out)
    x, y, u, v = dst[:, 0], dst[:, 1], src[:, 0], src[:, 1]
    one, zero = np.ones_like(x), np.zeros_like(x)
    design = np.concatenate([np.column_stack([x, y, one, zero, zero, zero, -u * x, -u * y]),
                             np.column_stack([zero, zero, zero, x, y, one, -v * x, -v * y])])
    solution, *_ = np.linalg.lstsq(design, np.concatenate([u, v]), rcond=None)
    return np.append(solution, 1.0).reshape(3, 3)


def test_random_perspective_moves_the_corners_inwards_within_distortion() -> None:
    distortion = 0.6
    out = run(T.random_perspective(distortion=distortion, prob=1.0), pixels=COORDS, n=6, seed=3)
    dw, dh = int(distortion * (COORD_W // 2)), int(distortion * (COORD_H // 2))  # 9, 7
    w1, h1 = COORD_W - 1, COORD_H - 1
    boxes = [((0, dw), (0, dh)), ((w1 - dw, w1), (0, dh)), ((w1 - dw, w1), (h1 - dh, h1)), ((0, dw), (h1 - dh, h1))]
    source_corners = np.array([[0, 0, 1], [w1, 0, 1], [w1, h1, 1], [0, h1, 1]], dtype=np.float64)
    seen = set()
    for row in out:
        forward = np.linalg.inv(fit_homography(row))
        mapped = source_corners @ forward.T
        corners = mapped[:, :2] / mapped[:, 2:]
        np.testing.assert_allclose(corners, np.round(corners), atol=0.3)  # torchvision: whole-pixel corners
        for (x, y), ((x0, x1), (y0, y1)) in zip(corners, boxes, strict=True):
            assert x0 - 0.3 <= x <= x1 + 0.3 and y0 - 0.3 <= y <= y1 + 0.3, (x, y)
        seen.add(tuple(np.round(corners).astype(int).ravel()))
        assert (row[0, :, 2] < 255).any() or (row[:, 0, 2] < 255).any()  # shrunk inwards: fill shows
    assert len(seen) == 6


def test_random_perspective_prob_and_fill() -> None:
    np.testing.assert_array_equal(run(T.random_perspective(prob=0.0), n=3)[2], PIXELS)
    still = run(T.random_perspective(distortion=0.0, prob=1.0), pixels=COORDS)[0]  # corners stay: the identity
    assert np.abs(still.astype(int) - COORDS).max() <= 1  # least-squares coefficients, truncated bilinear
    out = run(T.random_perspective(distortion=1.0, prob=1.0, fill=33), pixels=BIG, n=4, seed=2)
    assert all((row == 33).all(axis=2).sum() > 20 for row in out)


# --- random_erasing -------------------------------------------------------------------------------------


def erased_box(erased: np.ndarray) -> tuple[int, int, int, int]:
    """(y, x, h, w) of the one filled rectangle that ``erased`` (a 2-D bool mask) must be."""
    ys, xs = np.nonzero(erased)
    assert ys.size, "prob=1 must erase"
    y, x, h, w = ys.min(), xs.min(), ys.max() - ys.min() + 1, xs.max() - xs.min() + 1
    assert erased[y:y + h, x:x + w].all() and erased.sum() == h * w, "exactly one filled rectangle"
    return y, x, h, w


def assert_drawable(h: int, w: int, area: int, scale: tuple[float, float], ratio: tuple[float, float]) -> None:
    """h = round(√(a·r)), w = round(√(a/r)) for some a in scale·area and r in ratio."""
    a_lo, a_hi = (h - 0.5) * (w - 0.5), (h + 0.5) * (w + 0.5)
    r_lo, r_hi = (h - 0.5) / (w + 0.5), (h + 0.5) / (w - 0.5)
    assert a_lo <= scale[1] * area and a_hi >= scale[0] * area, (h, w)
    assert r_lo <= ratio[1] and r_hi >= ratio[0], (h, w)


def test_random_erasing_erases_one_rectangle_within_bounds() -> None:
    scale, ratio = (0.05, 0.2), (0.5, 2.0)
    out = run(T.random_erasing(prob=1.0, scale=scale, ratio=ratio, value=0), pixels=BIG, n=8, seed=4)
    boxes = set()
    for row in out:
        erased = (row == 0).all(axis=2)
        y, x, h, w = erased_box(erased)
        assert_drawable(h, w, 40 * 50, scale, ratio)
        np.testing.assert_array_equal(row[~erased], BIG[~erased])
        boxes.add((y, x, h, w))
    assert len(boxes) == 8
    np.testing.assert_array_equal(run(T.random_erasing(prob=0.0), pixels=BIG, n=2)[1], BIG)


def test_random_erasing_chw_float_erases_every_channel_on_axes_1_2() -> None:
    scale, ratio = (0.1, 0.3), (0.3, 3.3)
    out = run_chw(T.random_erasing(prob=1.0, scale=scale, ratio=ratio, value=-2.5), pixels=BIG, n=4, seed=7)
    source = BIG.transpose(2, 0, 1).astype(np.float32) / 255
    assert out.shape == (4, 3, 40, 50) and out.dtype == np.float32
    for row in out:
        mask = row == -2.5
        assert (mask == mask[0]).all(), "every channel erased at the same place"
        _, _, h, w = erased_box(mask[0])
        assert_drawable(h, w, 40 * 50, scale, ratio)
        np.testing.assert_allclose(row[~mask], source[~mask], atol=1e-6)


def test_random_erasing_value_saturates_and_tall_ratio_is_tall() -> None:
    out = run(T.random_erasing(prob=1.0, scale=(0.1, 0.1), ratio=(3.0, 3.0), value=999), pixels=BIG, n=3)
    for row in out:
        _, _, h, w = erased_box((row == 255).all(axis=2) & (BIG != 255).any(axis=2))
        assert h > w  # ratio is height / width
    unfit = run(T.random_erasing(prob=1.0, scale=(1.0, 1.0), ratio=(1.0, 1.0)), pixels=BIG)[0]
    np.testing.assert_array_equal(unfit, BIG)  # a rectangle as large as the image never fits: unchanged


# --- grid_mask ------------------------------------------------------------------------------------------


def grid_reference(h: int, w: int, d: int, side: int, oy: int, ox: int) -> np.ndarray:
    yy, xx = np.mgrid[0:h, 0:w]
    return ((yy - oy) % d < side) & ((xx - ox) % d < side)


def match_grid(hole: np.ndarray, periods: range, ratio: float) -> tuple[int, int, int] | None:
    h, w = hole.shape
    for d in periods:
        side = max(1, round(ratio * d))
        for oy in range(d):
            for ox in range(d):
                if np.array_equal(hole, grid_reference(h, w, d, side, oy, ox)):
                    return d, oy, ox
    return None


@pytest.mark.parametrize("ratio", [0.25, 0.5, 0.75])
def test_grid_mask_zeroes_an_axis_aligned_grid_of_squares(ratio: float) -> None:
    big = np.random.default_rng(6).integers(1, 256, (32, 36, 3), dtype=np.uint8)
    out = run(T.grid_mask(d_min=8, d_max=8, ratio=ratio), pixels=big, n=5, seed=1)
    offsets = set()
    for row in out:
        hole = (row == 0).all(axis=2)
        found = match_grid(hole, range(8, 9), ratio)
        assert found is not None, "holes must be ratio·d squares on a period-d grid"
        offsets.add(found[1:])
        np.testing.assert_array_equal(row[~hole], big[~hole])
    assert len(offsets) > 1, "the grid offset is random"


def test_grid_mask_period_is_drawn_from_d_min_to_d_max() -> None:
    big = np.random.default_rng(7).integers(1, 256, (30, 30, 3), dtype=np.uint8)
    out = run(T.grid_mask(d_min=5, d_max=9, ratio=0.4), pixels=big, n=8, seed=2)
    periods = set()
    for row in out:
        found = match_grid((row == 0).all(axis=2), range(5, 10), 0.4)
        assert found is not None
        periods.add(found[0])
    assert len(periods) > 2


def test_grid_mask_rotation_and_prob() -> None:
    big = np.random.default_rng(8).integers(1, 256, (48, 48, 3), dtype=np.uint8)
    out = run(T.grid_mask(d_min=12, d_max=12, ratio=0.5, rotate_deg=45), pixels=big, n=6, seed=3)
    rotated = 0
    for row in out:
        hole = (row == 0).all(axis=2)
        assert abs(hole.mean() - 0.25) < 0.05  # (6/12)² of the area, whatever the angle
        np.testing.assert_array_equal(row[~hole], big[~hole])
        rotated += match_grid(hole, range(12, 13), 0.5) is None
    assert rotated >= 5, "rotate_deg > 0 must rotate the grid"
    np.testing.assert_array_equal(run(T.grid_mask(d_min=4, d_max=8, prob=0.0), pixels=big, n=2)[1], big)


# --- randomness -----------------------------------------------------------------------------------------

RANDOM_OPS = [
    T.random_affine(degrees=30, translate=(0.2, 0.2), scale_range=(0.8, 1.2), shear_deg=10),
    T.random_perspective(distortion=0.5, prob=1.0),
    T.random_erasing(prob=1.0),
    T.grid_mask(d_min=4, d_max=9, ratio=0.5, rotate_deg=30),
]


@pytest.mark.parametrize("op", RANDOM_OPS, ids=lambda op: op.op_name)
def test_random_ops_are_seeded_per_record(op: Any) -> None:
    first, again, other = run(op, pixels=BIG, n=6, seed=1), run(op, pixels=BIG, n=6, seed=1), \
        run(op, pixels=BIG, n=6, seed=2)
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)
    assert len({row.tobytes() for row in first}) == 6  # every record draws its own values


@pytest.mark.parametrize("fired, idle", [
    (T.random_perspective(prob=1.0), T.random_perspective(prob=0.0)),
    (T.random_erasing(prob=1.0), T.random_erasing(prob=0.0)),
    (T.grid_mask(d_min=4, d_max=9, prob=1.0), T.grid_mask(d_min=6, d_max=6, prob=0.0)),
], ids=["random_perspective", "random_erasing", "grid_mask"])
def test_random_ops_draw_the_same_count_whether_or_not_they_fire(fired: Any, idle: Any) -> None:
    def flips(op: Any) -> list[bool]:
        plain, flipped = run(op, pixels=BIG, n=12, seed=5), run(op, T.hflip(), pixels=BIG, n=12, seed=5)
        assert all(np.array_equal(f, p) or np.array_equal(f, p[:, ::-1]) for f, p in zip(flipped, plain, strict=True))
        return [not np.array_equal(f, p) for f, p in zip(flipped, plain, strict=True)]

    decisions = flips(fired)
    assert decisions == flips(idle) and 0 < sum(decisions) < 12


# --- validation -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("factory, kwargs, error, message", [
    (T.pad, {"top": -1}, ValueError, r"pad\(top=-1\): top must be an int >= 0"),
    (T.pad, {"left": 1.5}, TypeError, r"pad\(left=1.5\): left must be an int"),
    (T.pad, {"mode": "wrap"}, ValueError, r"pad\(mode='wrap'\): mode must be one of"),
    (T.pad, {"value": "x"}, TypeError, r"pad\(value='x'\): value must be a number"),
    (T.affine, {"scale": 0}, ValueError, r"affine\(scale=0\): scale must be > 0"),
    (T.affine, {"interp": "lanczos"}, ValueError, r"affine\(interp='lanczos'\): interp"),
    (T.affine, {"fill": 256}, ValueError, r"affine\(fill=256\): fill must be an int in \[0, 255\]"),
    (T.affine, {"angle_deg": True}, TypeError, r"affine\(angle_deg=True\): angle_deg"),
    (T.affine, {"tx": float("nan")}, ValueError, r"affine\(tx=nan\): tx must be finite"),
    (T.random_affine, {"degrees": -1}, ValueError, r"random_affine\(degrees=-1\): degrees must be >= 0"),
    (T.random_affine, {"translate": 0.1}, TypeError, r"random_affine\(translate=0.1\): translate must be a pair"),
    (T.random_affine, {"translate": (0.1, 1.5)}, ValueError, r"random_affine\(translate=1.5\): translate must be <= 1"),
    (T.random_affine, {"scale_range": (1.2, 0.8)}, ValueError,
     r"random_affine\(scale_range=\(1.2, 0.8\)\): scale_range must be \(lo, hi\) with lo <= hi"),
    (T.random_affine, {"scale_range": (0, 1)}, ValueError, r"random_affine\(scale_range=0\): scale_range must be > 0"),
    (T.random_affine, {"shear_deg": -5}, ValueError, r"random_affine\(shear_deg=-5\): shear_deg must be >= 0"),
    (T.random_affine, {"fill": -1}, ValueError, r"random_affine\(fill=-1\): fill"),
    (T.random_perspective, {"distortion": 1.5}, ValueError, r"random_perspective\(distortion=1.5\): distortion"),
    (T.random_perspective, {"prob": -0.1}, ValueError, r"random_perspective\(prob=-0.1\): prob must be >= 0"),
    (T.random_erasing, {"prob": 2}, ValueError, r"random_erasing\(prob=2\): prob must be <= 1"),
    (T.random_erasing, {"scale": (0.5, 0.1)}, ValueError, r"random_erasing\(scale=\(0.5, 0.1\)\): scale"),
    (T.random_erasing, {"scale": (0, 0.1)}, ValueError, r"random_erasing\(scale=0\): scale must be > 0"),
    (T.random_erasing, {"ratio": (0, 1)}, ValueError, r"random_erasing\(ratio=0\): ratio must be > 0"),
    (T.random_erasing, {"ratio": [1.0]}, TypeError, r"random_erasing\(ratio=\[1.0\]\): ratio must be a pair"),
    (T.random_erasing, {"value": "random"}, TypeError, r"random_erasing\(value='random'\): value must be a number"),
    (T.grid_mask, {"d_min": 10, "d_max": 5}, ValueError, r"grid_mask\(d_min=10\): d_min must be <= d_max=5"),
    (T.grid_mask, {"d_min": 1}, ValueError, r"grid_mask\(d_min=1\): d_min must be an int >= 2"),
    (T.grid_mask, {"d_max": 8.5}, TypeError, r"grid_mask\(d_max=8.5\): d_max must be an int"),
    (T.grid_mask, {"ratio": 0}, ValueError, r"grid_mask\(ratio=0\): ratio must be > 0"),
    (T.grid_mask, {"rotate_deg": -1}, ValueError, r"grid_mask\(rotate_deg=-1\): rotate_deg must be >= 0"),
    (T.grid_mask, {"prob": 1.5}, ValueError, r"grid_mask\(prob=1.5\): prob must be <= 1"),
])
def test_spatial_validation(factory: Any, kwargs: dict[str, Any], error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        factory(**kwargs)


def test_spatial_ops_are_keyword_only_and_reject_unknown_parameters() -> None:
    with pytest.raises(TypeError, match="topp"):
        T.pad(topp=1)
    with pytest.raises(TypeError):
        T.affine(30)  # type: ignore[misc]


def test_warp_of_a_non_image_is_a_row_error() -> None:
    pipe = dataio.pipeline(dataio.slot("x").decode_npy().affine(angle_deg=10), dataio.batch(1))
    with pipe.bind([{"x": npy(np.zeros((4, 5), np.float32))}]).run("numpy", on_failure=0) as loader:
        batch = next(iter(loader))
    assert len(batch) == 0 and batch.errors[0]["op"] == "transforms.affine"
    assert "HWC uint8" in batch.errors[0]["message"] and "float32 array [4, 5]" in batch.errors[0]["message"]
