"""``decoders.image`` on the CPU fallback against independent Pillow/numpy references.

Tolerances: without a following resize, decode is bit-exact with Pillow (same
libjpeg-turbo) and conversions are exact; EXIF orientation is exact.
"""

from __future__ import annotations

import io
from typing import Any

import numpy as np
import pytest
from PIL import Image, ImageOps

import dataio
from tests.conftest import encode


def decode_one(payload: bytes, **options: Any) -> tuple[np.ndarray, list[dict[str, Any]]]:
    """Run a one-slot pipeline on one in-memory payload; return (row or empty, errors)."""
    pipe = dataio.pipeline(dataio.slot("image").decode(dataio.decoders.image(**options)), dataio.batch(1))
    with pipe.bind([{"key": "r0", "image": payload}]).run("numpy", on_failure=0, device="cpu") as loader:
        batch = next(iter(loader))
    value = batch["image"]
    return (value[0] if len(batch) else np.empty(0)), batch.errors


HWC_U8 = {"normalize": "none", "layout": "hwc"}


def test_jpeg_rgb_is_bit_exact_with_pillow(rgb_image: Image.Image) -> None:
    payload = encode(rgb_image, "JPEG", quality=90)
    got, _ = decode_one(payload, **HWC_U8)
    expected = np.asarray(Image.open(__import__("io").BytesIO(payload)).convert("RGB"))
    np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_is_applied(rgb_image: Image.Image, orientation: int) -> None:
    exif = Image.Exif()
    exif[0x0112] = orientation
    payload = encode(rgb_image, "PNG", exif=exif)
    got, _ = decode_one(payload, **HWC_U8)
    with Image.open(__import__("io").BytesIO(payload)) as source:
        expected = np.asarray(ImageOps.exif_transpose(source).convert("RGB"))
    assert got.shape == expected.shape
    np.testing.assert_array_equal(got, expected)


def test_cmyk_jpeg_converts_to_rgb(rgb_image: Image.Image) -> None:
    payload = encode(rgb_image.convert("CMYK"), "JPEG", quality=95)
    got, _ = decode_one(payload, **HWC_U8)
    expected = np.asarray(Image.open(__import__("io").BytesIO(payload)).convert("RGB"))
    np.testing.assert_array_equal(got, expected)
    assert np.abs(got.astype(int) - np.asarray(rgb_image).astype(int)).mean() < 6  # colours survive the trip


def test_palette_with_transparency_over_fill_color() -> None:
    image = Image.new("P", (4, 2))
    image.putpalette([255, 0, 0, 0, 0, 255] + [0] * 762)
    image.putdata([0, 1, 0, 1, 1, 0, 1, 0])
    payload = encode(image, "PNG", transparency=1)
    got, _ = decode_one(payload, fill_color=(0, 255, 0), **HWC_U8)
    red, green = [255, 0, 0], [0, 255, 0]
    np.testing.assert_array_equal(got[0], [red, green, red, green])


def test_rgba_keeps_or_drops_alpha() -> None:
    pixels = np.random.default_rng(0).integers(0, 256, (5, 6, 4), dtype=np.uint8)
    payload = encode(Image.fromarray(pixels, "RGBA"))
    kept, _ = decode_one(payload, allow_alpha=True, **HWC_U8)
    np.testing.assert_array_equal(kept, pixels)
    dropped, _ = decode_one(payload, **HWC_U8)
    np.testing.assert_array_equal(dropped, pixels[:, :, :3])


def test_la_to_rgb_and_gray() -> None:
    luma = np.arange(30, dtype=np.uint8).reshape(5, 6)
    alpha = np.full((5, 6), 128, np.uint8)
    payload = encode(Image.fromarray(np.dstack([luma, alpha]), "LA"))
    rgb, _ = decode_one(payload, **HWC_U8)
    np.testing.assert_array_equal(rgb, np.repeat(luma[:, :, None], 3, axis=2))
    gray, _ = decode_one(payload, mode="gray", **HWC_U8)
    np.testing.assert_array_equal(gray, luma[:, :, None])


def test_sixteen_bit_gray_maps_by_round_x_over_257() -> None:
    samples = np.array([[0, 128, 129, 385, 65535, 32896]], dtype=np.uint16)
    payload = encode(Image.fromarray(samples))  # uint16 -> mode I;16
    got, _ = decode_one(payload, mode="gray", **HWC_U8)
    expected = np.floor(samples / 257 + 0.5).astype(np.uint8)
    np.testing.assert_array_equal(got[:, :, 0], expected)


def test_gray_from_rgb_uses_pillow_luma(rgb_image: Image.Image) -> None:
    got, _ = decode_one(encode(rgb_image), mode="gray", **HWC_U8)
    np.testing.assert_array_equal(got[:, :, 0], np.asarray(rgb_image.convert("L")))


@pytest.mark.parametrize(("normalize", "scale", "bias"), [("unit", 1 / 255, 0.0), ("symmetric", 1 / 127.5, -1.0)])
def test_decoder_normalize_and_chw(rgb_image: Image.Image, normalize: str, scale: float, bias: float) -> None:
    got, _ = decode_one(encode(rgb_image), normalize=normalize, layout="chw")
    expected = np.asarray(rgb_image).astype(np.float64).transpose(2, 0, 1) * scale + bias
    assert got.dtype == np.float32 and got.shape == expected.shape
    np.testing.assert_allclose(got, expected, atol=1e-6)


def test_caps_are_row_errors(rgb_image: Image.Image) -> None:
    got, errors = decode_one(encode(rgb_image), max_width=100, **HWC_U8)
    assert got.size == 0
    assert errors[0]["stage"] == "decode" and "max_width=100" in errors[0]["message"]
    assert errors[0]["key"] == "r0"


def test_unsupported_format_is_a_row_error(rgb_image: Image.Image) -> None:
    _, errors = decode_one(encode(rgb_image, "PCX"), **HWC_U8)
    assert errors[0]["op"] == "decoders.image" and "not a decodable image" in errors[0]["message"]


def test_truncated_jpeg_is_a_row_error(rgb_image: Image.Image) -> None:
    payload = encode(rgb_image, "JPEG")
    _, errors = decode_one(payload[: len(payload) // 2], **HWC_U8)
    assert errors and errors[0]["stage"] == "decode"


def test_draft_decoding_stays_within_stated_tolerance(jpeg_paths: list[str]) -> None:
    """JPEG DCT-domain downscaling before resize_short: mean abs diff <= 2 levels per image."""
    pipe = dataio.pipeline(dataio.slot("image").decode_image().resize_short(128), dataio.batch(1))
    records = [{"image": p} for p in jpeg_paths]
    with pipe.bind(records).run("numpy", device="cpu") as loader:
        for path, batch in zip(jpeg_paths, loader, strict=True):
            got = batch["image"][0]
            with Image.open(path) as source:
                full = source.convert("RGB")
            expected = np.asarray(full.resize((got.shape[1], got.shape[0]), Image.Resampling.BICUBIC))
            assert np.abs(got.astype(int) - expected.astype(int)).mean() <= 2.0, path


@pytest.mark.parametrize("compression", ["group4", "tiff_lzw", "raw"])
def test_tiff_orientation_is_applied_once(compression: str) -> None:
    """Pillow turns a TIFF upright while loading it (and drops the tag): dataio must not turn it again."""
    from PIL import ImageOps, TiffImagePlugin

    pixels = np.zeros((20, 40), np.uint8)
    pixels[:5, :10] = 255  # a corner mark: every orientation gives a different picture
    for turn in range(1, 9):
        image = Image.fromarray(pixels)
        image = image.convert("1") if compression == "group4" else image
        tags = TiffImagePlugin.ImageFileDirectory_v2()
        tags[274] = turn
        buffer = io.BytesIO()
        image.save(buffer, "TIFF", compression=None if compression == "raw" else compression, tiffinfo=tags)
        expected = np.asarray(ImageOps.exif_transpose(Image.open(io.BytesIO(buffer.getvalue()))).convert("RGB"))
        np.testing.assert_array_equal(dataio.read_image(buffer.getvalue()), expected, err_msg=f"orientation {turn}")
