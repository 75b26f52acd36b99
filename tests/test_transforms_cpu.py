"""CPU kernels of the transforms against independent Pillow/numpy references.

Tolerances: geometric ops on uint8 are compared with Pillow applying the same filter
op by op: the fused resize+crop differs only by float rounding of filter weights
(max 1 level); crops, flips and layout ops are exact; float ops within 1e-6.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from PIL import Image

import dataio
from dataio import transforms as T
from tests.conftest import encode


def run_chain(payloads: list[bytes], *stages: Any, seed: int = 0, decoder: Any = None) -> Any:
    slot = dataio.slot("x").decode(decoder if decoder is not None else dataio.decoders.image(normalize="none", layout="hwc"))
    pipe = dataio.pipeline(slot.apply(*stages), dataio.batch(len(payloads)))
    records = [{"x": p} for p in payloads]
    with pipe.bind(records).run("numpy", device="cpu", seed=seed, on_failure=0) as loader:
        return next(iter(loader))


def pillow_resize(image: Image.Image, w: int, h: int) -> np.ndarray:
    return np.asarray(image.resize((w, h), Image.Resampling.BICUBIC))


def test_resize_short_then_center_crop_matches_op_by_op(rgb_image: Image.Image) -> None:
    batch = run_chain([encode(rgb_image)], T.resize_short(size=64), T.center_crop(h=48, w=40))
    w, h = rgb_image.size  # 131 x 97: short side is the height
    nw = int(np.floor(w * 64 / h + 0.5))
    full = pillow_resize(rgb_image, nw, 64)
    y, x = (64 - 48) // 2, (nw - 40) // 2
    expected = full[y:y + 48, x:x + 40]
    assert np.abs(batch["x"][0].astype(int) - expected.astype(int)).max() <= 1


def test_resize_exact_size(rgb_image: Image.Image) -> None:
    batch = run_chain([encode(rgb_image)], T.resize(h=33, w=50))
    assert np.abs(batch["x"][0].astype(int) - pillow_resize(rgb_image, 50, 33).astype(int)).max() <= 1


def test_crop_before_resize_does_not_read_outside_the_window(rgb_image: Image.Image) -> None:
    batch = run_chain([encode(rgb_image)], T.crop(y=10, x=20, h=40, w=60), T.resize(h=20, w=30))
    expected = pillow_resize(rgb_image.crop((20, 10, 80, 50)), 30, 20)
    assert np.abs(batch["x"][0].astype(int) - expected.astype(int)).max() <= 1


def test_center_crop_pads_with_zeros(rgb_image: Image.Image) -> None:
    batch = run_chain([encode(rgb_image)], T.center_crop(h=101, w=131))
    got = batch["x"][0]
    source = np.asarray(rgb_image)
    np.testing.assert_array_equal(got[2:99], source)  # (97 - 101) // 2 = -2 rows of padding on top
    assert not got[:2].any() and not got[99:].any()


def test_crop_outside_is_a_row_error(rgb_image: Image.Image) -> None:
    batch = run_chain([encode(rgb_image)], T.crop(y=90, x=0, h=10, w=10))
    assert len(batch) == 0 and batch.errors[0]["op"] == "transforms.crop"
    assert "outside" in batch.errors[0]["message"] and batch.errors[0]["stage"] == "transform"


def test_random_ops_are_deterministic_per_seed_and_vary_across_records(rgb_image: Image.Image) -> None:
    payloads = [encode(rgb_image)] * 8
    chain = (T.random_resized_crop(h=24, w=24), T.random_crop(h=16, w=16), T.hflip())
    first = run_chain(payloads, *chain, seed=5)["x"]
    again = run_chain(payloads, *chain, seed=5)["x"]
    other = run_chain(payloads, *chain, seed=6)["x"]
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)
    assert len({row.tobytes() for row in first}) > 1  # records draw different windows


def test_hflip_and_vflip_with_certainty(rgb_image: Image.Image) -> None:
    source = np.asarray(rgb_image)
    np.testing.assert_array_equal(run_chain([encode(rgb_image)], T.hflip(prob=1.0))["x"][0], source[:, ::-1])
    np.testing.assert_array_equal(run_chain([encode(rgb_image)], T.vflip(prob=1.0))["x"][0], source[::-1])
    np.testing.assert_array_equal(run_chain([encode(rgb_image)], T.hflip(prob=0.0))["x"][0], source)


def test_normalize_imagenet_preset(rgb_image: Image.Image) -> None:
    slot = dataio.slot("x").decode_image().normalize("imagenet")
    pipe = dataio.pipeline(slot, dataio.batch(1))
    with pipe.bind([{"x": encode(rgb_image)}]).run("numpy", device="cpu") as loader:
        got = next(iter(loader))["x"][0]
    mean = np.array([0.485, 0.456, 0.406])[:, None, None]
    std = np.array([0.229, 0.224, 0.225])[:, None, None]
    expected = (np.asarray(rgb_image).transpose(2, 0, 1) / 255.0 - mean) / std
    np.testing.assert_allclose(got, expected, atol=1e-5)


def test_normalize_explicit_mean_std_on_chw_float(rgb_image: Image.Image) -> None:
    batch = run_chain([encode(rgb_image)], T.normalize(mean=[0.5, 0.25, 0.0], std=[0.5, 0.5, 2.0]),
                      decoder=dataio.decoders.image(normalize="unit"))
    expected = (np.asarray(rgb_image).transpose(2, 0, 1) / 255.0 - np.array([0.5, 0.25, 0.0])[:, None, None]) \
        / np.array([0.5, 0.5, 2.0])[:, None, None]
    np.testing.assert_allclose(batch["x"][0], expected, atol=1e-6)


def npy(array: np.ndarray) -> bytes:
    import io

    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


def run_npy(array: np.ndarray, *stages: Any) -> Any:
    return run_chain([npy(array)], *stages, decoder=dataio.decoders.npy())


def test_cast_truncates_and_saturates() -> None:
    batch = run_npy(np.array([-3.7, 2.9, 300.5, np.nan], dtype=np.float32), T.cast(dtype="uint8"))
    np.testing.assert_array_equal(batch["x"][0], [0, 2, 255, 0])


def test_layout_ops_follow_numpy() -> None:
    array = np.arange(24, dtype=np.int32).reshape(2, 3, 4)
    np.testing.assert_array_equal(run_npy(array, T.permute(axes=[2, 0, 1]))["x"][0], array.transpose(2, 0, 1))
    np.testing.assert_array_equal(run_npy(array, T.reshape(shape=[4, -1]))["x"][0], array.reshape(4, -1))
    np.testing.assert_array_equal(run_npy(array, T.flatten(start_axis=1))["x"][0], array.reshape(2, 12))
    np.testing.assert_array_equal(run_npy(array, T.unsqueeze(axis=0))["x"][0], array[None])
    np.testing.assert_array_equal(run_npy(array[:1], T.squeeze())["x"][0], array[0])
    padded = run_npy(array, T.pad_axis(axis=2, target=6, value=-1))["x"][0]
    assert padded.shape == (2, 3, 6) and (padded[:, :, 4:] == -1).all()


def test_patchify_row_major_patches() -> None:
    array = np.arange(2 * 4 * 6, dtype=np.float32).reshape(2, 4, 6)
    got = run_npy(array, T.patchify(patch_size=2))["x"][0]
    assert got.shape == (6, 8)
    np.testing.assert_array_equal(got[1], array[:, 0:2, 2:4].reshape(-1))


def test_layout_mismatch_at_run_time_is_a_row_error() -> None:
    batch = run_npy(np.zeros((2, 3), np.float32), T.permute(axes=[0, 1, 2]))
    assert len(batch) == 0 and batch.errors[0]["stage"] == "transform" and "rank-2" in batch.errors[0]["message"]


@pytest.mark.parametrize("interp", ["nearest", "bilinear", "bicubic", "lanczos"])
def test_interpolation_filters(rgb_image: Image.Image, interp: str) -> None:
    batch = run_chain([encode(rgb_image)], T.resize(h=40, w=30, interp=interp))
    filters = {"nearest": Image.Resampling.NEAREST, "bilinear": Image.Resampling.BILINEAR,
               "bicubic": Image.Resampling.BICUBIC, "lanczos": Image.Resampling.LANCZOS}
    expected = np.asarray(rgb_image.resize((30, 40), filters[interp]))
    assert np.abs(batch["x"][0].astype(int) - expected.astype(int)).max() <= 1


def test_per_record_dims_from_col(rgb_image: Image.Image) -> None:
    pipe = dataio.pipeline(dataio.slot("x").decode_image().center_crop(h=dataio.col("side"), w=8), dataio.batch(2))
    records = [{"x": encode(rgb_image), "side": 8}, {"x": encode(rgb_image), "side": 8}]
    with pipe.bind(records).run("numpy", device="cpu") as loader:
        assert next(iter(loader))["x"].shape == (2, 8, 8, 3)


def test_resize_long_keeps_aspect(rgb_image: Image.Image) -> None:
    got = run_chain([encode(rgb_image)], T.resize_long(size=40))["x"][0]
    w, h = rgb_image.size  # 131 x 97: the long side is the width
    expected = pillow_resize(rgb_image, 40, int(np.floor(h * 40 / w + 0.5)))
    assert got.shape == expected.shape and np.abs(got.astype(int) - expected.astype(int)).max() <= 1


def test_fit_to_bucket_covers_then_centre_crops(rgb_image: Image.Image) -> None:
    got = run_chain([encode(rgb_image)], T.fit_to_bucket(h=30, w=60))["x"][0]
    w, h = rgb_image.size
    scale = max(30 / h, 60 / w)
    nw, nh = max(60, int(np.floor(w * scale + 0.5))), max(30, int(np.floor(h * scale + 0.5)))
    full = pillow_resize(rgb_image, nw, nh)
    y, x = (nh - 30) // 2, (nw - 60) // 2
    assert got.shape == (30, 60, 3)
    assert np.abs(got.astype(int) - full[y:y + 30, x:x + 60].astype(int)).max() <= 1


@pytest.mark.parametrize(("op", "scale", "bias"), [
    (T.unit_chw(), np.full(3, 1 / 255), np.zeros(3)),
    (T.symmetric_chw(), np.full(3, 1 / 127.5), np.full(3, -1.0)),
    (T.pack_chw_f32(scale=2.0, bias=-3.0), np.full(3, 2.0), np.full(3, -3.0)),
    (T.normalize_chw_from_hwc_u8(mean=[0.5, 0.4, 0.3], std=[0.1, 0.2, 0.4], base="symmetric"),
     1 / 127.5 / np.array([0.1, 0.2, 0.4]), (-1 - np.array([0.5, 0.4, 0.3])) / np.array([0.1, 0.2, 0.4])),
])
def test_channel_affine_ops(rgb_image: Image.Image, op: Any, scale: np.ndarray, bias: np.ndarray) -> None:
    got = run_chain([encode(rgb_image)], op)["x"][0]
    expected = np.asarray(rgb_image).transpose(2, 0, 1) * scale[:, None, None] + bias[:, None, None]
    assert got.dtype == np.float32 and got.shape == expected.shape
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)
