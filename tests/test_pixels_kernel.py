"""dataio's pixels extension: the fused HWC uint8 → CHW float32 affine.

Stated contract (cpu_fallback/_pixels.c): out[c, y, x] = pixels[y, x, c] · scale[c] + bias[c]
within 2 ulp of the exact value (1 ulp on the AVX2 + FMA path) — ulps of the terms'
magnitude |x · scale| + |bias|, as for numpy's two passes — for any channel count 1–4 and
any strides; whole pipelines give numpy's values within that.
"""

from __future__ import annotations

import os
import shutil
import sysconfig
from typing import Any

import numpy as np
import pytest

import dataio
from dataio.cpu_fallback import accel

from conftest import run_kernels


def test_the_extension_is_built_where_it_can_be() -> None:
    """CI has a C compiler: the extension must be there, or every test below would skip."""
    compiler = (sysconfig.get_config_var("CC") or "cc").split()[0]
    if shutil.which(compiler) is None or not os.path.exists(os.path.join(sysconfig.get_paths()["include"],
                                                                          "Python.h")):
        pytest.skip("no C compiler or Python headers here: the extension is optional")
    assert accel.is_available("pixels"), accel.BUILD_HINTS["pixels"]


pixels = pytest.importorskip("dataio.cpu_fallback._pixels", reason="dataio's pixels extension is not built")


def _coefficients(channels: int) -> tuple[np.ndarray, np.ndarray]:
    mean = np.array([0.485, 0.456, 0.406, 0.5][:channels])
    std = np.array([0.229, 0.224, 0.225, 0.25][:channels])
    scale = (1.0 / (255.0 * std)).astype(np.float32).reshape(channels, 1, 1)
    bias = (-mean / std).astype(np.float32).reshape(channels, 1, 1)
    return scale, bias


def assert_affine_close(got: np.ndarray, terms: np.ndarray, exact: np.ndarray) -> None:
    """``got`` within 2 float32 ulp of ``exact``, ulps taken at the terms' magnitude ``terms``."""
    tolerance = 2 * np.spacing(terms.astype(np.float32)).astype(np.float64)
    error = np.abs(got.astype(np.float64) - exact)
    assert (error <= tolerance).all(), f"max error {error.max():.3g} beyond {tolerance[error > tolerance].min():.3g}"


def _exact(view: np.ndarray, scale: np.ndarray, bias: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(|x · scale| + |bias|, x · scale + bias) in float64, CHW."""
    product = view.transpose(2, 0, 1).astype(np.float64) * scale.astype(np.float64)
    return np.abs(product) + np.abs(bias.astype(np.float64)), product + bias.astype(np.float64)


def _views(rng: np.random.Generator) -> list[tuple[str, np.ndarray]]:
    rgb = rng.integers(0, 256, size=(67, 91, 3), dtype=np.uint8)
    planar = np.ascontiguousarray(rgb.transpose(2, 0, 1)).transpose(1, 2, 0)  # what torch's CHW output looks like
    return [
        ("interleaved rgb", rgb),
        ("rgb window (row stride > width)", rgb[3:60, 5:77]),
        ("rgb width not a multiple of 8", rgb[:, :29]),
        ("planar rgb", planar),
        ("planar window", planar[2:50, 1:70]),
        ("horizontally flipped", rgb[:, ::-1]),
        ("vertically flipped", rgb[::-1]),
        ("grey", rng.integers(0, 256, size=(40, 33, 1), dtype=np.uint8)),
        ("two channels", rng.integers(0, 256, size=(21, 17, 2), dtype=np.uint8)),
        ("rgba", rng.integers(0, 256, size=(35, 49, 4), dtype=np.uint8)),
        ("one pixel", rgb[:1, :1]),
    ]


@pytest.mark.parametrize("case", range(11))
def test_values_are_within_two_ulp_of_the_exact_affine(case: int) -> None:
    name, view = _views(np.random.default_rng(case))[case]
    scale, bias = _coefficients(view.shape[2])
    out = np.full((view.shape[2], view.shape[0], view.shape[1]), np.nan, dtype=np.float32)
    pixels.affine_to_chw(view, out, scale, bias)
    assert_affine_close(out, *_exact(view, scale, bias))


def test_out_of_place_rows_of_a_batch_buffer_are_written_in_place() -> None:
    rng = np.random.default_rng(5)
    batch = np.zeros((4, 3, 16, 24), dtype=np.float32)
    image = rng.integers(0, 256, size=(16, 24, 3), dtype=np.uint8)
    scale, bias = _coefficients(3)
    pixels.affine_to_chw(image, batch[2], scale, bias)
    assert not batch[[0, 1, 3]].any()
    assert_affine_close(batch[2], *_exact(image, scale, bias))


def test_bad_arguments_are_refused() -> None:
    image = np.zeros((4, 5, 3), dtype=np.uint8)
    scale, bias = _coefficients(3)
    with pytest.raises(ValueError, match="HWC uint8"):
        pixels.affine_to_chw(image.astype(np.float32), np.empty((3, 4, 5), np.float32), scale, bias)
    with pytest.raises(ValueError, match="CHW float32 array matching"):
        pixels.affine_to_chw(image, np.empty((3, 5, 4), np.float64), scale, bias)
    with pytest.raises(ValueError, match="3 float32 values"):
        pixels.affine_to_chw(image, np.empty((3, 4, 5), np.float32), scale[:2], bias)
    with pytest.raises(ValueError, match="not C-contiguous"):
        pixels.affine_to_chw(image, np.empty((3, 4, 5), np.float32)[:, :, ::-1], scale, bias)


def test_layouts_the_kernel_does_not_take_go_to_numpy(monkeypatch: pytest.MonkeyPatch) -> None:
    from dataio.cpu_fallback.pixels import affine_to_chw

    monkeypatch.setenv("DATAIO_CPU_KERNELS", "pixels")
    rng = np.random.default_rng(9)
    five = rng.integers(0, 256, size=(6, 7, 5), dtype=np.uint8)
    scale, bias = np.full((5, 1, 1), 0.5, np.float32), np.full((5, 1, 1), -1.0, np.float32)
    assert_affine_close(affine_to_chw(five, (scale, bias), None), *_exact(five, scale, bias))  # five channels
    rgb = rng.integers(0, 256, size=(6, 7, 3), dtype=np.uint8)
    unaligned = np.empty(3 * 6 * 7 * 4 + 1, np.uint8)[1:].view(np.float32).reshape(3, 6, 7)
    assert not unaligned.flags.aligned
    result = affine_to_chw(rgb, _coefficients(3), unaligned)
    assert result is unaligned
    assert_affine_close(result, *_exact(rgb, *_coefficients(3)))


@pytest.mark.parametrize("stage", [
    lambda: dataio.slot("image").decode_image().resize_short(96).center_crop(h=80, w=80).normalize("imagenet"),
    lambda: dataio.slot("image").decode_image().center_crop(h=64, w=72).hflip(prob=1.0).normalize("clip"),
    lambda: dataio.slot("image").decode_image(normalize="symmetric", layout="chw"),  # the decoder's own
    lambda: dataio.slot("image").decode_image(mode="gray").resize(h=30, w=40).normalize("unit"),
])
def test_pipelines_match_numpys_values(jpeg_paths: list[str], monkeypatch: pytest.MonkeyPatch, stage: Any) -> None:
    records = [{"image": p} for p in jpeg_paths]
    fused, errors = run_kernels(stage(), records, "pixels", monkeypatch)
    reference, _ = run_kernels(stage(), records, "pillow", monkeypatch)
    assert not errors and len(fused) == len(reference) == len(records)
    for got, want in zip(fused, reference, strict=True):
        assert got.dtype == want.dtype == np.float32
        np.testing.assert_allclose(got, want, rtol=0, atol=5e-7)  # both within 2 ulp of values of magnitude <= 2.7
