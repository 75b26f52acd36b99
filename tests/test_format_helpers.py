"""read_numpy and read_image from paths, URIs, bytes and file objects."""

from __future__ import annotations

import io
import mmap
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import dataio


def npy_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


def test_read_numpy_from_every_kind_of_source(tmp_path: Path, store: str) -> None:
    arrays = {"c": np.arange(12, dtype=np.float32).reshape(3, 4), "f": np.asfortranarray(np.arange(6).reshape(2, 3)),
              "be": np.arange(5, dtype=">i4")}
    for name, array in arrays.items():
        dataio.write(f"{store}/{name}.npy", npy_bytes(array), mkdir_parents=True)
        got = dataio.read_numpy(f"{store}/{name}.npy")
        np.testing.assert_array_equal(got, array)
        assert got.ndim < 2 or got.flags.f_contiguous == (name == "f")
    local = tmp_path / "m.npy"
    local.write_bytes(npy_bytes(arrays["c"]))
    mapped = dataio.read_numpy(local)
    assert isinstance(mapped.base.obj if isinstance(mapped.base, memoryview) else mapped.base, (mmap.mmap,
                                                                                                np.ndarray))
    mapped[0, 0] = 99  # copy-on-write: the file keeps its values
    assert dataio.read_numpy(local)[0, 0] == 0
    np.testing.assert_array_equal(dataio.read_numpy(npy_bytes(arrays["be"])), arrays["be"])
    with open(local, "rb") as f:
        np.testing.assert_array_equal(dataio.read_numpy(f), arrays["c"])
    listed = dataio.read_numpy([f"{store}/c.npy", f"{store}/be.npy"])
    np.testing.assert_array_equal(listed[1], arrays["be"])
    buffer = io.BytesIO()
    np.savez(buffer, a=np.ones(2), b=np.zeros(3))
    npz = dataio.read_numpy(buffer.getvalue())
    assert set(npz) == {"a", "b"} and npz["b"].shape == (3,)


def test_read_numpy_errors(tmp_path: Path) -> None:
    good = npy_bytes(np.arange(10))
    with pytest.raises(dataio.DecodeError, match="magic"):
        dataio.read_numpy(b"not numpy at all")
    (tmp_path / "cut.npy").write_bytes(good[:-8])
    with pytest.raises(dataio.DecodeError, match="cut.npy.*truncated"):
        dataio.read_numpy(tmp_path / "cut.npy")
    with pytest.raises(ValueError, match="pickles"):
        dataio.read_numpy(npy_bytes(np.array([{"a": 1}], dtype=object)))
    with pytest.raises(FileNotFoundError):
        dataio.read_numpy(tmp_path / "none.npy")
    with pytest.raises(ValueError, match="framework"):
        dataio.read_numpy(good, framework="jax")


def test_read_image_matches_the_pipeline_decoder(tmp_path: Path, rgb_image: Image.Image, store: str) -> None:
    path = tmp_path / "i.png"
    rgb_image.save(path)
    dataio.write(f"{store}/i.png", path.read_bytes(), mkdir_parents=True)
    hwc = dataio.read_image(f"{store}/i.png")
    np.testing.assert_array_equal(hwc, np.asarray(rgb_image))
    assert dataio.read_image(path.read_bytes(), layout="chw").shape == (3, 97, 131)
    assert dataio.read_image(path, mode="gray").shape == (97, 131, 1)
    assert dataio.read_image(path, mode="rgba")[..., 3].min() == 255
    with pytest.raises(dataio.DecodeError, match="broken.png"):
        (tmp_path / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")
        dataio.read_image(tmp_path / "broken.png")
    with pytest.raises(ValueError, match="layout"):
        dataio.read_image(path, layout="nhwc")
    torch = pytest.importorskip("torch")
    assert dataio.read_image(path, framework="torch").dtype == torch.uint8


def test_files_other_software_wrote_wrong_fail_as_decode_errors(tmp_path: Path) -> None:
    """A truncated HDF5 file (h5py wrote it) and an object-dtype array (numpy wrote it, .npy or .npz): a
    DecodeError naming the file, not a plan mistake."""
    h5py = pytest.importorskip("h5py")
    whole = tmp_path / "whole.h5"
    with h5py.File(whole, "w") as file:
        file["x"] = np.arange(1000)
    truncated = tmp_path / "truncated.h5"
    truncated.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    with pytest.raises(dataio.DecodeError, match="truncated.h5: not an HDF5 file"):
        dataio.read_hdf5(str(truncated), key="x")
    objects = np.array([{"a": 1}], dtype=object)
    np.save(tmp_path / "objects.npy", objects, allow_pickle=True)
    np.savez(tmp_path / "objects.npz", a=objects)
    for name in ("objects.npy", "objects.npz"):
        with pytest.raises(dataio.DecodeError, match=f"{name}.*holds Python objects"):
            dataio.read_numpy(tmp_path / name)
