"""GDS and device reads of safetensors on a GPU (``gpu`` marker; skipped without a CUDA device and DALI).

Run on a lent GPU with kvikio installed: ``python -m pytest -m gpu tests/gpu``. Without the
cuFile driver kvikio runs in compat mode, which these tests accept (the path still ends in
device memory).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import dataio

pytestmark = pytest.mark.gpu


def test_read_safetensors_to_the_device_matches_the_host_read(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    tensors = {"w": np.arange(3 * 1024 + 7, dtype=np.float32), "b": np.arange(5, dtype=np.int16),
               "h": np.ones((3, 5), np.float16)}
    dataio.write_safetensors(tmp_path / "m.safetensors", tensors)
    device = dataio.read_safetensors(tmp_path / "m.safetensors", framework="torch", device="cuda:0")
    for name, array in tensors.items():
        assert device[name].is_cuda and device[name].dtype == torch.from_numpy(array).dtype
        np.testing.assert_array_equal(device[name].cpu().numpy(), array)
    size = (tmp_path / "m.safetensors").stat().st_size
    assert size % 4096 != 0  # the last tensor's aligned span runs past the end: the read is cut there


def test_gds_read_into_tensor(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    if not dataio.gds_available():
        pytest.skip(f"no GDS here: {dataio.gds_info()['driver_error']}")
    payload = np.random.default_rng(0).integers(0, 256, 8192, dtype=np.uint8)
    (tmp_path / "raw.bin").write_bytes(payload.tobytes())
    target = torch.empty(4096, dtype=torch.uint8, device="cuda:0")
    assert dataio.gds_read_into_tensor(tmp_path / "raw.bin", target, file_offset=4096) == 4096
    np.testing.assert_array_equal(target.cpu().numpy(), payload[4096:])
    buffer = dataio.gds_register_buffer(target.data_ptr(), 4096)
    with dataio.gds_open(tmp_path / "raw.bin") as handle:
        assert handle.read(buffer, 4096, file_offset=0) == 4096
    buffer.close()
    np.testing.assert_array_equal(target.cpu().numpy(), payload[:4096])
    with dataio.gds_open(tmp_path / "raw.bin") as handle, dataio.gds_register_buffer(target.data_ptr(), 4096) as buf:
        statuses = handle.read_batch(buf, [(2048, 0, 0), (2048, 6144, 2048)]) if dataio.gds_info()["batch_ready"] \
            else [(2048, 0), (2048, 0)]
    assert statuses == [(2048, 0), (2048, 0)]
