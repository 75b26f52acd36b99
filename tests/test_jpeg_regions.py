"""dataio's libjpeg extension: region decoding equals Pillow's whole decode where it is read.

The extension (cpu_fallback/_libjpeg.c) decodes only the rows and columns a pending
resize or crop reads. Stated contract: inside the requested region the pixels equal
Pillow's decode of the whole image at the same DCT scale, for every chroma subsampling,
progressive or baseline, colour or grey; whole pipelines give the same values and the
same row errors as with the simplejpeg kernel or Pillow alone.
"""

from __future__ import annotations

import io
import os
import shutil
import sysconfig
import time
from typing import Any

import numpy as np
import pytest
from PIL import Image

import dataio
from dataio._synthetic import synthetic_image
from dataio.cpu_fallback import accel
from dataio.cpu_fallback.jpeg_regions import MARGIN, JpegRegions

from conftest import encode, run_kernels as run


def _can_build_extensions() -> bool:
    compiler = (sysconfig.get_config_var("CC") or "cc").split()[0]
    headers = [sysconfig.get_paths()["include"], "/usr/include", "/usr/local/include"]
    has_jpeglib = any(os.path.exists(os.path.join(d, "jpeglib.h")) for d in headers)
    return shutil.which(compiler) is not None and has_jpeglib


def test_the_extension_is_built_where_it_can_be() -> None:
    """CI has a compiler and libjpeg-dev: the extension must be there, or every test below would skip."""
    if not _can_build_extensions():
        pytest.skip("no C compiler or no libjpeg headers here: the extension is optional")
    assert accel.is_available("libjpeg"), accel.BUILD_HINTS["libjpeg"]


libjpeg = pytest.importorskip("dataio.cpu_fallback._libjpeg", reason="dataio's libjpeg extension is not built")


def _photo(width: int, height: int, grey: bool = False) -> Image.Image:
    image = synthetic_image(np.random.default_rng(width * 7 + height), height, width)
    return image.convert("L") if grey else image


def _pillow_decode(payload: bytes, scale: int, grey: bool) -> np.ndarray:
    with Image.open(io.BytesIO(payload)) as image:
        if scale > 1:
            image.draft(image.mode, (image.width // scale, image.height // scale))
        pixels = np.asarray(image.convert("L" if grey else "RGB"))
    return pixels[:, :, None] if grey else pixels


@pytest.mark.parametrize("scale", [1, 2, 4, 8])
@pytest.mark.parametrize("progressive", [False, True])
@pytest.mark.parametrize("sampling", ["4:4:4", "4:2:2", "4:2:0", "grey"])
def test_region_pixels_equal_pillows_whole_decode(scale: int, progressive: bool, sampling: str) -> None:
    grey = sampling == "grey"
    options: dict[str, Any] = {"quality": 88, "progressive": progressive}
    if not grey:
        options["subsampling"] = sampling
    payload = encode(_photo(419, 333, grey), "JPEG", **options)
    reference = _pillow_decode(payload, scale, grey)
    height, width = reference.shape[:2]
    rng = np.random.default_rng(scale * 10 + progressive)
    for _ in range(12):
        x0, y0 = int(rng.integers(0, width)), int(rng.integers(0, height))
        x1, y1 = int(rng.integers(x0 + 1, width + 1)), int(rng.integers(y0 + 1, height + 1))
        regions = JpegRegions(libjpeg, payload, scale, grey, width, height, fallback=_no_fallback)
        pixels = regions.pixels(x0, y0, x1, y1)
        assert pixels.shape == reference.shape
        np.testing.assert_array_equal(pixels[y0:y1, x0:x1], reference[y0:y1, x0:x1])
        assert not pixels[:max(0, y0 - MARGIN)].any() and not pixels[y1 + MARGIN:].any()  # those rows are not decoded


def _no_fallback(scale: int) -> Image.Image:
    raise AssertionError("the extension refused a valid JPEG")


def test_restart_markers_and_odd_sizes() -> None:
    for width, height in ((1, 1), (17, 9), (33, 250)):
        payload = encode(_photo(width, height), "JPEG", quality=90, restart_marker_blocks=3)
        reference = _pillow_decode(payload, 1, False)
        regions = JpegRegions(libjpeg, payload, 1, False, width, height, fallback=_no_fallback)
        pixels = regions.pixels(width // 2, height // 2, width, height)
        np.testing.assert_array_equal(pixels[height // 2:, width // 2:], reference[height // 2:, width // 2:])


@pytest.mark.parametrize("chain", [
    lambda s: s.resize_short(256).center_crop(h=224, w=224),
    lambda s: s.random_resized_crop(h=64, w=48),
    lambda s: s.center_crop(h=200, w=120).resize(h=50, w=40),
    lambda s: s.crop(y=30, x=50, h=100, w=60),
    lambda s: s.resize(h=100, w=150, interp="bilinear").center_crop(h=90, w=90),
    lambda s: s.resize(h=100, w=150, interp="lanczos"),
    lambda s: s.resize(h=90, w=90, interp="nearest"),
    lambda s: s.fit_to_bucket(h=64, w=96),
    lambda s: s.resize_long(1400).center_crop(h=300, w=300),  # enlarging
    lambda s: s.hflip(prob=1.0).resize_short(100),
    lambda s: s,
])
@pytest.mark.parametrize("resampler", ["", ",torch"])
def test_pipelines_give_the_simplejpeg_kernels_values(jpeg_paths: list[str], monkeypatch: pytest.MonkeyPatch,
                                                      chain: Any, resampler: str) -> None:
    records = [{"image": p} for p in jpeg_paths]
    stage = chain(dataio.slot("image").decode_image())
    regional, errors = run(stage, records, "libjpeg" + resampler, monkeypatch, seed=3)
    whole, _ = run(stage, records, "simplejpeg" + resampler, monkeypatch, seed=3)
    assert not errors and len(regional) == len(whole) == len(records)
    for got, want in zip(regional, whole, strict=True):
        np.testing.assert_array_equal(got, want)


def _with_extraneous_bytes(payload: bytes) -> bytes:
    """``payload`` with two stray bytes before its first DHT marker: libjpeg warns, Pillow decodes."""
    at = payload.index(b"\xff\xc4")
    return payload[:at] + b"\x00\x00" + payload[at:]


@pytest.mark.parametrize("chain", [lambda s: s, lambda s: s.resize_short(64).center_crop(h=48, w=48)])
def test_data_libjpeg_warns_about_is_decoded_by_pillow(rgb_image: Image.Image, monkeypatch: pytest.MonkeyPatch,
                                                       chain: Any) -> None:
    payload = _with_extraneous_bytes(encode(rgb_image, "JPEG", quality=90))
    with pytest.raises(ValueError, match="extraneous bytes"):
        libjpeg.decode(payload, 1, False, 0, 0, 10, 10)
    stage = chain(dataio.slot("x").decode_image())
    regional, errors = run(stage, [{"x": payload}], "libjpeg", monkeypatch)
    reference, _ = run(stage, [{"x": payload}], "pillow", monkeypatch)
    assert not errors
    np.testing.assert_array_equal(regional[0], reference[0])


@pytest.mark.parametrize("cut", [0.3, 0.6, 0.95])
def test_truncated_data_fails_like_pillow_even_below_the_region(rgb_image: Image.Image,
                                                                monkeypatch: pytest.MonkeyPatch, cut: float) -> None:
    payload = encode(rgb_image.resize((400, 300)), "JPEG", quality=90)
    truncated = payload[:int(len(payload) * cut)]
    stage = dataio.slot("x").decode_image().crop(y=0, x=0, h=20, w=20)  # the region ends long before the cut
    values, errors = run(stage, [{"x": truncated}], "libjpeg", monkeypatch)
    _, reference = run(stage, [{"x": truncated}], "pillow", monkeypatch)
    assert not values and errors == reference and "truncated" in errors[0]["message"]


def test_corrupted_payloads_give_the_pillow_paths_values_and_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    payload = encode(_photo(240, 180), "JPEG", quality=85)
    rng = np.random.default_rng(11)
    damaged = []
    for _ in range(24):
        data = bytearray(payload)
        for at in rng.integers(2, len(data) - 2, size=int(rng.integers(1, 4))):
            data[at] = int(rng.integers(0, 256))
        damaged.append({"x": bytes(data)})
    stage = dataio.slot("x").decode_image().resize_short(96).center_crop(h=64, w=64)
    regional, regional_errors = run(stage, damaged, "libjpeg", monkeypatch)
    reference, reference_errors = run(stage, damaged, "pillow", monkeypatch)
    assert regional_errors == reference_errors
    assert len(regional) == len(reference)
    for got, want in zip(regional, reference, strict=True):
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("stage", [
    lambda: dataio.slot("image").decode_image().resize_short(64).center_crop(h=48, w=48),  # decoded in a transform
    lambda: dataio.slot("image").decode_image(normalize="unit", layout="chw"),  # decoded by the decoder itself
])
def test_deferred_decoding_is_counted_as_decode_time(jpeg_paths: list[str], monkeypatch: pytest.MonkeyPatch,
                                                     stage: Any) -> None:
    real = libjpeg.decode

    def slow(*args: Any) -> Any:
        time.sleep(0.02)
        return real(*args)

    monkeypatch.setattr(libjpeg, "decode", slow)
    monkeypatch.setenv("DATAIO_CPU_KERNELS", "libjpeg")
    pipe = dataio.pipeline(stage(), dataio.batch(4))
    loader = pipe.bind([{"image": p} for p in jpeg_paths]).run("numpy", device="cpu")
    with loader:
        assert sum(len(batch) for batch in loader) == len(jpeg_paths)
        stages = loader.stats()["stages"]
    slept = 0.02 * len(jpeg_paths)
    assert stages["decode"]["seconds"] >= slept > stages["transform"]["seconds"] >= 0.0


@pytest.mark.parametrize("sampling", ["4:2:2", "4:2:0"])
def test_two_pixel_wide_regions_and_the_right_edge(sampling: str) -> None:
    payload = encode(_photo(123, 61), "JPEG", quality=90, subsampling=sampling)
    reference = _pillow_decode(payload, 1, False)
    regions = JpegRegions(libjpeg, payload, 1, False, 123, 61, fallback=_no_fallback)
    for x0 in (0, 1, 15, 16, 17, 60, 119, 120, 121):
        pixels = regions.pixels(x0, 10, x0 + 2, 50)
        np.testing.assert_array_equal(pixels[10:50, x0:x0 + 2], reference[10:50, x0:x0 + 2])


def test_the_extension_refuses_bad_arguments_and_data() -> None:
    payload = encode(_photo(40, 30), "JPEG")
    with pytest.raises(ValueError, match="scale must be 1, 2, 4 or 8"):
        libjpeg.decode(payload, 3, False, 0, 0, 10, 10)
    with pytest.raises(ValueError, match="region is empty"):
        libjpeg.decode(payload, 1, False, 50, 0, 60, 10)
    with pytest.raises(ValueError, match="must be >= 0"):
        libjpeg.decode(payload, 1, False, -1, 0, 10, 10)
    assert np.asarray(libjpeg.decode(payload, 1, False, 0, 0, 2**40, 2**40)).shape == (30, 40, 3)  # clamped
    with pytest.raises(ValueError):
        libjpeg.decode(b"\xff\xd8 not a jpeg", 1, False, 0, 0, 10, 10)
    with pytest.raises(ValueError, match="not a readable JPEG header"):
        libjpeg.header(b"PNG")
    assert libjpeg.header(memoryview(payload)) == (40, 30, "YCbCr")


def test_decoded_pixels_are_a_writable_array_that_outlives_the_payload() -> None:
    payload = bytearray(encode(_photo(64, 48), "JPEG"))
    pixels = np.asarray(libjpeg.decode(payload, 2, False, 0, 0, 16, 24))
    payload[:] = b""  # the payload may go: the pixels are the extension's own memory
    assert pixels.shape == (24, 32, 3) and pixels.flags.writeable and pixels.dtype == np.uint8
    pixels[0, 0] = 7
    assert pixels[0, 0, 0] == 7


def test_decoded_pixels_serve_every_buffer_consumer() -> None:
    import hashlib

    decoded = libjpeg.decode(encode(_photo(40, 30), "JPEG"), 1, False, 0, 0, 40, 30)
    view = memoryview(decoded)
    assert (view.shape, view.format, view.readonly) == ((30, 40, 3), "B", False)
    assert hashlib.sha256(decoded).digest() == hashlib.sha256(np.asarray(decoded).tobytes()).digest()  # a flat request
