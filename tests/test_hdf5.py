"""HDF5 through h5py from local files and object stores: keys, selections, metadata, errors."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest

import dataio

h5py = pytest.importorskip("h5py")


def h5_bytes() -> bytes:
    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as f:
        f["x"] = np.arange(24, dtype=np.float32).reshape(4, 6)
        group = f.create_group("g")
        group["y"] = np.arange(5)
        group["y"].attrs["unit"] = "m"
        group["y"].attrs["scale"] = np.array([1.5, 2.0])
    return buffer.getvalue()


def test_read_and_sessions_on_every_store(store: str) -> None:
    uri = f"{store}/data.h5"
    dataio.write(uri, h5_bytes(), mkdir_parents=True)
    np.testing.assert_array_equal(dataio.read_hdf5(uri, key="x"), np.arange(24).reshape(4, 6))
    np.testing.assert_array_equal(dataio.read_hdf5(uri, key="/x", selection=(slice(1, 3), ...)),
                                  np.arange(24).reshape(4, 6)[1:3])
    np.testing.assert_array_equal(dataio.read_hdf5(uri, key="x", selection=(2, slice(0, 6, 2))), [12, 14, 16])
    view = dataio.read_hdf5(uri, key="g/y", copy=False)
    assert not view.flags.writeable
    with dataio.open_hdf5(uri) as session:
        assert session.keys() == ["/g/y", "/x"] and list(session) == ["/g/y", "/x"]
        assert "g/y" in session and "/g/y" in session and "nope" not in session
        assert session.metadata(key="g/y") == {"shape": (5,), "dtype": "int64", "attrs": {"unit": "m",
                                                                                          "scale": [1.5, 2.0]}}
    with pytest.raises(ValueError, match="closed"):
        session.read(key="x")


def test_errors(tmp_path: Path) -> None:
    path = tmp_path / "d.h5"
    path.write_bytes(h5_bytes())
    with pytest.raises(KeyError, match="'/missing'"):
        dataio.read_hdf5(path, key="missing")
    with pytest.raises(FileNotFoundError, match="none.h5"):
        dataio.read_hdf5(tmp_path / "none.h5", key="x")
    with pytest.raises(ValueError, match="positive"):
        dataio.read_hdf5(path, key="x", selection=slice(None, None, -1))
    with pytest.raises(ValueError, match="one '...'"):
        dataio.read_hdf5(path, key="x", selection=(Ellipsis, Ellipsis))
    with pytest.raises(TypeError, match="basic indexing"):
        dataio.read_hdf5(path, key="x", selection=[0, 1])
    (tmp_path / "text.h5").write_text("not hdf5")
    with pytest.raises(ValueError, match="not an HDF5 file"):
        dataio.open_hdf5(tmp_path / "text.h5")
