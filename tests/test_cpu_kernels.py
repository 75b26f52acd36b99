"""The optional CPU kernels (libjpeg / simplejpeg decode, torch resize) against the Pillow reference.

Stated tolerances (cpu_fallback/accel.py): both JPEG kernels' pixels equal Pillow's exactly;
torch's resize is within 0.05 levels (of 255) of Pillow's on average over a set, 0.3 on
any one image, and no pixel differs by more than 8 levels (torch's int16 filter weights
at large downscale factors; measured ≤ 6).
"""

from __future__ import annotations

import io
import threading
from typing import Any

import numpy as np
import pytest
from PIL import Image

import dataio
from dataio._errors import BackendUnavailable
from dataio.cpu_fallback import accel
from dataio.formats.image_header import jpeg_orientation, orientation

from conftest import encode, run_kernels as run

pytest.importorskip("simplejpeg")
pytest.importorskip("torch")

JPEG_KERNELS = ["simplejpeg", pytest.param("libjpeg", marks=pytest.mark.skipif(
    not accel.is_available("libjpeg"),
    reason="dataio's libjpeg extension is not built (tests/test_jpeg_regions.py says when it must be)"))]
"""The JPEG kernels every decode test runs with; each must give Pillow's pixels and errors."""


def npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


def levels(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.abs(a.astype(np.int32) - b.astype(np.int32))


@pytest.mark.parametrize("chain", [
    lambda s: s,
    lambda s: s.resize_short(128),  # 1/2, 1/4 DCT scales on the 300-1200 px set
    lambda s: s.resize(h=40, w=40),  # 1/8
])
@pytest.mark.parametrize("kernel", JPEG_KERNELS)
def test_jpeg_kernel_pixels_equal_pillows(jpeg_paths: list[str], monkeypatch: pytest.MonkeyPatch,
                                          chain: Any, kernel: str) -> None:
    records = [{"image": p} for p in jpeg_paths]
    stage = chain(dataio.slot("image").decode_image())
    fast, _ = run(stage, records, kernel, monkeypatch)
    reference, _ = run(stage, records, "pillow", monkeypatch)
    assert len(fast) == len(reference) == len(records)
    for got, want in zip(fast, reference, strict=True):
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("turn", range(1, 9))
@pytest.mark.parametrize("order", ["<", ">"])
@pytest.mark.parametrize("kernel", JPEG_KERNELS)
def test_exif_orientation_from_markers_matches_pillow(rgb_image: Image.Image, monkeypatch: pytest.MonkeyPatch,
                                                       turn: int, order: str, kernel: str) -> None:
    exif = Image.Exif()
    exif[0x0112] = turn
    exif[0x010F] = "camera"
    block = exif.tobytes() if order == "<" else _big_endian_exif(turn)
    payload = encode(rgb_image, "JPEG", quality=92, exif=block)
    with Image.open(io.BytesIO(payload)) as image:
        assert jpeg_orientation(payload) == orientation(image) == turn
    for stage in (dataio.slot("x").decode_image(), dataio.slot("x").decode_image().center_crop(h=40, w=60)):
        fast, _ = run(stage, [{"x": payload}], kernel, monkeypatch)
        reference, _ = run(stage, [{"x": payload}], "pillow", monkeypatch)
        np.testing.assert_array_equal(fast[0], reference[0])


def _big_endian_exif(turn: int) -> bytes:
    """A minimal big-endian TIFF block with IFD0 holding only the orientation (SHORT)."""
    entry = (0x0112).to_bytes(2, "big") + (3).to_bytes(2, "big") + (1).to_bytes(4, "big")
    entry += turn.to_bytes(2, "big") + b"\x00\x00"
    return b"Exif\x00\x00MM\x00\x2a" + (8).to_bytes(4, "big") + (1).to_bytes(2, "big") + entry + b"\x00" * 4


def test_malformed_markers_leave_the_orientation_to_pillow() -> None:
    assert jpeg_orientation(b"\xff\xd8\xff\xe1\x00") is None  # a segment cut short
    assert jpeg_orientation(b"\x89PNG\r\n") is None
    assert jpeg_orientation(b"\xff\xd8\xff\xe1\x00\x10Exif\x00\x00XX\x00\x2a\x00\x00") is None  # bad TIFF order


@pytest.mark.parametrize("mode", ["L", "CMYK"])
@pytest.mark.parametrize("kernel", JPEG_KERNELS)
def test_grey_and_cmyk_jpegs_decode_like_pillow(rgb_image: Image.Image, monkeypatch: pytest.MonkeyPatch,
                                                mode: str, kernel: str) -> None:
    payload = encode(rgb_image.convert(mode), "JPEG", quality=90)
    for decoder_mode in ("rgb", "gray"):
        stage = dataio.slot("x").decode_image(mode=decoder_mode)
        fast, _ = run(stage, [{"x": payload}], kernel, monkeypatch)
        reference, _ = run(stage, [{"x": payload}], "pillow", monkeypatch)
        np.testing.assert_array_equal(fast[0], reference[0])


@pytest.mark.parametrize("kernel", JPEG_KERNELS)
def test_corrupt_jpeg_fails_with_pillows_wording(rgb_image: Image.Image, monkeypatch: pytest.MonkeyPatch,
                                                 kernel: str) -> None:
    payload = encode(rgb_image, "JPEG")
    broken = payload[:200] + b"\x00" * 50
    _, fast = run(dataio.slot("x").decode_image(), [{"x": broken}], kernel, monkeypatch)
    _, reference = run(dataio.slot("x").decode_image(), [{"x": broken}], "pillow", monkeypatch)
    assert [e["message"] for e in fast] == [e["message"] for e in reference] and fast


@pytest.mark.parametrize("kernel", JPEG_KERNELS)
def test_caps_are_enforced_before_a_jpeg_kernel_decodes(rgb_image: Image.Image, monkeypatch: pytest.MonkeyPatch,
                                                        kernel: str) -> None:
    payload = encode(rgb_image, "JPEG")
    _, errors = run(dataio.slot("x").decode_image(max_pixels=1000), [{"x": payload}], kernel, monkeypatch)
    assert errors and "max_pixels=1000" in errors[0]["message"]


@pytest.mark.parametrize("chain", [
    lambda s: s.resize_short(256).center_crop(h=224, w=224),
    lambda s: s.resize(h=100, w=150),
    lambda s: s.resize(h=100, w=150, interp="bilinear"),
    lambda s: s.fit_to_bucket(h=64, w=96),
    lambda s: s.random_resized_crop(h=64, w=48),
    lambda s: s.center_crop(h=200, w=120).resize(h=50, w=40),
    lambda s: s.resize_long(1400),  # enlarging
])
def test_torch_resize_is_within_the_stated_tolerance_of_pillow(jpeg_paths: list[str],
                                                               monkeypatch: pytest.MonkeyPatch, chain: Any) -> None:
    records = [{"image": p} for p in jpeg_paths]
    stage = chain(dataio.slot("image").decode_image())
    fast, _ = run(stage, records, "torch", monkeypatch, seed=5)
    reference, _ = run(stage, records, "pillow", monkeypatch, seed=5)
    per_image = [levels(a, b) for a, b in zip(fast, reference, strict=True)]
    assert np.mean([d.mean() for d in per_image]) <= 0.05
    assert max(d.mean() for d in per_image) <= 0.3
    assert max(int(d.max()) for d in per_image) <= 8


@pytest.mark.parametrize("channels", [1, 2, 3, 4])
def test_torch_resize_handles_every_channel_count(monkeypatch: pytest.MonkeyPatch, channels: int) -> None:
    rng = np.random.default_rng(channels)
    pixels = rng.integers(0, 256, size=(90, 130, channels), dtype=np.uint8)
    stage = dataio.slot("x").decode_npy().resize(h=37, w=51)
    fast, _ = run(stage, [{"x": npy(pixels)}], "torch", monkeypatch)
    reference, _ = run(stage, [{"x": npy(pixels)}], "pillow", monkeypatch)
    assert fast[0].shape == reference[0].shape == (37, 51, channels)
    assert levels(fast[0], reference[0]).max() <= 4


def test_flipped_and_read_only_inputs_are_resized(monkeypatch: pytest.MonkeyPatch) -> None:
    pixels = np.random.default_rng(1).integers(0, 256, size=(60, 80, 3), dtype=np.uint8)
    stage = dataio.slot("x").decode_npy().hflip(prob=1.0).resize(h=30, w=40)  # npy arrays are read-only views
    fast, errors = run(stage, [{"x": npy(pixels)}], "torch", monkeypatch)
    reference, _ = run(stage, [{"x": npy(pixels)}], "pillow", monkeypatch)
    assert not errors and levels(fast[0], reference[0]).max() <= 4


def test_pool_threads_do_not_change_torchs_thread_count(jpeg_paths: list[str],
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    import torch

    before = torch.get_num_threads()
    seen: list[int] = []
    thread = threading.Thread(target=lambda: seen.append(torch.get_num_threads()))
    run(dataio.slot("image").decode_image().resize_short(64), [{"image": p} for p in jpeg_paths], "auto",
        monkeypatch)
    thread.start()
    thread.join()
    assert torch.get_num_threads() == before and seen == [before]


def test_kernel_selection_is_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATAIO_CPU_KERNELS", "pillow")
    assert accel.selection().names == ()
    monkeypatch.setenv("DATAIO_CPU_KERNELS", "simplejpeg")
    assert accel.selection().names == ("simplejpeg",)
    monkeypatch.setenv("DATAIO_CPU_KERNELS", "simplejpeg , torch")
    assert accel.selection().names == ("simplejpeg", "torch")
    available = tuple(name for name in accel.LIBRARIES if accel.is_available(name))
    assert {"simplejpeg", "torch"} <= set(available)
    if "libjpeg" in available:  # it supersedes simplejpeg
        available = tuple(name for name in available if name != "simplejpeg")
        monkeypatch.setenv("DATAIO_CPU_KERNELS", "libjpeg,simplejpeg")
        assert accel.selection().names == ("libjpeg",)
    monkeypatch.setenv("DATAIO_CPU_KERNELS", "auto")
    assert accel.selection().names == available
    monkeypatch.setenv("DATAIO_CPU_KERNELS", "simplejpeg,opencv")
    with pytest.warns(RuntimeWarning, match="unknown kernel library opencv.*using 'auto'"):
        assert accel.selection().names == available


def test_a_named_kernel_that_is_missing_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib

    real = importlib.import_module

    def without_simplejpeg(name: str, *args: Any) -> Any:
        if name == "simplejpeg":
            raise ImportError("No module named 'simplejpeg'")
        return real(name, *args)

    monkeypatch.setattr(importlib, "import_module", without_simplejpeg)
    monkeypatch.setattr(accel, "_selections", {})
    monkeypatch.setenv("DATAIO_CPU_KERNELS", "simplejpeg")
    with pytest.raises(BackendUnavailable, match=r"dataio-gpu\[fast\]"):
        accel.selection()


def test_only_pool_threads_run_torch_single_threaded() -> None:
    import torch

    from dataio.runtime.pools import cpu_pool

    def threads_after_setup() -> int:
        accel.torch_in_this_thread(torch)
        return torch.get_num_threads()

    default = torch.get_num_threads()
    assert cpu_pool().submit(threads_after_setup).result() == 1
    seen: list[int] = []
    other = threading.Thread(target=lambda: seen.append(threads_after_setup()), name="user-thread")
    other.start()
    other.join()
    assert seen == [default] and torch.get_num_threads() == default


@pytest.mark.parametrize("limit", [None, 100])
@pytest.mark.parametrize("kernel", JPEG_KERNELS)
def test_pillows_decompression_bomb_setting_is_honoured(rgb_image: Image.Image, monkeypatch: pytest.MonkeyPatch,
                                                        limit: int | None, kernel: str) -> None:
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", limit)
    payload = encode(rgb_image, "JPEG")
    fast, fast_errors = run(dataio.slot("x").decode_image(), [{"x": payload}], kernel, monkeypatch)
    reference, errors = run(dataio.slot("x").decode_image(), [{"x": payload}], "pillow", monkeypatch)
    assert [e["message"] for e in fast_errors] == [e["message"] for e in errors]
    assert len(fast) == len(reference) and all(np.array_equal(a, b) for a, b in zip(fast, reference, strict=True))
    assert bool(errors) == (limit is not None)  # 97x131 is more than twice 100 pixels: Pillow refuses it


def test_a_missing_named_kernel_fails_run_not_the_rows(jpeg_paths: list[str],
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(accel, "_selections", {})
    monkeypatch.setattr(accel, "LIBRARIES", (*accel.LIBRARIES, "no_such_kernel_library"))
    monkeypatch.setenv("DATAIO_CPU_KERNELS", "no_such_kernel_library")
    pipe = dataio.pipeline(dataio.slot("image").decode_image().resize_short(64), dataio.batch(2))
    with pytest.raises(BackendUnavailable, match="no_such_kernel_library"):
        pipe.bind([{"image": p} for p in jpeg_paths]).run("numpy", device="cpu")


@pytest.mark.parametrize("kernels", ["pillow", *JPEG_KERNELS])
def test_small_jpegs_drafted_at_one_eighth_keep_their_geometry(monkeypatch: pytest.MonkeyPatch, kernels: str) -> None:
    from dataio._synthetic import synthetic_image

    payload = encode(synthetic_image(np.random.default_rng(1), 52, 52), "JPEG")  # 1/8 scale decodes 7 px
    values, errors = run(dataio.slot("x").decode_image().resize(h=4, w=4), [{"x": payload}], kernels, monkeypatch)
    with Image.open(io.BytesIO(payload)) as source:
        full = np.asarray(source.convert("RGB").resize((4, 4), Image.Resampling.BICUBIC))
    # a 4x4 output of a 1/8 draft is coarser than the set-level tolerance; a misplaced box failed the row
    assert not errors and values[0].shape == (4, 4, 3) and levels(values[0], full).mean() <= 4.0


@pytest.mark.filterwarnings("ignore:Metadata Warning:UserWarning")  # Pillow on the malformed tag
@pytest.mark.parametrize("case", ["xmp only", "exif without the tag, and xmp", "short with count 3", "bad magic"])
@pytest.mark.parametrize("kernel", JPEG_KERNELS)
def test_orientation_sources_pillow_reads_differently_are_left_to_pillow(monkeypatch: pytest.MonkeyPatch,
                                                                        case: str, kernel: str) -> None:
    image = Image.fromarray(np.random.default_rng(2).integers(0, 256, size=(16, 24, 3), dtype=np.uint8))
    xmp = (b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
           b'<rdf:Description xmlns:tiff="http://ns.adobe.com/tiff/1.0/" tiff:Orientation="6"/></rdf:RDF></x:xmpmeta>')
    exif = Image.Exif()
    exif[0x010F] = "camera"
    options: dict[str, Any] = {"xmp only": {"xmp": xmp},
                               "exif without the tag, and xmp": {"xmp": xmp, "exif": exif.tobytes()}}.get(case, {})
    if case == "short with count 3":
        entry = (0x0112).to_bytes(2, "big") + (3).to_bytes(2, "big") + (3).to_bytes(4, "big") + (26).to_bytes(4, "big")
        options = {"exif": b"Exif\x00\x00MM\x00\x2a" + (8).to_bytes(4, "big") + (1).to_bytes(2, "big") + entry
                   + b"\x00" * 4 + b"\x00\x06\x00\x06\x00\x06"}
    if case == "bad magic":
        options = {"exif": _big_endian_exif(6).replace(b"MM\x00\x2a", b"MM\x00\x00")}
    payload = encode(image, "JPEG", quality=95, **options)
    assert jpeg_orientation(payload) is None
    fast, _ = run(dataio.slot("x").decode_image(), [{"x": payload}], kernel, monkeypatch)
    reference, _ = run(dataio.slot("x").decode_image(), [{"x": payload}], "pillow", monkeypatch)
    np.testing.assert_array_equal(fast[0], reference[0])


@pytest.mark.parametrize("mode", ["bilinear", "bicubic"])
@pytest.mark.parametrize("channels", [1, 3, 4])
def test_channels_last_resampling_equals_interpolate(mode: str, channels: int) -> None:
    import torch

    from dataio.cpu_fallback.torch_resize import _resample

    rng = np.random.default_rng(channels)
    source = torch.from_numpy(rng.integers(0, 256, size=(157, 203, channels), dtype=np.uint8)).permute(2, 0, 1)[None]
    factor = 1 / 1.4648
    for size, scales in (((61, 80), (None, None)), ((int(157 * factor), int(203 * factor)), (factor, factor)),
                         ((300, 400), (None, None))):
        got = torch.empty((1, *size, channels), dtype=torch.uint8).permute(0, 3, 1, 2)
        assert _resample(torch, mode, source, got, scales).data_ptr() == got.data_ptr()
        if scales[0] is None:
            want = torch.nn.functional.interpolate(source, size=size, mode=mode, antialias=True, align_corners=False)
        else:
            want = torch.nn.functional.interpolate(source, scale_factor=scales, mode=mode, antialias=True,
                                                   align_corners=False, recompute_scale_factor=False)
        assert got.is_contiguous(memory_format=torch.channels_last) and torch.equal(got, want)
